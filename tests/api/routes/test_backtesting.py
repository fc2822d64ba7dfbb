"""hummingbot-api's backtesting endpoints: ``/backtesting/run`` (and its legacy paths) and tasks.

What the API answers is compared with an in-process ``run_backtest`` of the same body: the
engine is deterministic, so hummingbot-api's JSON must be byte for byte the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from hbbacktest.config.settings import Settings
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.metrics.upstream import upstream_result_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.defaults import DEFAULT_CONFIG
from hbbacktest.service.hbapi import request_from_body
from tests.api.conftest import (
    T0,
    body,
    gated,
    make_settings,
    running_app,
    stored,
    strict_json,
    wait_health,
    wait_task,
)

UPSTREAM_KEYS = {
    "executors",
    "processed_data",
    "results",
    "position_holds",
    "position_held_timeseries",
    "pnl_timeseries",
}


def native(settings: Settings, posted: dict[str, Any]) -> BacktestResult:
    """The in-process run of a hummingbot-api body, on the app's data and controllers."""
    registry = build_registry(settings)
    request = request_from_body(posted, registry=registry, configs_dir=settings.configs_path)
    return run_backtest(request, settings=settings, registry=registry)


@pytest.fixture(scope="module")
def day(client_settings: Settings) -> BacktestResult:
    """The native run of the default body (pmm_simple, demo, one day)."""
    return native(client_settings, body())


def test_run_answers_what_a_native_run_gives(client: TestClient, day: BacktestResult) -> None:
    answer = client.post("/backtesting/run", json=body())
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    result = strict_json(answer.content)
    assert UPSTREAM_KEYS <= result.keys()
    assert len(result["executors"]) == len(day.executors()) == day.results["total_executors"]
    assert result["executors"][0]["controller_id"] == DEFAULT_CONFIG["id"]
    assert result["results"]["net_pnl_quote"] == day.results["net_pnl_quote"]
    assert result["fill_model"] == "hummingbot"
    assert answer.content == upstream_result_json(day)
    # Stored too (a moment after the answer): the X-Run-ID header names it.
    run_id = answer.headers["x-run-id"]
    assert stored(client, run_id, "hummingbot") == answer.content
    assert stored(client, run_id, "native") == day.to_json().encode()


@pytest.mark.parametrize("path", ["/backtesting/run-backtesting", "/run-backtesting"])
def test_legacy_paths_answer_the_same(client: TestClient, day: BacktestResult, path: str) -> None:
    answer = client.post(path, json=body())
    assert answer.status_code == 200, answer.text
    assert answer.content == upstream_result_json(day)
    assert answer.headers["x-run-id"]


@pytest.mark.parametrize(
    "options",
    [
        {"fill_model": "touch"},
        {"backtesting_resolution": "5m"},
        {"trade_cost": 0.001},
        {"candles_trading_pair": "ETH-USDT"},
    ],
    ids=["touch", "5m", "trade_cost", "price_pair"],
)
def test_request_options_reach_the_engine(
    client: TestClient, client_settings: Settings, day: BacktestResult, options: dict[str, Any]
) -> None:
    posted = body(**options)
    answer = client.post("/backtesting/run", json=posted)
    assert answer.status_code == 200, answer.text
    expected = native(client_settings, posted)
    assert answer.content == upstream_result_json(expected)
    assert answer.content != upstream_result_json(day)  # the option changed something
    assert answer.json()["fill_model"] == options.get("fill_model", "hummingbot")


def test_unknown_body_keys_are_ignored_as_upstream(client: TestClient, day: BacktestResult) -> None:
    answer = client.post("/backtesting/run", json={**body(), "dashboard_extra": {"x": 1}})
    assert answer.status_code == 200, answer.text
    assert answer.content == upstream_result_json(day)


def test_a_task_runs_and_keeps_its_result(client: TestClient, day: BacktestResult) -> None:
    posted = body()
    created = client.post("/backtesting/tasks", json=posted)
    assert created.status_code == 200, created.text
    task_id = created.json()["task_id"]
    assert created.json() == {"task_id": task_id, "status": "pending"}

    task = wait_task(client, task_id)
    assert task["status"] == "completed", task
    # hummingbot-api's config is the posted body (with its defaults filled in).
    assert task["config"] == {
        **posted,
        "backtesting_resolution": "1m",
        "trade_cost": 0.0006,
        "fill_model": "hummingbot",
    }
    created_at, started_at, completed_at = (
        dt.datetime.fromisoformat(task[key]) for key in ("created_at", "started_at", "completed_at")
    )
    assert created_at <= started_at <= completed_at
    assert created_at.utcoffset() == dt.timedelta(0)
    assert (task["error"], task["error_kind"]) == (None, None)
    assert task["result"] == orjson.loads(upstream_result_json(day))
    assert orjson.loads(stored(client, task["run_id"], "hummingbot")) == task["result"]
    assert client.get("/results", params={"limit": 1000}).json()["items"][0]["task_id"] == task_id

    listed = {t["task_id"]: t for t in client.get("/backtesting/tasks").json()}
    assert "result" not in listed[task_id]
    assert listed[task_id] == {k: v for k, v in task.items() if k != "result"}

    deleted = client.delete(f"/backtesting/tasks/{task_id}")
    assert deleted.json() == {"status": "deleted", "task_id": task_id}
    assert client.get(f"/backtesting/tasks/{task_id}").status_code == 404
    assert client.delete(f"/backtesting/tasks/{task_id}").status_code == 404
    # The run outlives its task.
    assert stored(client, task["run_id"]) == day.to_json().encode()


def test_tasks_are_listed_oldest_first(client: TestClient) -> None:
    ids = [
        client.post("/backtesting/tasks", json=body(end=T0 + 600)).json()["task_id"]
        for _ in range(3)
    ]
    for task_id in ids:
        wait_task(client, task_id)
    listed = [t["task_id"] for t in client.get("/backtesting/tasks").json()]
    assert [t for t in listed if t in ids] == ids
    for task_id in ids:
        client.delete(f"/backtesting/tasks/{task_id}")


def test_a_failed_task_says_why(client: TestClient) -> None:
    task_id = client.post("/backtesting/tasks", json=body(gated(fail=True))).json()["task_id"]
    task = wait_task(client, task_id)
    assert task["status"] == "failed"
    assert task["error_kind"] == "ControllerError"
    assert "pmm_gated" in task["error"] and "pmm_gated was told to fail" in task["error"]
    assert task["run_id"] is None and "result" not in task
    assert task["completed_at"] is not None


def test_resubmit_runs_a_finished_task_again(client: TestClient, day: BacktestResult) -> None:
    task_id = client.post("/backtesting/tasks", json=body()).json()["task_id"]
    first = wait_task(client, task_id)
    again = client.post(f"/backtesting/tasks/{task_id}/resubmit")
    assert again.status_code == 200, again.text
    assert again.json() == {"task_id": task_id, "status": "pending"}
    second = wait_task(client, task_id)
    assert second["status"] == "completed"
    assert second["run_id"] != first["run_id"]
    assert second["result"] == first["result"] == orjson.loads(upstream_result_json(day))
    assert client.post("/backtesting/tasks/no-such-task/resubmit").status_code == 404


def test_a_bad_body_is_refused_before_queueing(client: TestClient) -> None:
    before = len(client.get("/backtesting/tasks").json())
    bad = {**DEFAULT_CONFIG, "buy_spreads": "0.01,oops"}
    for path in ("/backtesting/tasks", "/backtesting/run"):
        answer = client.post(path, json=body(bad))
        assert answer.status_code == 422
        assert answer.json()["error"] == "ConfigError"
        assert "buy_spreads" in answer.json()["detail"] and "oops" in answer.json()["detail"]
    missing = client.post("/backtesting/tasks", json={"start_time": T0})
    assert missing.status_code == 422
    assert missing.json()["detail"] == [
        {"loc": ["body", "config"], "msg": "Field required", "type": "missing"}
    ]
    assert len(client.get("/backtesting/tasks").json()) == before


def test_an_unknown_controller_is_not_found_with_suggestions(client: TestClient) -> None:
    answer = client.post(
        "/backtesting/run", json=body({**DEFAULT_CONFIG, "controller_name": "pmm_simpel"})
    )
    assert answer.status_code == 404
    detail = answer.json()["detail"]
    assert "did you mean 'pmm_simple'" in detail
    assert "pmm_gated" in detail  # user controllers are listed too


def test_cancelling_a_pending_task(client: TestClient, gate: Path) -> None:
    holder = client.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    wait_task(client, holder, ("running",))
    waiting = client.post("/backtesting/tasks", json=body()).json()["task_id"]
    assert client.get(f"/backtesting/tasks/{waiting}").json()["status"] == "pending"
    assert client.get("/health").json()["queue_depth"] == 1
    assert client.delete(f"/backtesting/tasks/{waiting}").status_code == 200
    assert client.get(f"/backtesting/tasks/{waiting}").status_code == 404
    assert client.get("/health").json()["queue_depth"] == 0
    gate.unlink()
    assert wait_task(client, holder)["status"] == "completed"
    assert client.get(f"/backtesting/tasks/{waiting}").status_code == 404  # never ran


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path) -> Iterator[TestClient]:
    """An app with two workers."""
    settings = make_settings(tmp_path_factory.mktemp("pool"), controllers_dir)
    with running_app(settings, workers=2) as started:
        yield started


def test_two_workers_run_two_backtests_at_once(pool: TestClient, gate: Path) -> None:
    held = [
        pool.post("/backtesting/tasks", json=body(gated(gate), end=T0 + 3600)).json()["task_id"]
        for _ in range(2)
    ]
    for task_id in held:
        wait_task(pool, task_id, ("running",))
    third = pool.post("/backtesting/tasks", json=body(end=T0 + 3600)).json()["task_id"]
    assert wait_health(pool, running=2, queue_depth=1)["workers"] == 2
    assert pool.get(f"/backtesting/tasks/{third}").json()["status"] == "pending"
    gate.unlink()
    results = [wait_task(pool, task_id) for task_id in [*held, third]]
    assert [task["status"] for task in results] == ["completed"] * 3
    # Same body, same answer, whichever worker ran it.
    assert results[0]["result"] == results[1]["result"]
