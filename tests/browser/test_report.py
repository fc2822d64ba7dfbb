"""``hbbacktest report`` and ``hbbacktest run --report``: the HTML report, opened in Chromium.

Two runs of pmm_simple on the demo connector over two days (2 881 one-minute bars, both ends
included, ~1 300 executors), one per fill model (``hummingbot`` and ``touch``), each written by
``hbbacktest run --output``. The run report is opened from a file:// URL with the network
refused; the charts are read back from Plotly (``gd.data`` / ``gd._fullData``) and counted
against the result file: every candle, one segment per executor, one entry marker per fill.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # Playwright may be missing: the package is then skipped, not broken
    from playwright.sync_api import Page

    from tests.browser.conftest import BrowserLog, Chart, Cli

START, END = "2024-01-08", "2024-01-10"
BARS = 2 * 24 * 60 + 1  # 1m bars in [START, END]: the run steps through both ends
FILL_MODELS = ("hummingbot", "touch")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_SIZE = (1400, 700)  # the export's default width × height, pixels


@dataclass(frozen=True)
class Reports:
    """The runs' result files and the reports written from them."""

    folder: Path
    cli: Cli
    results: dict[str, Path]  # fill model → result JSON
    documents: dict[str, dict[str, Any]]
    run_report: Path  # `hbbacktest report hummingbot.json`
    run_flag_report: Path  # `hbbacktest run --report`
    compare: Path  # `hbbacktest report hummingbot.json touch.json`


@pytest.fixture(scope="module")
def reports(
    tmp_path_factory: pytest.TempPathFactory, cli_factory: Callable[[Path], Cli]
) -> Reports:
    folder = tmp_path_factory.mktemp("report")
    cli = cli_factory(folder / "data")
    results = {model: folder / f"{model}.json" for model in FILL_MODELS}
    run_flag_report = folder / "run-flag.html"
    for model, path in results.items():
        extra = ["--report", run_flag_report] if model == "hummingbot" else []
        cli("run", "--start", START, "--end", END, "--fill-model", model, "-o", path, *extra)
    run_report = folder / "hummingbot.html"
    cli("report", results["hummingbot"], "-o", run_report)
    compare = folder / "compare.html"
    cli("report", *results.values(), "-o", compare)
    documents = {model: json.loads(path.read_text()) for model, path in results.items()}
    return Reports(folder, cli, results, documents, run_report, run_flag_report, compare)


def filled(executors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for e in executors
        if e.get("fill_timestamp") is not None and e.get("fill_price") is not None
    ]


def test_the_run_report_draws_every_candle_and_executor(
    page: Page,
    reports: Reports,
    read_charts: Callable[[Page], dict[str, Chart]],
    screenshot: Callable[..., Path],
    browser_log: BrowserLog,
) -> None:
    document = reports.documents["hummingbot"]
    executors = document["executors"]
    assert len(executors) > 100 and filled(executors), "the demo run should trade"
    page.goto(reports.run_report.as_uri())
    charts = read_charts(page)
    assert "main-chart" in charts, sorted(charts)
    for chart in charts.values():
        chart.assert_drawn()
    main = charts["main-chart"]

    # One candle per bar the run stepped through (as many as its PnL series has points).
    assert len(document["pnl_timeseries"]["timestamp"]) == BARS
    (candles,) = main.of_type("candlestick")
    assert candles["x"] == BARS
    # Executors: one WebGL trace per close type and outcome, 3 points a segment (entry, exit,
    # a gap), and a marker per fill (buy and sell entries).
    segments = [t for t in main.traces if t["legendgroup"] == "executors"]
    assert segments and all(t["type"] == "scattergl" for t in segments)
    assert all(t["x"] % 3 == 0 for t in segments), segments
    assert sum(t["x"] // 3 for t in segments) == len(executors)
    unfilled = [t for t in segments if t["name"].startswith("unfilled")]
    assert sum(t["x"] // 3 for t in segments if t not in unfilled) == len(filled(executors))
    entries = [t for t in main.traces if t["legendgroup"] == "entries"]
    assert sum(t["x"] for t in entries) == len(filled(executors))
    assert main.gl_canvases > 0
    names = {t["name"] for t in main.traces}
    assert "total_pnl" in names and "drawdown" in names, names

    # The executors table lists each executor, and its filter box narrows it.
    rows = page.locator("#executors tbody tr")
    assert rows.count() == len(executors)
    take_profit = sum(1 for e in executors if e.get("close_type") == "TAKE_PROFIT")
    page.fill("input[data-filter='executors']", "TAKE_PROFIT")
    assert page.text_content("#executors-count") == f"{take_profit} shown"
    page.fill("input[data-filter='executors']", "")
    screenshot(page)
    browser_log.assert_clean()


def figure_json(html: Path, div_id: str) -> str:
    """The JSON a report page draws the figure ``div_id`` from."""
    found = re.search(
        rf'<script type="application/json" data-figure="{re.escape(div_id)}">(.*?)</script>',
        html.read_text(),
        re.S,
    )
    assert found, f"{html.name} has no figure {div_id!r}"
    return found.group(1)


def test_run_with_report_draws_the_same_chart_as_the_report_command(reports: Reports) -> None:
    # The chart checked in the browser above, byte for byte: no second 6 MB page load.
    assert figure_json(reports.run_flag_report, "main-chart") == figure_json(
        reports.run_report, "main-chart"
    )


def test_the_compare_report_overlays_both_fill_models(
    page: Page,
    reports: Reports,
    read_charts: Callable[[Page], dict[str, Chart]],
    screenshot: Callable[..., Path],
    browser_log: BrowserLog,
) -> None:
    page.goto(reports.compare.as_uri())
    charts = read_charts(page)
    equity = charts["equity-chart"]
    equity.assert_drawn()
    curves = {t["name"]: t for t in equity.traces if not t["name"].endswith("drawdown")}
    assert len(curves) == len(FILL_MODELS), curves
    for model in FILL_MODELS:
        (name,) = [n for n in curves if f"({model})" in n]
        # The curve ends where the run's PnL series ends.
        last = page.evaluate(
            """([id, name]) => {
                 const t = document.getElementById(id)._fullData.find(d => d.name === name);
                 return Number(t.y[t.y.length - 1]);
               }""",
            ["equity-chart", name],
        )
        expected = reports.documents[model]["pnl_timeseries"]["total_pnl"][-1]
        assert last == pytest.approx(expected, rel=1e-6, abs=1e-6), (model, last, expected)

    runs = page.eval_on_selector_all(
        "#runs tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
    )
    assert [row[5].strip() for row in runs] == list(FILL_MODELS)
    header = page.eval_on_selector_all("#metrics thead th", "ths => ths.map(h => h.textContent)")
    assert len(header) == 1 + len(FILL_MODELS)
    screenshot(page)
    browser_log.assert_clean()


def test_the_png_export_writes_a_png_of_the_main_chart(reports: Reports) -> None:
    png = reports.folder / "hummingbot.png"
    done = reports.cli(
        "report", reports.results["hummingbot"], "-o", reports.folder / "png.html", "--png", png,
        expect=None,
    )  # fmt: skip
    if done.returncode != 0 and "cannot export PNG" in done.stderr:
        pytest.skip(f"kaleido cannot render here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    data = png.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk
    assert (width, height) == PNG_SIZE
    assert len(data) > 20_000  # a drawn chart, not a blank image
