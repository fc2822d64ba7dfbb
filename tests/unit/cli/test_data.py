"""``hbbacktest data import`` / ``data list`` through Typer's CliRunner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from hbbacktest.cli.main import app
from tests.kit.files import T0, candles_csv


def data(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(app, ["data", *args])


def do_import(
    runner: CliRunner, file: Path, pair: str = "BTC-USDT", interval: str = "1m", *extra: str
) -> Result:
    return data(
        runner,
        "import",
        str(file),
        "--connector",
        "binance",
        "--pair",
        pair,
        "--interval",
        interval,
        "--data-dir",
        "store",
        *extra,
    )


def assert_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit) or (code == 0 and result.exception is None)


def test_import_prints_the_report_with_the_absolute_path(runner: CliRunner, tmp_path: Path) -> None:
    result = do_import(runner, candles_csv(tmp_path / "c.csv", 120))
    assert_exit(result, 0)
    stored = tmp_path / "store" / "candles" / "binance" / "BTC-USDT_1m.parquet"
    assert result.stdout.splitlines() == [
        f"{stored}: 120 candles, 2024-01-01 00:00:00 – 2024-01-01 01:59:00 UTC",
        f"  from {tmp_path / 'c.csv'}: 120 read, 120 new, 0 replaced",
        "  gaps: none",
    ]


def test_import_reports_gaps_and_merges(runner: CliRunner, tmp_path: Path) -> None:
    assert_exit(do_import(runner, candles_csv(tmp_path / "a.csv", 10)), 0)
    later = candles_csv(tmp_path / "b.csv", 10, start=T0 + 3600)
    result = do_import(runner, later)
    assert_exit(result, 0)
    lines = result.stdout.splitlines()
    assert lines[0].endswith(": 20 candles, 2024-01-01 00:00:00 – 2024-01-01 01:09:00 UTC")
    assert lines[1].endswith(": 10 read, 10 new, 0 replaced")
    assert lines[2] == (
        "  gaps: 1 (50 candles missing); largest: 50 candles missing, "
        "2024-01-01 00:10:00 – 2024-01-01 00:59:00 UTC"
    )


def test_replace_overwrites(runner: CliRunner, tmp_path: Path) -> None:
    assert_exit(do_import(runner, candles_csv(tmp_path / "a.csv", 10)), 0)
    result = do_import(
        runner, candles_csv(tmp_path / "b.csv", 5, start=T0 + 3600), "BTC-USDT", "1m", "--replace"
    )
    assert_exit(result, 0)
    assert ": 5 candles, 2024-01-01 01:00:00" in result.stdout
    assert "discarded (--replace)" in result.stdout


@pytest.mark.parametrize("scale", [1_000_000, 1_000_000_000], ids=["us", "ns"])
def test_micro_and_nanosecond_files_import_and_list(
    runner: CliRunner, tmp_path: Path, scale: int
) -> None:
    assert_exit(do_import(runner, candles_csv(tmp_path / "u.csv", scale=scale)), 0)
    listed = data(runner, "list", "--data-dir", "store")
    assert_exit(listed, 0)
    words = listed.stdout.split()
    assert words[:10] == [
        "binance",
        "BTC-USDT",
        "1m",
        "2024-01-01",
        "00:00:00",
        "→",
        "2024-01-01",
        "00:29:00",
        "30",
        "rows",
    ]
    assert words[11:] == ["kB", "gaps:", "none"]


def test_list_shows_corrupt_datasets_and_never_crashes(runner: CliRunner, tmp_path: Path) -> None:
    assert_exit(do_import(runner, candles_csv(tmp_path / "a.csv")), 0)
    assert_exit(do_import(runner, candles_csv(tmp_path / "b.csv"), "ETH-USDT"), 0)
    broken = tmp_path / "store" / "candles" / "binance" / "ETH-USDT_1m.parquet"
    broken.write_bytes(broken.read_bytes()[:100])
    # a µs file written by an older version: the case that crashed `data list` for good
    old = tmp_path / "store" / "candles" / "binance" / "SOL-USDT_1m.parquet"
    pd.DataFrame(
        {
            "timestamp": [T0 * 1_000_000],
            "open": [1.0],
            "high": [1.0],
            "low": [1.0],
            "close": [1.0],
            "volume": [1.0],
        }
    ).to_parquet(old, index=False)
    listed = data(runner, "list", "--data-dir", "store")
    assert_exit(listed, 0)
    out = listed.stdout
    assert (
        "binance        BTC-USDT     1m   2024-01-01 00:00:00 → 2024-01-01 00:29:00  30 rows"
        in (out)
    )
    assert "binance        ETH-USDT     1m   CORRUPT: unreadable Parquet" in out
    assert "binance        SOL-USDT     1m   CORRUPT: timestamps 1704067200000000" in out
    assert f"    file: {broken}" in out
    assert (
        "    fix: hbbacktest data import FILE --connector binance --pair ETH-USDT --interval 1m "
        "--replace (or delete the file)"
    ) in out


def test_import_into_corrupt_dataset_needs_replace(runner: CliRunner, tmp_path: Path) -> None:
    csv = candles_csv(tmp_path / "a.csv")
    assert_exit(do_import(runner, csv), 0)
    stored = tmp_path / "store" / "candles" / "binance" / "BTC-USDT_1m.parquet"
    stored.write_bytes(b"PAR1 truncated")
    refused = do_import(runner, csv)
    assert_exit(refused, 3)
    assert f"error: {stored} is corrupt (unreadable Parquet" in refused.stderr
    assert "--replace" in refused.stderr
    assert stored.read_bytes() == b"PAR1 truncated"
    repaired = do_import(runner, csv, "BTC-USDT", "1m", "--replace")
    assert_exit(repaired, 0)
    listed = data(runner, "list", "--data-dir", "store")
    assert "CORRUPT" not in listed.stdout


@pytest.mark.parametrize(
    "pair, interval, code, fragment",
    [
        ("BTCUSDT", "1m", 2, "use 'BTC-USDT'"),
        ("X" * 10_000, "1m", 2, "at most 64 characters"),
        ("BTC-USDT", "1x", 2, "invalid interval '1x'"),
        ("BTC-USDT", "5m", 3, "use --interval 1m"),
    ],
    ids=["no-dash", "10000-chars", "bad-interval", "wrong-interval"],
)
def test_bad_options_and_data_exit_codes(
    runner: CliRunner, tmp_path: Path, pair: str, interval: str, code: int, fragment: str
) -> None:
    result = do_import(runner, candles_csv(tmp_path / "c.csv"), pair, interval)
    assert_exit(result, code)
    assert fragment in result.stderr
    assert len(result.stderr) < 500
    assert not (tmp_path / "store" / "candles" / "binance").exists() or not any(
        p.suffix == ".parquet" for p in (tmp_path / "store" / "candles" / "binance").iterdir()
    )


def test_5m_candles_as_1m_suggest_the_interval(runner: CliRunner, tmp_path: Path) -> None:
    result = do_import(runner, candles_csv(tmp_path / "c.csv", step=300))
    assert_exit(result, 3)
    assert "--interval is 1m but the candles are 5m apart" in result.stderr
    assert "use --interval 5m" in result.stderr


def test_missing_file_exits_3(runner: CliRunner, tmp_path: Path) -> None:
    result = do_import(runner, tmp_path / "nope.csv")
    assert_exit(result, 3)
    assert f"{tmp_path / 'nope.csv'}: no such file" in result.stderr


def test_list_of_an_empty_store_names_it(runner: CliRunner, tmp_path: Path) -> None:
    result = data(runner, "list", "--data-dir", "nothing-here")
    assert_exit(result, 0)
    assert result.stdout.startswith(f"no candles in {tmp_path / 'nothing-here'}; fetch some")
    assert "hbbacktest data import FILE --connector NAME" in result.stdout


def test_data_list_does_not_load_pandas(runner: CliRunner, tmp_path: Path) -> None:
    assert_exit(do_import(runner, candles_csv(tmp_path / "a.csv")), 0)
    code = (
        "import sys\n"
        f"sys.argv = ['hbbacktest', 'data', 'list', '--data-dir', {str(tmp_path / 'store')!r}]\n"
        "from hbbacktest.cli.main import app\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "BTC-USDT" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "False"
