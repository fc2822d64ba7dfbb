"""The hbbacktest command line, driven through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from hbbacktest import __version__
from hbbacktest.cli.main import app
from hbbacktest.controllers import ControllerRegistry

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC


def invoke(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, list(args))


def assert_clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit) or (code == 0 and result.exception is None)
    assert "Traceback" not in result.output


def write_candles(path: Path, n: int = 240) -> Path:
    rng = np.random.default_rng(1)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]])
    pd.DataFrame(
        {
            "timestamp": (T0 + 60 * np.arange(n)) * 1000,
            "open": open_,
            "high": np.maximum(open_, close) * 1.001,
            "low": np.minimum(open_, close) * 0.999,
            "close": close,
            "volume": np.ones(n),
        }
    ).to_csv(path, index=False)
    return path


# --- run --------------------------------------------------------------------------------------


def test_run_demo_without_config_writes_json(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "res" / "result.json"
    result = invoke(
        runner,
        "run",
        "--start",
        "2024-01-08",
        "--end",
        "2024-01-09",
        "--output",
        str(out),
        "--data-dir",
        str(tmp_path / "data"),
    )
    assert_clean_exit(result, 0)
    document = json.loads(out.read_text())
    assert document["request"]["start"] == 1_704_672_000
    assert document["request"]["end"] == 1_704_758_400
    assert document["request"]["config"]["controller_name"] == "pmm_simple"
    assert document["results"]["total_executors"] == len(document["executors"])
    assert "pmm_simple on demo BTC-USDT" in result.stdout
    assert "net_pnl_quote" in result.stdout
    assert f"result written to {out}" in result.stdout
    assert not (tmp_path / "out").exists()


def test_run_output_to_stdout(runner: CliRunner) -> None:
    result = invoke(
        runner, "run", "--start", "2024-01-08", "--end", "2024-01-08T06:00", "--output", "-"
    )
    assert_clean_exit(result, 0)
    document = json.loads(result.stdout)
    assert document["request"]["end"] == 1_704_672_000 + 6 * 3600
    assert "pmm_simple on demo" in result.stderr


def test_run_config_file_on_stored_candles(runner: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    csv = write_candles(tmp_path / "c.csv")
    imported = invoke(
        runner,
        "data",
        "import",
        str(csv),
        "--connector",
        "binance",
        "--pair",
        "ETH-USDT",
        "--interval",
        "1m",
        "--data-dir",
        str(data_dir),
    )
    assert_clean_exit(imported, 0)
    config = tmp_path / "bot.yml"
    config.write_text(
        "controller_name: pmm_simple\n"
        "connector_name: binance\n"
        "trading_pair: ETH-USDT\n"
        "buy_spreads: 0.001,0.002\n"
        "sell_spreads: '0.001'\n"
        "skip_rebalance: true\n"
        "extra_key: 1\n"
    )
    out = tmp_path / "r.json"
    result = invoke(runner, "run", str(config), "--output", str(out), "--data-dir", str(data_dir))
    assert_clean_exit(result, 0)
    document = json.loads(out.read_text())
    # without --start/--end the whole stored window is used
    assert document["request"]["start"] == T0
    assert document["request"]["end"] == T0 + 239 * 60
    assert "candle store" in document["data_source"]
    assert any("extra_key" in w for w in document["warnings"])
    assert "warning: config key 'extra_key'" in result.stdout


@pytest.mark.parametrize(
    "text, expected",
    [
        ("controller_name: pmm_simpel\n", "did you mean 'pmm_simple'"),
        ("controller_name: [unclosed\n", "not valid YAML"),
        (
            "controller_name: pmm_simple\nstop_loss: -1\n",
            "stop_loss = -1: Input should be greater than 0",
        ),
        (
            "controller_name: pmm_simple\nbuy_spreads: 0.01,0.02\nbuy_amounts_pct: 1,2,3\n",
            "buy_amounts_pct",
        ),
        ("- a\n- b\n", "expected a mapping of config fields, got list"),
        ("connector_name: demo\n", "controller_name is missing"),
    ],
    ids=["unknown-controller", "invalid-yaml", "invalid-field", "amounts", "list", "no-name"],
)
def test_bad_config_exits_2_without_traceback(
    runner: CliRunner, tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "bad.yml"
    config.write_text(text)
    result = invoke(
        runner,
        "run",
        str(config),
        "--output",
        str(tmp_path / "r.json"),
        "--data-dir",
        str(tmp_path),
    )
    assert_clean_exit(result, 2)
    assert result.stderr.startswith("error: ")
    assert expected in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_bad_json_config_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text('{"controller_name": "pmm_simple",')
    result = invoke(runner, "run", str(config), "--output", "-")
    assert_clean_exit(result, 2)
    assert "not valid JSON" in result.stderr


def test_missing_config_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "run", str(tmp_path / "nope.yml"), "--output", "-")
    assert_clean_exit(result, 2)
    assert "cannot read config file" in result.stderr


@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--fill-model", "perfect", "--fill-model = 'perfect'"),
        ("--resolution", "1x", "invalid interval '1x'"),
        ("--trade-cost", "0.5", "--trade-cost = 0.5"),
        ("--start", "someday", "cannot read 'someday'"),
    ],
)
def test_bad_run_options_exit_2(runner: CliRunner, option: str, value: str, expected: str) -> None:
    args = ["run", "--start", "2024-01-08", "--end", "2024-01-09", "--output", "-"]
    args += [option, value]
    result = invoke(runner, *args)
    assert_clean_exit(result, 2)
    assert expected in result.stderr


def test_start_after_end_exits_2(runner: CliRunner) -> None:
    result = invoke(runner, "run", "--start", "2024-01-09", "--end", "2024-01-08", "--output", "-")
    assert_clean_exit(result, 2)
    assert "must be before end" in result.stderr


def test_window_outside_demo_data_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    result = invoke(
        runner, "run", "--start", "2023-01-01", "--end", "2023-01-02", "--output", str(out)
    )
    assert_clean_exit(result, 3)
    assert "demo connector" in result.stderr
    assert "lies outside it" in result.stderr
    assert not out.exists()


def test_window_outside_stored_data_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    csv = write_candles(tmp_path / "c.csv", n=30)
    assert_clean_exit(
        invoke(
            runner,
            "data",
            "import",
            str(csv),
            "--connector",
            "binance",
            "--pair",
            "ETH-USDT",
            "--interval",
            "1m",
            "--data-dir",
            str(data_dir),
        ),
        0,
    )
    config = tmp_path / "bot.yml"
    config.write_text(
        "controller_name: pmm_simple\nconnector_name: binance\ntrading_pair: ETH-USDT\n"
    )
    result = invoke(
        runner,
        "run",
        str(config),
        "--start",
        "2024-02-01",
        "--end",
        "2024-02-02",
        "--output",
        "-",
        "--data-dir",
        str(data_dir),
    )
    assert_clean_exit(result, 3)
    # Offline (as every test runs), the hole is named with the command that fetches it.
    assert "offline: the cache lacks binance ETH-USDT 1m candles for 2024-02-01" in result.stderr
    assert (
        "hbbacktest data fetch --connector binance --pair ETH-USDT --interval 1m "
        "--start 2024-02-01T00:00:00Z --end 2024-02-02T00:00:00Z" in result.stderr
    )


def test_nothing_stored_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "bot.yml"
    config.write_text("controller_name: pmm_simple\nconnector_name: okx\ntrading_pair: ETH-USDT\n")
    result = invoke(
        runner, "run", str(config), "--output", "-", "--data-dir", str(tmp_path / "empty")
    )
    assert_clean_exit(result, 3)
    assert "nothing is stored" in result.stderr


# --- data ---------------------------------------------------------------------------------------


def test_data_import_then_list(runner: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    empty = invoke(runner, "data", "list", "--data-dir", str(data_dir))
    assert_clean_exit(empty, 0)
    assert f"no candles in {data_dir}" in empty.stdout

    csv = write_candles(tmp_path / "c.csv", n=120)
    imported = invoke(
        runner,
        "data",
        "import",
        str(csv),
        "--connector",
        "binance",
        "--pair",
        "btc-usdt",
        "--interval",
        "1m",
        "--data-dir",
        str(data_dir),
    )
    assert_clean_exit(imported, 0)
    stored = data_dir / "candles" / "binance" / "BTC-USDT_1m.parquet"
    assert stored.is_file()
    assert f"{stored}: 120 candles" in imported.stdout
    assert "2024-01-01 00:00:00 – 2024-01-01 01:59:00 UTC" in imported.stdout

    listed = invoke(runner, "data", "list", "--data-dir", str(data_dir))
    assert_clean_exit(listed, 0)
    (line,) = listed.stdout.strip().splitlines()
    words = line.split()
    assert words[:10] == [
        "binance",
        "BTC-USDT",
        "1m",
        "2024-01-01",
        "00:00:00",
        "→",
        "2024-01-01",
        "01:59:00",
        "120",
        "rows",
    ]
    assert words[11:] == ["kB", "gaps:", "none"]


def test_data_dir_from_environment(runner: CliRunner, tmp_path: Path) -> None:
    csv = write_candles(tmp_path / "c.csv", n=10)
    result = invoke(
        runner, "data", "import", str(csv), "--connector", "x", "--pair", "A-B", "--interval", "1m"
    )
    assert_clean_exit(result, 0)
    assert (tmp_path / "env-data" / "candles" / "x" / "A-B_1m.parquet").is_file()


def test_data_import_of_bad_candles_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("timestamp,open,high,low,close\n0,1,2,1,1\n0,1,2,1,1\n")
    result = invoke(
        runner,
        "data",
        "import",
        str(csv),
        "--connector",
        "x",
        "--pair",
        "A-B",
        "--interval",
        "1m",
        "--data-dir",
        str(tmp_path / "d"),
    )
    assert_clean_exit(result, 3)
    assert "duplicate timestamps" in result.stderr


def test_data_import_misaligned_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    csv = write_candles(tmp_path / "c.csv", n=10)
    result = invoke(
        runner,
        "data",
        "import",
        str(csv),
        "--connector",
        "x",
        "--pair",
        "A-B",
        "--interval",
        "5m",
        "--data-dir",
        str(tmp_path / "d"),
    )
    assert_clean_exit(result, 3)
    assert "not multiples of 5m" in result.stderr


# --- misc -------------------------------------------------------------------------------------


def test_controllers_list(runner: CliRunner) -> None:
    result = invoke(runner, "controllers", "list")
    assert_clean_exit(result, 0)
    rows = [line.split() for line in result.stdout.strip().splitlines()]
    assert ["market_making", "pmm_simple", "builtin"] in rows
    assert rows == [[*pair, "builtin"] for pair in ControllerRegistry().describe()]


def test_controllers_list_with_a_controllers_dir(runner: CliRunner) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    result = invoke(
        runner,
        "controllers",
        "list",
        "--controllers-dir",
        str(fixtures / "hummingbot_controllers"),
        "--controllers-dir",
        str(fixtures / "broken_controllers"),
    )
    assert_clean_exit(result, 0)
    lines = result.stdout.splitlines()
    assert any("pmm_simple_hb" in line and line.endswith("pmm_simple_hb.py") for line in lines)
    broken = [line for line in lines if line.startswith("BROKEN")]
    assert any("import_fails" in line and "boom at import" in line for line in broken)


def test_run_a_hummingbot_controller_file(runner: CliRunner, tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    config = tmp_path / "hb.yml"
    config.write_text(
        "controller_name: pmm_simple_hb\nconnector_name: demo\ntrading_pair: BTC-USDT\n"
        "buy_spreads: 0.002\nsell_spreads: 0.002\nskip_rebalance: true\n"
    )
    result = invoke(
        runner,
        "run",
        str(config),
        "--start",
        "2024-01-08",
        "--end",
        "2024-01-09",
        "--controllers-dir",
        str(fixtures / "hummingbot_controllers"),
        "--output",
        str(tmp_path / "out.json"),
    )
    assert_clean_exit(result, 0)
    document = json.loads((tmp_path / "out.json").read_text())
    assert document["results"]["total_executors"] > 0


def test_version(runner: CliRunner) -> None:
    result = invoke(runner, "version")
    assert_clean_exit(result, 0)
    assert result.stdout.strip() == __version__


def test_no_args_shows_help(runner: CliRunner) -> None:
    result = invoke(runner)
    assert "run" in result.output
    assert "data" in result.output
