"""``hbbacktest sweep report``: the sweep page and its top configs' pages, in Chromium.

The sweep is the README's example (pmm_simple on the demo connector, buy_spreads × take_profit
= 3 × 2 configs) on a 1-day window, run by ``hbbacktest sweep run``; the report lists the top 3
configs, each with its own page (``runs/<index>.html``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

if TYPE_CHECKING:  # Playwright may be missing: the package is then skipped, not broken
    from playwright.sync_api import Page

    from tests.browser.conftest import BrowserLog, Chart, Cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"
TOP = 3
BUY_SPREADS = 3
TAKE_PROFITS = 2
CONFIGS = BUY_SPREADS * TAKE_PROFITS
BARS_1D = 24 * 60 + 1  # the 1-day window at 1m, both ends included


@pytest.fixture(scope="module")
def report_dir(
    tmp_path_factory: pytest.TempPathFactory, cli_factory: Callable[[Path], Cli]
) -> Path:
    """The sweep, run and reported: ``<dir>/index.html`` and ``<dir>/runs/*.html``."""
    folder = tmp_path_factory.mktemp("sweep-report")
    cli = cli_factory(folder / "data")
    spec = yaml.safe_load(EXAMPLE.read_text())
    spec["end"] = "2024-01-09"
    assert len(spec["grid"]["buy_spreads"]) == BUY_SPREADS
    assert len(spec["grid"]["take_profit"]) == TAKE_PROFITS
    spec_path = folder / "pmm_grid.yml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    cli("sweep", "run", spec_path, "--workers", "1", "--offline")
    out = folder / "report"
    done = cli("sweep", "report", spec["name"], "-o", out, "--top", str(TOP), "--offline")
    # Notes would say a config's re-run failed or differs from what the sweep stored.
    assert "note:" not in done.stderr, done.stderr
    assert (out / "index.html").is_file()
    return out


def top_links(page: Page) -> list[dict[str, Any]]:
    """The top table's rows: rank and the index cell's link."""
    return page.eval_on_selector_all(
        "#top tbody tr",
        """rows => rows.map(r => {
             const a = r.querySelector('a');
             return {rank: r.cells[0].textContent.trim(),
                     href: a ? a.getAttribute('href') : null,
                     text: a ? a.textContent.trim() : null};
           })""",
    )


def test_the_sweep_page_draws_its_heatmap_parallel_coordinates_and_links(
    page: Page,
    report_dir: Path,
    read_charts: Callable[[Page], dict[str, Chart]],
    screenshot: Callable[..., Path],
    browser_log: BrowserLog,
) -> None:
    page.goto((report_dir / "index.html").as_uri())
    charts = read_charts(page)
    assert set(charts) >= {"heatmap", "parcoords"}, sorted(charts)

    heatmap = charts["heatmap"]
    heatmap.assert_drawn()
    (trace,) = heatmap.of_type("heatmap")
    # x: the first varied parameter (buy_spreads), y: the second (take_profit).
    assert (trace["x"], trace["z"]) == (BUY_SPREADS, TAKE_PROFITS)
    assert heatmap.heatmap_images == 1

    parcoords = charts["parcoords"]
    parcoords.assert_drawn()
    (lines,) = parcoords.of_type("parcoords")
    assert lines["dimensions"] == 3  # buy_spreads, take_profit, the metric
    assert lines["dimension_values"] == [CONFIGS] * 3
    assert parcoords.parcoords > 0 and parcoords.gl_canvases > 0

    rows = top_links(page)
    assert [row["rank"] for row in rows] == [str(k) for k in range(1, TOP + 1)]
    for row in rows:
        assert row["href"] == f"runs/{row['text']}.html", row
        assert (report_dir / row["href"]).is_file()
    screenshot(page)
    browser_log.assert_clean()

    # The heatmap's dropdown shows another metric (same page: one load fewer).
    z_of = "() => JSON.stringify(document.getElementById('heatmap')._fullData[0].z)"
    before = page.evaluate(z_of)
    page.click("#heatmap .updatemenu-header")
    page.locator("#heatmap .updatemenu-dropdown-button").filter(
        has_text=re.compile(r"^sharpe_ratio$")
    ).click()
    page.wait_for_function(f"(b) => ({z_of})() !== b", arg=before)
    title = page.evaluate(
        "() => document.getElementById('heatmap')._fullData[0].colorbar.title.text"
    )
    assert title == "sharpe_ratio"
    screenshot(page, "sharpe_ratio")


def test_each_top_link_opens_its_config_page(
    page: Page,
    report_dir: Path,
    read_charts: Callable[[Page], dict[str, Chart]],
    screenshot: Callable[..., Path],
    browser_log: BrowserLog,
) -> None:
    page.goto((report_dir / "index.html").as_uri())
    rows = top_links(page)
    assert len(rows) == TOP
    for row in rows:
        # A new window per link (Shift+click): the index stays loaded. (Ctrl+click would open
        # a background tab, which Chromium throttles: three times slower to draw.)
        with page.context.expect_page() as opened:
            page.click(f"#top a[href='{row['href']}']", modifiers=["Shift"])
        run_page = opened.value
        run_page.wait_for_load_state()
        assert run_page.url == (report_dir / row["href"]).as_uri()
        charts = read_charts(run_page)
        assert charts, f"{row['href']} has no chart"
        for chart in charts.values():
            chart.assert_drawn()
        candles = [t for c in charts.values() for t in c.of_type("candlestick", "ohlc")]
        assert candles, f"{row['href']}: no candlestick trace"
        assert candles[0]["x"] == BARS_1D
        if row["rank"] == "1":
            screenshot(run_page, "best")
        browser_log.assert_clean()
        run_page.close()
