"""Restarts: what a new app finds on the database an old one left, on SQLite and PostgreSQL.

One story per database, told once (module fixture) and checked by the tests below:

1. The first app runs a backtest (``/run``) and a task to completion, then starts a task that
   stays running (``pmm_gated`` behind its gate) and queues one behind it; then it stops.
2. Between the two lives a task is left ``running`` in the database, as a server killed with
   ``kill -9`` leaves it.
3. With the gate gone, a second app on the same database starts: the finished run and task
   are there unchanged, the stopped and the killed task are ``interrupted``, the queued one
   runs, and ``resubmit`` runs the interrupted one to completion.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hbbacktest.config.settings import Settings
from hbbacktest.store import Store
from tests.api.conftest import (
    BACKENDS,
    T0,
    body,
    database_url,
    gated,
    make_settings,
    start_app,
    stop_app,
    stored,
    wait_task,
)

KILLED = "0123456789abcdef"  # the task a killed server left running


def open_store(settings: Settings) -> Store:
    return Store(settings.database_url or Store.default_url(settings.data_dir))


def tasks(client: TestClient) -> dict[str, dict[str, Any]]:
    return {task["task_id"]: task for task in client.get("/backtesting/tasks").json()}


@pytest.fixture(scope="module", params=BACKENDS)
def story(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path
) -> Iterator[dict[str, Any]]:
    """What each life of the app saw (see the module docstring)."""
    folder = tmp_path_factory.mktemp(f"restart_{request.param}")
    gate = folder / "gate"
    gate.touch()
    seen: dict[str, Any] = {}
    with database_url(request, request.param) as url:
        settings = make_settings(folder, controllers_dir, database_url=url)

        # -- first life ---------------------------------------------------------------------
        first = start_app(settings)
        try:
            ran = first.post("/backtesting/run", json=body(end=T0 + 6 * 3600))
            assert ran.status_code == 200, ran.text
            seen["run_id"] = ran.headers["x-run-id"]
            seen["run_native"] = stored(first, seen["run_id"])
            seen["run_upstream"] = stored(first, seen["run_id"], "hummingbot")
            seen["results_before"] = first.get("/results").json()

            done = first.post("/backtesting/tasks", json=body(end=T0 + 3 * 3600)).json()
            seen["done"] = wait_task(first, done["task_id"])
            assert seen["done"]["status"] == "completed"

            held = first.post("/backtesting/tasks", json=body(gated(gate), end=T0 + 3600))
            seen["held_id"] = held.json()["task_id"]
            wait_task(first, seen["held_id"], ("running",))
            queued = first.post("/backtesting/tasks", json=body(end=T0 + 2 * 3600))
            seen["queued_id"] = queued.json()["task_id"]
            seen["tasks_before"] = tasks(first)
        finally:
            # The dispatcher's thread and stop() both kill the running job's worker: see the
            # report on TaskRunner.stop; what the shutdown raised is kept, not hidden.
            seen["shutdown_error"] = stop_app(first)

        # -- what the database holds between the lives; then a server killed mid-run ---------
        with open_store(settings) as between:
            seen["between"] = {task.id: task for task in between.list_tasks()}
            between.create_task(KILLED, body(end=T0 + 3600))
            assert between.start_task(KILLED)
        gate.unlink()

        # -- second life --------------------------------------------------------------------
        second = start_app(settings)
        try:
            seen["tasks_after_start"] = tasks(second)
            seen["results_after"] = second.get("/results").json()
            seen["run_native_after"] = second.get(f"/results/{seen['run_id']}").content
            seen["run_upstream_after"] = second.get(
                f"/results/{seen['run_id']}", params={"format": "hummingbot"}
            ).content
            seen["done_after"] = second.get(f"/backtesting/tasks/{seen['done']['task_id']}").json()
            seen["queued_after"] = wait_task(second, seen["queued_id"])
            seen["held_interrupted"] = second.get(f"/backtesting/tasks/{seen['held_id']}").json()
            resubmitted = second.post(f"/backtesting/tasks/{seen['held_id']}/resubmit")
            seen["resubmit_answer"] = resubmitted.json()
            seen["held_after"] = wait_task(second, seen["held_id"])
            killed = second.post(f"/backtesting/tasks/{KILLED}/resubmit")
            assert killed.status_code == 200, killed.text
            seen["killed_after"] = wait_task(second, KILLED)
        finally:
            problem = stop_app(second)
        assert problem is None, f"the second app's shutdown raised {problem!r}"
        yield seen


def test_finished_results_survive(story: dict[str, Any]) -> None:
    assert story["run_native_after"] == story["run_native"]
    assert story["run_upstream_after"] == story["run_upstream"]
    before = story["results_before"]["items"]
    assert [item["id"] for item in before] == [story["run_id"]]
    after = {item["id"]: item for item in story["results_after"]["items"]}
    assert after[story["run_id"]] == before[0]
    # The run of the completed task too.
    assert story["done"]["run_id"] in after


def test_finished_tasks_survive(story: dict[str, Any]) -> None:
    assert story["done_after"] == story["done"]  # result included
    assert story["done"]["result"]["executors"]
    listed = story["tasks_after_start"][story["done"]["task_id"]]
    assert listed == {k: v for k, v in story["done"].items() if k != "result"}


def test_a_stopped_app_marks_its_running_task_interrupted(story: dict[str, Any]) -> None:
    assert story["tasks_before"][story["held_id"]]["status"] == "running"
    held = story["between"][story["held_id"]]
    assert held.status == "interrupted"
    assert held.error_kind == "Interrupted"
    assert f"POST /backtesting/tasks/{story['held_id']}/resubmit" in (held.error or "")
    assert held.run_id is None
    assert story["between"][story["queued_id"]].status == "pending"  # left for the next life


def test_the_running_task_is_interrupted_after_restart(story: dict[str, Any]) -> None:
    held = story["held_interrupted"]
    assert held["status"] == "interrupted"
    assert held["error_kind"] == "Interrupted"
    assert "resubmit" in held["error"]
    assert held["run_id"] is None and "result" not in held
    killed = story["tasks_after_start"][KILLED]
    assert killed["status"] == "interrupted"
    assert killed["error_kind"] == "Interrupted"
    assert killed["completed_at"] is not None


def test_resubmit_runs_an_interrupted_task_to_completion(story: dict[str, Any]) -> None:
    assert story["resubmit_answer"] == {"task_id": story["held_id"], "status": "pending"}
    held = story["held_after"]
    assert held["status"] == "completed"
    assert (held["error"], held["error_kind"]) == (None, None)
    assert held["config"]["config"]["controller_name"] == "pmm_gated"  # same body
    assert held["run_id"] and held["result"]["executors"]
    assert story["killed_after"]["status"] == "completed"
    assert story["killed_after"]["result"]["executors"]


def test_pending_tasks_run_after_restart(story: dict[str, Any]) -> None:
    queued = story["queued_after"]
    assert queued["status"] == "completed"
    assert queued["config"] == story["tasks_before"][story["queued_id"]]["config"]
    assert queued["result"]["results"]["total_executors"] > 0


def test_a_killed_servers_task_names_its_own_resubmit_path(story: dict[str, Any]) -> None:
    killed = story["tasks_after_start"][KILLED]
    assert f"POST /backtesting/tasks/{KILLED}/resubmit" in killed["error"]


def test_timestamps_survive_in_order(story: dict[str, Any]) -> None:
    for task in (story["done_after"], story["held_after"], story["queued_after"]):
        created, started, completed = (
            dt.datetime.fromisoformat(task[key])
            for key in ("created_at", "started_at", "completed_at")
        )
        assert created <= started <= completed


def test_stopping_with_a_running_job_raises_nothing(story: dict[str, Any]) -> None:
    """The cancelled job's thread and ``stop()`` both kill the worker: that must be safe.

    (It once raised from ``_Worker.kill`` about half the time, skipping ``store.close()``.)
    """
    assert story["shutdown_error"] is None, repr(story["shutdown_error"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_retention_purges_old_results_at_start(
    request: pytest.FixtureRequest, tmp_path: Path, controllers_dir: Path, backend: str
) -> None:
    with database_url(request, backend) as url:
        settings = make_settings(tmp_path, controllers_dir, database_url=url)
        first = start_app(settings)
        try:
            old_run = first.post("/backtesting/run", json=body(end=T0 + 600)).headers["x-run-id"]
            stored(first, old_run)
            old_task = first.post("/backtesting/tasks", json=body(end=T0 + 600)).json()["task_id"]
            wait_task(first, old_task)
        finally:
            assert stop_app(first) is None
        time.sleep(1.0)
        # 1e-5 days: 0.864 s. Everything finished before now is older than that.
        kept = dataclasses.replace(settings, result_retention_days=1e-5)
        second = start_app(kept)
        try:
            assert second.get("/results").json()["total"] == 0
            assert second.get(f"/results/{old_run}").status_code == 404
            assert second.get(f"/backtesting/tasks/{old_task}").status_code == 404
            new_run = second.post("/backtesting/run", json=body(end=T0 + 600)).headers["x-run-id"]
            stored(second, new_run)
            assert [item["id"] for item in second.get("/results").json()["items"]] == [new_run]
        finally:
            assert stop_app(second) is None
