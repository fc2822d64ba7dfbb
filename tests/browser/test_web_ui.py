"""The web UI in Chromium, against a live ``hbbacktest serve``: form → task → result, sweeps.

One server for the module (``tests/kit/server.py``: offline, its own data dir, stopped with
Ctrl+C and checked for a clean exit). The form runs pmm_simple with its defaults on the demo
connector; a sweep is posted through the API (``POST /sweeps``) and shown by ``/ui/sweeps/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
import yaml

from hbbacktest.report.run import bucket_seconds
from tests.kit.server import LiveServer, live_server

if TYPE_CHECKING:  # Playwright may be missing: the package is then skipped, not broken
    from playwright.sync_api import Page

    from tests.browser.conftest import BrowserLog, Chart

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"
CONTROLLER = "market_making/pmm_simple"
SWEEP_CONFIGS = 6
# Generous: a backtest of the demo week takes ~1 s, a 6-config 1-day sweep ~2 s, on 2 busy cores.
RUN_TIMEOUT_MS = 90_000
SWEEP_TIMEOUT_S = 90.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("web-ui") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def sweep_name(server: LiveServer) -> str:
    """The README's example sweep (6 configs, 1 day each), posted and run to the end."""
    spec: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    spec["start"], spec["end"] = "2024-01-08", "2024-01-09"  # YAML reads dates, JSON wants text
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        started = client.post("/sweeps", json={"spec": spec, "workers": 1})
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + SWEEP_TIMEOUT_S
        while True:
            state = client.get(f"/sweeps/{spec['name']}").json()
            if state["status"] not in ("running", "pending"):
                break
            assert time.monotonic() < deadline, f"sweep still {state['status']}: {state}"
            time.sleep(0.2)
    assert state["status"] == "completed", state
    assert (state["done"], state["failed"]) == (SWEEP_CONFIGS, 0), state
    return str(spec["name"])


def table_rows(page: Page, table_id: str) -> list[dict[str, Any]]:
    """A table's rows: cell texts and the links in them."""
    return page.eval_on_selector_all(
        f"#{table_id} tbody tr",
        """rows => rows.map(r => ({
             cells: Array.from(r.cells).map(c => c.textContent.trim()),
             links: Array.from(r.querySelectorAll('a')).map(a => a.getAttribute('href')),
           }))""",
    )


def test_the_form_runs_a_backtest_and_shows_its_report(
    page: Page,
    server: LiveServer,
    read_charts: Callable[[Page], dict[str, Chart]],
    screenshot: Callable[..., Path],
    browser_log: BrowserLog,
) -> None:
    page.goto(f"{server.url}/ui/new")
    page.wait_for_selector("#new-backtest")
    page.select_option("#controller", CONTROLLER)
    # The config's fields come from the controller's JSON schema, fetched by the page, which
    # marks the form ready for that controller.
    page.wait_for_function(
        """(c) => document.getElementById('new-backtest').dataset.ready === c
                 && document.querySelectorAll('#config-fields .field').length > 0
                 && !document.getElementById('submit').disabled""",
        arg=CONTROLLER,
    )
    screenshot(page, "form")
    browser_log.assert_clean()

    # Submitting queues a task (POST /backtesting/tasks), polls it in #task-status, then
    # opens the result's page.
    with page.expect_response(
        lambda r: r.url.endswith("/backtesting/tasks") and r.request.method == "POST"
    ) as posted:
        page.click("#submit")
    assert posted.value.status == 200, posted.value.text()
    task_id = posted.value.json()["task_id"]
    page.wait_for_url("**/ui/results/**", timeout=RUN_TIMEOUT_MS)
    run_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    charts = read_charts(page)
    assert charts, "the result page has no chart"
    for chart in charts.values():
        chart.assert_drawn()

    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        task = client.get(f"/backtesting/tasks/{task_id}").json()
        stored = client.get(f"/results/{run_id}")
    assert (task["status"], task["run_id"]) == ("completed", run_id), task
    assert stored.status_code == 200, stored.text
    result = stored.json()
    config = result["request"]["config"]
    assert (config["controller_name"], config["connector_name"]) == ("pmm_simple", "demo")
    # Every bar the run stepped through is drawn: as a candle, or within one of the coarser
    # candles the report resamples a long run to (the demo week: 10 081 bars → 3m candles).
    candles = [t for c in charts.values() for t in c.of_type("candlestick", "ohlc")]
    assert candles, "no candlestick trace on the result page"
    bars = np.asarray(result["pnl_timeseries"]["timestamp"], dtype=np.int64)
    assert bars[0] == result["request"]["start"] and bars[-1] == result["request"]["end"]
    bucket = bucket_seconds(bars)
    assert candles[0]["x"] == np.unique(bars // bucket).shape[0]
    executors = [t for c in charts.values() for t in c.traces if t["legendgroup"] == "executors"]
    assert sum(t["x"] // 3 for t in executors) == len(result["executors"])
    screenshot(page, "result")
    browser_log.assert_clean()


def test_the_sweep_page_draws_a_sweep_posted_through_the_api(
    page: Page,
    server: LiveServer,
    sweep_name: str,
    read_charts: Callable[[Page], dict[str, Chart]],
    screenshot: Callable[..., Path],
) -> None:
    page.goto(f"{server.url}/ui/sweeps/{sweep_name}")
    charts = read_charts(page)
    assert "heatmap" in charts, sorted(charts)
    charts["heatmap"].assert_drawn()
    (trace,) = charts["heatmap"].of_type("heatmap")
    assert (trace["x"], trace["z"]) == (3, 2)  # buy_spreads × take_profit
    charts["parcoords"].assert_drawn()
    (lines,) = charts["parcoords"].of_type("parcoords")
    assert lines["dimension_values"] == [SWEEP_CONFIGS] * 3  # 2 parameters and the metric
    rows = table_rows(page, "top")
    assert len(rows) == SWEEP_CONFIGS
    assert [row["cells"][0] for row in rows] == [str(k) for k in range(1, SWEEP_CONFIGS + 1)]
    screenshot(page)


def test_the_dashboard_lists_results_tasks_and_sweeps(
    page: Page, server: LiveServer, sweep_name: str, screenshot: Callable[..., Path]
) -> None:
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        stored = client.get("/results").json()
    page.goto(f"{server.url}/")
    for table in ("results", "tasks", "sweeps"):
        page.wait_for_selector(f"#{table}")

    results = table_rows(page, "results")
    assert len(results) == min(stored["total"], 50)
    assert [row["cells"][0] for row in results] == [item["id"] for item in stored["items"]]
    for row in results:
        assert row["links"][0] == f"/ui/results/{row['cells'][0]}"

    # The form's task (when that test ran first): linked to its page and to its result.
    tasks = table_rows(page, "tasks")
    assert len(tasks) >= len(results)
    for row in tasks:
        assert row["links"][0] == f"/ui/tasks/{row['cells'][0]}"
        if row["cells"][1] == "completed":
            assert row["links"][1] == f"/ui/results/{row['cells'][5]}"

    sweeps = table_rows(page, "sweeps")
    (ours,) = [row for row in sweeps if row["cells"][0] == sweep_name]
    assert ours["cells"][1] == "completed"
    assert ours["links"][0] == f"/ui/sweeps/{sweep_name}"
    screenshot(page)

    # Its link opens the sweep's page.
    page.click(f"#sweeps a[href='/ui/sweeps/{sweep_name}']")
    page.wait_for_url(f"**/ui/sweeps/{sweep_name}")
    page.wait_for_selector("#heatmap.js-plotly-plot")
