"""The web UI's pages on the shared app: dashboard, form, task, result and sweep pages, 404s,
static files, auth.

What the pages do in a browser (the form generated from a schema, the pollers) is checked in
``tests/browser/test_web_ui.py``; here the server side: status, type, element ids, escaping,
caching. Every test posts runs, tasks and sweeps of its own and looks only for them.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from hbbacktest.config.settings import Settings
from hbbacktest.report.html import plotly_js
from tests.api.conftest import CREDENTIALS, body, gated, stored, wait_health, wait_task

EVIL = "<script>x</script>"
EVIL_ESCAPED = "&lt;script&gt;x&lt;/script&gt;"
EVIL_NAME = "<img src=x onerror=alert(1)>"  # no slash: one path segment
WAIT_S = 60.0


def html_of(answer: Any, status: int = 200) -> str:
    assert answer.status_code == status, answer.text[:2000]
    assert answer.headers["content-type"].startswith("text/html")
    text: str = answer.text
    assert text.startswith("<!DOCTYPE html>")
    assert 'id="ui-nav"' in text
    return text


def ids_in(text: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', text))


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


# ------------------------------------------------------------------------------------------
# Dashboard and tasks


def test_dashboard_lists_runs_and_tasks_with_every_user_value_escaped(client: TestClient) -> None:
    posted = client.post("/backtesting/tasks", json=body(gated(id=EVIL)))
    assert posted.status_code == 200, posted.text
    task_id = posted.json()["task_id"]
    task = wait_task(client, task_id)
    assert task["status"] == "completed", task
    run_id = task["run_id"]
    stored(client, run_id)

    text = html_of(client.get("/"))
    assert {"results", "tasks", "sweeps", "new-link"} <= ids_in(text)
    assert EVIL not in text
    assert EVIL_ESCAPED in text
    assert f'href="/ui/tasks/{task_id}"' in text
    assert f'href="/ui/results/{run_id}"' in text  # in both tables
    assert '<script src="/ui/static/app.js?v=' in text
    # Newest first: our run heads the results table.
    first = re.search(
        r'<tbody><tr><td[^>]*><a href="/ui/results/([^"]+)"', text.split('id="results"')[1]
    )
    assert first is not None and first[1] == run_id


def test_dashboard_limit_is_checked(client: TestClient) -> None:
    assert client.get("/", params={"limit": 0}).status_code == 422
    html_of(client.get("/", params={"limit": 1}))


def test_a_running_task_has_a_status_page_then_goes_to_its_result(
    client: TestClient, gate: Path
) -> None:
    wait_health(client, running=0, queue_depth=0)
    posted = client.post("/backtesting/tasks", json=body(gated(gate, id=EVIL)))
    assert posted.status_code == 200, posted.text
    task_id = posted.json()["task_id"]
    wait_task(client, task_id, ("running",))

    text = html_of(client.get(f"/ui/tasks/{task_id}"))
    assert {"task-status", "cancel"} <= ids_in(text)
    assert f'data-task-id="{task_id}"' in text
    assert 'data-status="running"' in text
    assert EVIL not in text and EVIL_ESCAPED in text
    dashboard = html_of(client.get("/"))
    assert f'<a href="/ui/tasks/{task_id}">{task_id}</a></td><td class="text">running' in dashboard

    status = client.get(f"/ui/tasks/{task_id}/status")
    assert status.status_code == 200
    assert status.json()["status"] == "running"
    assert set(status.json()) == {"task_id", "status", "run_id", "error", "error_kind", "elapsed_s"}

    gate.unlink()
    task = wait_task(client, task_id)
    assert task["status"] == "completed", task
    done = client.get(f"/ui/tasks/{task_id}/status").json()
    assert (done["status"], done["run_id"]) == ("completed", task["run_id"])
    redirect = client.get(f"/ui/tasks/{task_id}", follow_redirects=False)
    assert redirect.status_code == 303
    assert redirect.headers["location"] == f"/ui/results/{task['run_id']}"


def test_a_failed_task_shows_its_error(client: TestClient) -> None:
    posted = client.post("/backtesting/tasks", json=body(gated(fail=True)))
    assert posted.status_code == 200, posted.text
    task_id = posted.json()["task_id"]
    assert wait_task(client, task_id)["status"] == "failed"
    text = html_of(client.get(f"/ui/tasks/{task_id}"))
    assert 'data-status="failed"' in text
    assert "task-error" in ids_in(text)
    assert "pmm_gated was told to fail" in text
    assert "cancel" not in ids_in(text)


# ------------------------------------------------------------------------------------------
# The form


def test_the_form_lists_every_controller_and_starts_on_the_demo(client: TestClient) -> None:
    catalogue = client.get("/controllers/").json()
    text = html_of(client.get("/ui/new"))
    assert {
        "new-backtest",
        "controller",
        "config-fields",
        "start",
        "end",
        "resolution",
        "trade-cost",
        "fill-model",
        "submit",
        "form-errors",
        "task-status",
    } <= ids_in(text)
    select = text.split('id="controller"')[1].split("</select>")[0]
    options = re.findall(r'<option value="([^"]+)"( selected)?>', select)
    values = [value for value, _ in options if "/" in value]
    assert values == [f"{kind}/{name}" for kind, names in catalogue.items() for name in names]
    assert "market_making/pmm_gated" in values  # a user controller gets a form too
    assert [value for value, selected in options if selected] == ["market_making/pmm_simple"]
    defaults = re.search(r'data-defaults="([^"]+)"', text)
    assert defaults is not None
    assert orjson.loads(html.unescape(defaults[1])) == {
        "connector_name": "demo",
        "trading_pair": "BTC-USDT",
    }
    assert 'id="start" name="start" type="date" value="2024-01-08"' in text
    assert 'id="end" name="end" type="date" value="2024-01-15"' in text


def test_the_form_preselects_a_controller_and_escapes_the_choice(client: TestClient) -> None:
    text = html_of(client.get("/ui/new", params={"controller": "market_making/pmm_gated"}))
    assert '<option value="market_making/pmm_gated" selected>' in text
    text = html_of(client.get("/ui/new", params={"controller": EVIL}))
    assert EVIL not in text
    assert " selected>" not in text.split('id="controller"')[1].split("</select>")[0]


# ------------------------------------------------------------------------------------------
# Result pages


def test_the_result_page_is_the_runs_report(client: TestClient) -> None:
    from hbbacktest.service.report import render_run_report

    config = {**gated(), "id": EVIL}
    answer = client.post("/backtesting/run", json=body(config))
    assert answer.status_code == 200, answer.text
    run_id = answer.headers["x-run-id"]
    native = orjson.loads(stored(client, run_id))

    page = client.get(f"/ui/results/{run_id}")
    assert page.headers["content-encoding"] == "gzip"  # megabytes of executors, compressed
    text = html_of(page)
    plain = client.get(f"/ui/results/{run_id}", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.text == text
    expected, _ = render_run_report(native, settings=settings_of(client), offline=True)
    charts = set(re.findall(r'<div id="([^"]+)" class="figure"', expected))
    assert charts, "the report has no chart"
    assert charts <= ids_in(text)
    assert EVIL not in text
    # plotly.js comes from its cached route, not in the page.
    assert '<script src="/ui/static/plotly.min.js"></script>' in text
    assert plotly_js()[:2000] not in text
    # A stored run never changes: the browser revalidates with its ETag.
    etag = page.headers["etag"]
    again = client.get(f"/ui/results/{run_id}", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.headers["etag"] == etag


@pytest.mark.parametrize(
    "path",
    ["/ui/results/nope", "/ui/tasks/nope", "/ui/sweeps/nope", f"/ui/sweeps/{EVIL_NAME}"],
)
def test_unknown_ids_answer_a_404_page(client: TestClient, path: str) -> None:
    text = html_of(client.get(path), 404)
    assert "not-found" in ids_in(text)
    assert EVIL_NAME not in text


def test_an_unknown_task_status_is_a_json_404(client: TestClient) -> None:
    answer = client.get("/ui/tasks/nope/status")
    assert answer.status_code == 404
    assert answer.json()["error"] == "NotFoundError"


# ------------------------------------------------------------------------------------------
# Sweeps


def wait_sweep(client: TestClient, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        state: dict[str, Any] = client.get(f"/sweeps/{name}").json()
        if state["status"] not in ("running", "pending"):
            return state
        assert time.monotonic() < deadline, f"sweep {name} still running: {state}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def sweep_name(client: TestClient) -> str:
    """A finished 2 × 2 sweep of pmm_simple on one demo day."""
    name = f"ui_{uuid.uuid4().hex[:8]}"
    spec = {
        "name": name,
        "base": {
            "controller_name": "pmm_simple",
            "controller_type": "market_making",
            "connector_name": "demo",
            "trading_pair": "BTC-USDT",
            "total_amount_quote": 1000,
        },
        "grid": {"buy_spreads": ["0.001", "0.004"], "take_profit": [0.002, 0.004]},
        "start": "2024-01-08",
        "end": "2024-01-09",
    }
    started = client.post("/sweeps", json={"spec": spec})
    assert started.status_code == 202, started.text
    state = wait_sweep(client, name)
    assert (state["status"], state["done"]) == ("completed", 4), state
    return name


def test_the_sweep_page_has_a_leaderboard_and_a_heatmap(
    client: TestClient, sweep_name: str
) -> None:
    answer = client.get(f"/ui/sweeps/{sweep_name}")
    text = html_of(answer)
    assert {"heatmap", "top", "sweep-status", "sweep-options", "sweep-metric"} <= ids_in(text)
    # plotly.js comes from its cached route, not in the page.
    assert '<script src="/ui/static/plotly.min.js"></script>' in text
    assert len(answer.content) < 500_000
    leaderboard = text.split('id="top"', 1)[1].split("</table>", 1)[0]
    assert leaderboard.count("<tr>") == 1 + 4  # the header and four configs

    dashboard = html_of(client.get("/"))
    assert f'href="/ui/sweeps/{sweep_name}"' in dashboard

    chosen = html_of(client.get(f"/ui/sweeps/{sweep_name}", params={"metric": "sharpe_ratio"}))
    assert '<option value="sharpe_ratio" selected>' in chosen


def test_a_sweep_page_names_a_metric_it_does_not_have(client: TestClient, sweep_name: str) -> None:
    text = html_of(client.get(f"/ui/sweeps/{sweep_name}", params={"metric": EVIL}), 422)
    assert "sweep-error" in ids_in(text)
    assert EVIL not in text


# ------------------------------------------------------------------------------------------
# Static files


@pytest.mark.parametrize("path", ["/ui/static/app.js", "/ui/static/plotly.min.js"])
def test_static_scripts_are_cached_and_compressed(client: TestClient, path: str) -> None:
    plain = client.get(path, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/javascript")
    assert "content-encoding" not in plain.headers
    assert "max-age=" in plain.headers["cache-control"]
    etag = plain.headers["etag"]
    if path.endswith("plotly.min.js"):
        assert plain.text == plotly_js()
    else:
        assert "new-backtest" in plain.text

    packed = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["etag"] == etag
    assert packed.content == plain.content  # httpx inflates it
    assert int(packed.headers["content-length"]) < len(plain.content) / 2

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200


def test_the_favicon_is_served(client: TestClient) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg")


# ------------------------------------------------------------------------------------------
# Auth


@pytest.mark.parametrize("path", ["/", "/ui/new", "/ui/static/app.js", "/ui/results/nope"])
def test_the_ui_asks_for_credentials(auth_client: TestClient, path: str) -> None:
    refused = auth_client.get(path)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Basic"  # the browser's login prompt
    allowed = auth_client.get(path, auth=CREDENTIALS)
    assert allowed.status_code in (200, 404)
