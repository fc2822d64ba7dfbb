"""Reports as a use case: reading result files strictly, finding candles, writing atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError, OutputError
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.service import report as report_module
from hbbacktest.service.defaults import default_request
from hbbacktest.service.output import write_result
from hbbacktest.service.report import (
    default_report_path,
    load_result,
    render_compare,
    render_run_report,
    report_files,
    result_candles,
    write_report,
    write_run_report,
)

T0 = 1_704_672_000


@pytest.fixture(scope="module")
def run() -> BacktestResult:
    from hbbacktest.service import run_backtest

    return run_backtest(default_request().model_copy(update={"end": T0 + 6 * 3600}))


@pytest.fixture(scope="module")
def result_file(run: BacktestResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("results") / "demo.json"
    write_result(run, path)
    return path


# --- load_result --------------------------------------------------------------------------------


def test_a_native_result_is_read_as_written(result_file: Path, run: BacktestResult) -> None:
    doc = load_result(result_file)
    assert doc == json.loads(run.to_json())


def test_the_parquet_format_reads_as_the_json(run: BacktestResult, tmp_path: Path) -> None:
    write_result(run, tmp_path / "r.json", fmt="parquet")
    doc = load_result(tmp_path / "r.json")
    native = json.loads(run.to_json())
    assert len(doc["executors"]) == len(native["executors"])
    assert doc["executors"][3]["close_type"] == native["executors"][3]["close_type"]
    assert doc["pnl_timeseries"]["total_pnl"][-1] == pytest.approx(
        native["pnl_timeseries"]["total_pnl"][-1]
    )
    assert "reference_price" in doc["processed_data"]["features"]
    assert "<!DOCTYPE html>" in render_run_report(doc, settings=Settings())[0]


def test_hummingbot_api_results_are_converted(run: BacktestResult, tmp_path: Path) -> None:
    from hbbacktest.metrics.upstream import upstream_result_json

    path = tmp_path / "upstream.json"
    path.write_bytes(upstream_result_json(run))
    doc = load_result(path)
    native = json.loads(run.to_json())
    assert len(doc["executors"]) == len(native["executors"])
    first = doc["executors"][0]
    assert first["close_type"] == native["executors"][0]["close_type"]
    assert first["side"] == native["executors"][0]["side"]
    assert doc["request"]["config"]["trading_pair"] == "BTC-USDT"
    assert doc["pnl_timeseries"]["total_pnl"][-1] == pytest.approx(
        native["pnl_timeseries"]["total_pnl"][-1]
    )
    assert any("hummingbot-api" in w for w in doc["warnings"])
    # Its candles come from processed_data's OHLC columns.
    notes: list[str] = []
    bars = result_candles(doc, settings=Settings(), notes=notes)
    assert bars is not None and len(bars["close"]) == len(native["pnl_timeseries"]["timestamp"])
    html = render_run_report(doc, settings=Settings())[0]
    assert '"candlestick"' in html and '"name":"open"' not in html
    # A task's body nests it under "result".
    wrapped = tmp_path / "task.json"
    wrapped.write_bytes(
        orjson.dumps({"status": "completed", "result": orjson.loads(path.read_bytes())})
    )
    assert len(load_result(wrapped)["executors"]) == len(native["executors"])


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"{not json", "is not a JSON result file"),
        (b'{"results": NaN}', "is not a JSON result file"),
        (b"[1, 2]", "JSON list, not a backtest result"),
        (b'{"name": "grid", "items": []}', "is a sweep file"),
        (b'{"controller_name": "pmm_simple"}', "is a controller config"),
        (b'{"results": {}}', "lacks request, executors"),
    ],
    ids=["broken", "nan", "list", "sweep", "config", "missing-keys"],
)
def test_files_that_are_not_results_are_refused(
    tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=fragment) as caught:
        load_result(path)
    assert str(path) in str(caught.value)


def test_missing_and_oversized_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_result(tmp_path / "nope.json")
    with pytest.raises(ConfigError, match="is a directory"):
        load_result(tmp_path)
    big = tmp_path / "big.json"
    big.write_bytes(b"{}" + b" " * 100)
    monkeypatch.setattr(report_module, "MAX_RESULT_BYTES", 50)
    with pytest.raises(ConfigError, match="more than the 2 GiB"):
        load_result(big)


# --- candles ------------------------------------------------------------------------------------


def test_the_demo_candles_cover_the_run(run: BacktestResult) -> None:
    doc = json.loads(run.to_json())
    notes: list[str] = []
    bars = result_candles(doc, settings=Settings(), notes=notes)
    assert bars is not None
    assert bars["timestamp"].tolist() == doc["pnl_timeseries"]["timestamp"]
    assert any("demo" in n for n in notes)


def test_missing_candles_offline_give_a_note(run: BacktestResult, tmp_path: Path) -> None:
    doc = json.loads(run.to_json())
    doc["request"]["config"]["connector_name"] = "binance"
    notes: list[str] = []
    assert result_candles(doc, settings=Settings(data_dir=tmp_path), notes=notes) is None
    assert notes and "--online" in notes[0]
    html, shown = render_run_report(doc, settings=Settings(data_dir=tmp_path))
    assert shown == notes and "no candles were given" in html


# --- writing ------------------------------------------------------------------------------------


def test_reports_are_written_atomically(tmp_path: Path) -> None:
    target = tmp_path / "new" / "r.html"
    assert write_report("<p>one</p>", target) == target
    write_report("<p>two</p>", target)
    assert target.read_text() == "<p>two</p>"
    assert [p.name for p in target.parent.iterdir()] == ["r.html"]


def test_unwritable_targets_are_output_errors(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="a parent is not a directory"):
        write_report("<p/>", tmp_path / "file" / "r.html")
    with pytest.raises(OutputError, match="is a directory"):
        write_report("<p/>", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_report_files_writes_one_report_or_a_comparison(result_file: Path, tmp_path: Path) -> None:
    single = report_files([result_file], output=tmp_path / "one.html", settings=Settings())
    assert single.html_path.read_text().startswith("<!DOCTYPE html>")
    assert single.png_path is None
    both = report_files([result_file, result_file], output=tmp_path / "cmp.html")
    text = both.html_path.read_text()
    assert 'id="equity-chart"' in text and "#2" in text
    assert default_report_path("out/a.json") == Path("out/a.html")
    assert default_report_path("out/a.json", compare=True) == Path("out/a.compare.html")
    with pytest.raises(ConfigError, match="at least one"):
        report_files([])


def test_the_report_of_a_run_uses_its_own_candles(run: BacktestResult, tmp_path: Path) -> None:
    outcome = write_run_report(run, tmp_path / "run.html", title="my run")
    html = outcome.html_path.read_text()
    assert "<title>my run</title>" in html and '"candlestick"' in html


def test_render_compare_checks_its_names(run: BacktestResult) -> None:
    doc: dict[str, Any] = json.loads(run.to_json())
    with pytest.raises(ConfigError, match="1 names for 2 results"):
        render_compare([doc, doc], ["a"])
    with pytest.raises(ConfigError, match="at least one"):
        render_compare([])
