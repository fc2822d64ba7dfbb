"""``hbbacktest sweep``: expand, run, list, results, best, and how each refuses bad input.

Every sweep runs for real on the demo connector (1-day windows) into the default results
database, ``$HBBACKTEST_DATA_DIR/hbbacktest.db`` (the ``runner`` fixture's own folder).
"""

from __future__ import annotations

import csv
import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import make_url
from typer.testing import CliRunner, Result

from hbbacktest.cli.main import app
from hbbacktest.store import ResultRow, Store
from hbbacktest.sweep import runner as runner_module
from tests.kit.postgres import PG_ENV, SKIP_REASON

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"
BASE: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
}
SECRET = "s3cr3t-pw"


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def write_spec(folder: Path, name: str = "spec.yml", **fields: Any) -> Path:
    """The README's example sweep (pmm_grid, 6 configs) on a 1-day window, changed by fields."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data["end"] = "2024-01-09"
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def database(tmp_path: Path) -> Path:
    return tmp_path / "env-data" / "hbbacktest.db"


def stored(tmp_path: Path, name: str = "pmm_grid") -> list[ResultRow]:
    with Store(Store.default_url(tmp_path / "env-data")) as store:
        return store.results(name, include_failed=True)


def table(output: str) -> list[dict[str, str]]:
    header, *lines = [line.split("\t") for line in output.splitlines()]
    return [dict(zip(header, line, strict=True)) for line in lines]


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    return write_spec(tmp_path)


@pytest.fixture
def ran(runner: CliRunner, spec: Path) -> Path:
    """The example sweep, run once: 6 done."""
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 0, result.output
    return spec


# -- expand and run ------------------------------------------------------------------------------


def test_expand_writes_the_configs_and_run_runs_that_file(
    runner: CliRunner, spec: Path, tmp_path: Path
) -> None:
    result = invoke(runner, "sweep", "expand", spec, "-o", "configs.json")
    assert result.exit_code == 0, result.output
    out = tmp_path / "configs.json"
    assert f"6 configs of sweep 'pmm_grid' written to {out}" in result.output
    document = json.loads(out.read_text())
    assert document["name"] == "pmm_grid"
    assert [item["index"] for item in document["items"]] == [0, 1, 2, 3, 4, 5]
    assert document["items"][0]["params"] == {"buy_spreads": "0.001", "take_profit": 0.002}
    assert not database(tmp_path).exists()  # expanding runs nothing

    result = invoke(runner, "sweep", "run", "configs.json", "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "sweep 'pmm_grid': 6 configs; 6 done and 0 failed in this run" in result.output
    rows = stored(tmp_path)
    assert [row.status for row in rows] == ["done"] * 6
    assert [row.params for row in rows] == [item["params"] for item in document["items"]]

    # the spec and its expansion are the same sweep: running the spec now has nothing left
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "6 configs; 0 done and 0 failed in this run" in result.output
    assert "6 already done before" in result.output


def test_run_a_spec_prints_the_report(runner: CliRunner, spec: Path, tmp_path: Path) -> None:
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert re.search(
        r"^sweep 'pmm_grid': 6 configs; 6 done and 0 failed in this run \([0-9.]+ s, "
        r"[0-9,.]+ configs/s, 1 worker\(s\)\); 0 already done before$",
        result.stdout,
        re.MULTILINE,
    ), result.stdout
    assert re.search(r"^  candles loaded in [0-9.]+ s$", result.stdout, re.MULTILINE)
    assert "failed:" not in result.output and "interrupted" not in result.output
    assert database(tmp_path).is_file()


def test_run_with_failures_names_them_and_a_rerun_retries_them(
    runner: CliRunner, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path,
        start=None,
        end=None,
        windows=[
            {"start": "2024-01-08", "end": "2024-01-09"},
            {"start": "2024-06-01", "end": "2024-06-02"},  # after the demo's coverage
        ],
        grid={"take_profit": [0.002, 0.004]},
    )
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 0, result.output  # the sweep goes on; failures are recorded
    assert "4 configs; 2 done and 2 failed in this run" in result.output
    assert "2 failed: see hbbacktest sweep results pmm_grid --failed" in result.output

    result = invoke(runner, "sweep", "results", "pmm_grid", "--failed")
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    assert [row["status"] for row in rows] == ["done", "done", "failed", "failed"]
    assert all(row["error"] == "-" for row in rows[:2])
    assert all("2024-06-01" in row["error"] for row in rows[2:])
    assert [row["window"] for row in rows[2:]] == ["2024-06-01/2024-06-02"] * 2

    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert "4 configs; 0 done and 2 failed in this run" in result.output
    assert "2 already done before" in result.output


def test_ctrl_c_during_a_run_keeps_what_finished_and_exits_130(
    runner: CliRunner, spec: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = runner_module._Worker.run
    calls: list[str] = []

    def interrupted(self: Any, key: str, request: Any) -> Any:
        calls.append(key)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, key, request)

    monkeypatch.setattr(runner_module._Worker, "run", interrupted)
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 130, result.output
    assert "6 configs; 2 done and 0 failed in this run" in result.output
    assert "interrupted: what finished is stored; run the same command to resume" in result.output
    with Store(Store.default_url(tmp_path / "env-data")) as store:
        [summary] = store.list_sweeps()
    assert (summary.items, summary.done, summary.pending) == (6, 2, 4)
    monkeypatch.setattr(runner_module._Worker, "run", original)

    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 0, result.output
    assert "6 configs; 4 done and 0 failed in this run" in result.output
    assert "2 already done before" in result.output


# -- list ----------------------------------------------------------------------------------------


@pytest.fixture
def far_from_utc() -> Iterator[None]:
    """Local time 14 hours ahead of UTC: a time shown as UTC must not follow it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "XXX-14"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_list_shows_no_sweeps_yet(runner: CliRunner) -> None:
    result = invoke(runner, "sweep", "list")
    assert result.exit_code == 0, result.output
    assert "no sweeps yet" in result.output


@pytest.mark.usefixtures("far_from_utc")
def test_list_shows_counts_and_a_utc_time(runner: CliRunner, tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        start=None,
        end=None,
        windows=[
            {"start": "2024-01-08", "end": "2024-01-09"},
            {"start": "2024-06-01", "end": "2024-06-02"},
        ],
    )
    assert invoke(runner, "sweep", "run", spec, "--workers", "1").exit_code == 0
    result = invoke(runner, "sweep", "list")
    assert result.exit_code == 0, result.output
    [line] = result.stdout.splitlines()
    match = re.fullmatch(
        r"pmm_grid\s+12 configs\s+6 done\s+6 failed\s+0 pending\s+"
        r"updated (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC",
        line,
    )
    assert match, line
    with Store(Store.default_url(tmp_path / "env-data")) as store:
        [summary] = store.list_sweeps()
    moment = datetime.fromtimestamp(int(summary.updated_at), UTC)
    assert match[1] == moment.strftime("%Y-%m-%d %H:%M:%S")
    assert abs(moment.timestamp() - time.time()) < 600  # now, read as UTC


# -- results -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("ran")
def test_results_sorted_filtered_and_cut(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(
        runner,
        "sweep",
        "results",
        "pmm_grid",
        "--sort",
        "net_pnl_quote",
        "--top",
        "2",
        "--where",
        "take_profit>0.002",
    )
    assert result.exit_code == 0, result.output
    rows = table(result.stdout)
    every = stored(tmp_path)
    kept = sorted(
        (row for row in every if row.params["take_profit"] > 0.002),
        key=lambda row: row.metrics["net_pnl_quote"],
        reverse=True,
    )
    assert len(kept) == 3
    assert [int(row["index"]) for row in rows] == [row.index for row in kept[:2]]
    assert all(row["take_profit"] == "0.004" for row in rows)
    assert [row["net_pnl_quote"] for row in rows] == [
        f"{row.metrics['net_pnl_quote']:.6g}" for row in kept[:2]
    ]
    header = result.stdout.splitlines()[0].split("\t")
    assert header[:3] == ["index", "buy_spreads", "take_profit"]
    assert header[-2:] == ["status", "seconds"]  # no key, no error without --failed
    assert "net_pnl_quote" in header and "sharpe_ratio" in header

    result = invoke(
        runner, "sweep", "results", "pmm_grid", "--sort", "net_pnl_quote", "--ascending"
    )
    assert [int(row["index"]) for row in table(result.stdout)] == [
        row.index for row in sorted(every, key=lambda row: row.metrics["net_pnl_quote"])
    ]
    result = invoke(runner, "sweep", "results", "pmm_grid", "--where", "buy_spreads<=0.002")
    assert [row["buy_spreads"] for row in table(result.stdout)] == ["0.001"] * 2 + ["0.002"] * 2


@pytest.mark.usefixtures("ran")
def test_results_export_csv(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(
        runner, "sweep", "results", "pmm_grid", "--where", "take_profit<0.003", "--export", "x.csv"
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "x.csv"
    assert f"3 rows written to {out}" in result.output
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["take_profit"] for row in rows] == ["0.002"] * 3
    by_key = {row.key: row for row in stored(tmp_path)}
    for row in rows:
        assert float(row["net_pnl_quote"]) == by_key[row["key"]].metrics["net_pnl_quote"]

    result = invoke(runner, "sweep", "results", "pmm_grid", "--export", "x.xlsx")
    assert result.exit_code == 2
    assert "use a .csv or .parquet file name" in result.output


@pytest.mark.usefixtures("ran")
def test_results_refuse_unknown_names_and_bad_options(runner: CliRunner) -> None:
    result = invoke(runner, "sweep", "results", "pmm_gird")
    assert result.exit_code == 2
    assert "no sweep named 'pmm_gird' (did you mean 'pmm_grid'?)" in result.output
    assert "Traceback" not in result.output

    result = invoke(runner, "sweep", "results", "pmm_grid", "--sort", "sharpe_ration")
    assert result.exit_code == 2
    assert "did you mean 'sharpe_ratio'" in result.output

    result = invoke(runner, "sweep", "results", "pmm_grid", "--where", "take_profit")
    assert result.exit_code == 2
    assert "cannot read the condition 'take_profit'" in result.output

    result = invoke(runner, "sweep", "results", "pmm_grid", "--top", "0")
    assert result.exit_code == 2

    result = invoke(runner, "sweep", "best", "pmm_gird", "-o", "best.yml")
    assert result.exit_code == 2
    assert "did you mean 'pmm_grid'" in result.output


# -- best ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("ran")
def test_best_writes_a_config_that_hbbacktest_run_runs(runner: CliRunner, tmp_path: Path) -> None:
    result = invoke(runner, "sweep", "best", "pmm_grid", "-o", "best.yml")
    assert result.exit_code == 0, result.output
    top = max(stored(tmp_path), key=lambda row: row.metrics["net_pnl_quote"])
    value = top.metrics["net_pnl_quote"]
    assert f"best.yml: net_pnl_quote = {value}" in result.output
    text = (tmp_path / "best.yml").read_text()
    assert text.startswith("# best of sweep pmm_grid by net_pnl_quote = ")
    config = yaml.safe_load(text)
    assert config["take_profit"] == top.params["take_profit"]
    assert config["buy_spreads"] == [float(top.params["buy_spreads"])]

    out = tmp_path / "result.json"
    result = invoke(
        runner, "run", "best.yml", "--start", "2024-01-08", "--end", "2024-01-09", "-o", out
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["run_id"] == top.key  # the very backtest the sweep ran
    assert document["results"]["net_pnl_quote"] == value

    result = invoke(runner, "sweep", "best", "pmm_grid", "-o", "low.yml", "--ascending")
    assert result.exit_code == 0, result.output
    low = min(stored(tmp_path), key=lambda row: row.metrics["net_pnl_quote"])
    assert f"net_pnl_quote = {low.metrics['net_pnl_quote']}" in result.output


# -- invalid input -------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["run", "expand"])
def test_unknown_parameter_names_are_all_listed(
    runner: CliRunner, tmp_path: Path, command: str
) -> None:
    spec = write_spec(
        tmp_path,
        grid={"take_proft": [0.01], "buy_spreadz": ["0.01"]},
        fixed={"stop_los": 0.02},
    )
    extra = ["-o", "x.json"] if command == "expand" else ["--workers", "1"]
    result = invoke(runner, "sweep", command, spec, *extra)
    assert result.exit_code == 2, result.output
    for problem in (
        "grid.take_proft is not a field of pmm_simple's config (did you mean 'take_profit'",
        "grid.buy_spreadz is not a field of pmm_simple's config (did you mean 'buy_spreads'",
        "fixed.stop_los is not a field of pmm_simple's config (did you mean 'stop_loss'",
    ):
        assert problem in result.output
    assert "Traceback" not in result.output
    assert not database(tmp_path).exists() and not (tmp_path / "x.json").exists()


def test_zip_lists_of_different_lengths_are_refused_with_the_other_problems(
    runner: CliRunner, tmp_path: Path
) -> None:
    spec = write_spec(
        tmp_path,
        grid=None,
        zip={"buy_spreads": ["0.01", "0.02"], "sell_spreads": ["0.01"]},
        resolution="7x",
    )
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 2, result.output
    assert "(2 problems)" in result.output
    assert "every list needs the same length: buy_spreads has 2, sell_spreads has 1" in (
        result.output
    )
    assert "resolution = '7x'" in result.output
    assert not database(tmp_path).exists()


@pytest.mark.parametrize("command", ["run", "expand"])
def test_every_combination_with_amounts_unlike_its_spreads_is_listed(
    runner: CliRunner, tmp_path: Path, command: str
) -> None:
    spec = write_spec(
        tmp_path,
        grid={
            "buy_spreads": ["0.01,0.02", "0.01", "0.01,0.02,0.03"],
            "take_profit": [0.01, 0.02],
        },
        fixed={"buy_amounts_pct": "1,2"},
    )
    extra = ["-o", "x.json"] if command == "expand" else ["--workers", "1"]
    result = invoke(runner, "sweep", command, spec, *extra)
    assert result.exit_code == 2, result.output
    assert "4 of 6 combinations of pmm_simple are invalid (nothing was run)" in result.output
    for combination in (
        "buy_spreads='0.01', take_profit=0.01:",
        "buy_spreads='0.01', take_profit=0.02:",
        "buy_spreads='0.01,0.02,0.03', take_profit=0.01:",
        "buy_spreads='0.01,0.02,0.03', take_profit=0.02:",
    ):
        assert combination in result.output
    assert result.output.count("has 2 values but buy_spreads has 1") == 2
    assert result.output.count("has 2 values but buy_spreads has 3") == 2
    assert "buy_spreads='0.01,0.02'," not in result.output  # the valid ones are not listed
    assert not database(tmp_path).exists() and not (tmp_path / "x.json").exists()


@pytest.mark.parametrize("workers", ["0", "-1", "257"])
def test_workers_out_of_range(runner: CliRunner, spec: Path, tmp_path: Path, workers: str) -> None:
    result = invoke(runner, "sweep", "run", spec, "--workers", workers)
    assert result.exit_code == 2, result.output
    assert f"--workers = {workers}: expected 1 to 256 worker processes" in result.output
    assert not database(tmp_path).exists()


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://hbb:{SECRET}@127.0.0.1:1/hbb",  # nothing listens on port 1
        f"mysql://root:{SECRET}@127.0.0.1/hbb",
        f"postgresql+asyncpg://hbb:{SECRET}@127.0.0.1/hbb",
        f"postgresql://hbb:{SECRET}@127.0.0.1:5432/",
        f"postgresql://hbb:{SECRET}@127.0.0.1:port/hbb",  # not a URL
    ],
)
@pytest.mark.parametrize("command", ["list", "run", "results"])
def test_a_bad_database_url_exits_2_without_its_password(
    runner: CliRunner, spec: Path, url: str, command: str
) -> None:
    args = {
        "list": ["sweep", "list"],
        "run": ["sweep", "run", str(spec), "--workers", "1"],
        "results": ["sweep", "results", "pmm_grid"],
    }[command]
    result = invoke(runner, *args, "--database", url)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error: ")
    assert SECRET not in result.output
    assert "Traceback" not in result.output


def test_a_wrong_password_for_a_real_server_exits_2_without_it(runner: CliRunner) -> None:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(SKIP_REASON)
    wrong = make_url(url).set(password=SECRET).render_as_string(hide_password=False)
    result = invoke(runner, "sweep", "list", "--database", wrong)
    assert result.exit_code == 2, result.output
    assert "password authentication failed" in result.output
    assert SECRET not in result.output


def test_a_password_in_the_query_is_not_shown(runner: CliRunner) -> None:
    url = f"postgresql://hbb@127.0.0.1:1/hbb?password={SECRET}"
    result = invoke(runner, "sweep", "list", "--database", url)
    assert result.exit_code == 2, result.output
    assert SECRET not in result.output


def test_a_password_with_an_unescaped_at_sign_is_not_shown(runner: CliRunner) -> None:
    url = f"postgresql://hbb:pa@{SECRET}@127.0.0.1:1/hbb"
    result = invoke(runner, "sweep", "list", "--database", url)
    assert result.exit_code == 2, result.output
    assert SECRET not in result.output
