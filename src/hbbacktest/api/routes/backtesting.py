"""hummingbot-api's backtesting endpoints, with its bodies and answers.

``POST /backtesting/run`` (and the legacy ``/backtesting/run-backtesting`` and
``/run-backtesting`` the dashboard still calls) runs a backtest and answers upstream's result
shape; ``/backtesting/tasks`` queues them. Unlike upstream, failures are HTTP errors with a
``detail`` (never 200 ``{"error"}``), and tasks survive a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gzip
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from hbbacktest.api.deps import RunnerDep, StateDep, StoreDep
from hbbacktest.api.errors import problem
from hbbacktest.config.limits import json_safe
from hbbacktest.core.errors import NotFoundError
from hbbacktest.service.hbapi import BacktestingConfig, request_from_body
from hbbacktest.store import TaskRecord

T = TypeVar("T")
router = APIRouter(prefix="/backtesting", tags=["backtesting"])
legacy_router = APIRouter(tags=["backtesting"])

_RESULT_DOC = {
    200: {
        "description": "hummingbot-api's result: executors, processed_data, results, "
        "position_holds, position_held_timeseries, pnl_timeseries (+ warnings, run_id, "
        "fill_model). The stored run's id is in the X-Run-ID header.",
        "content": {"application/json": {"example": {"executors": [], "results": {}}}},
    },
    400: problem("A saved config name that leaves the configs directory."),
    404: problem("No such saved config, or no such controller (the available ones listed)."),
    409: problem("Candles missing offline (names the range and the fetch command)."),
    422: problem("Invalid body or config (field path and message)."),
    429: problem("Queue full; retry after Retry-After seconds."),
    502: problem("The exchange refused the candle request."),
    503: problem("The exchange kept failing (Retry-After), or the results database is down."),
    504: problem("The backtest ran past HBBACKTEST_TASK_TIMEOUT and was stopped."),
}
_TASK_EXAMPLE = {
    "task_id": "3f2a9c1d0b7e4a55",
    "status": "completed",
    "config": {"start_time": 1735689600, "end_time": 1736294400, "config": {}},
    "created_at": "2026-12-01T12:00:00.000000+00:00",
    "started_at": "2026-12-01T12:00:00.100000+00:00",
    "completed_at": "2026-12-01T12:00:01.200000+00:00",
    "error": None,
}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


def task_dict(task: TaskRecord) -> dict[str, Any]:
    """A task as hummingbot-api shows it (``config`` is the posted body), plus our fields."""
    return {
        "task_id": task.id,
        "status": task.status,
        "config": task.body,
        "created_at": _iso(task.created_at),
        "started_at": _iso(task.started_at),
        "completed_at": _iso(task.completed_at),
        "error": task.error,
        "error_kind": task.error_kind,
        "run_id": task.run_id,
    }


async def _validate(state: StateDep, body: BacktestingConfig) -> dict[str, Any]:
    """Check the body and its config now (422/400/404 before queueing); the stored form."""

    def check() -> None:
        with state.registry_lock:
            request_from_body(
                body, registry=state.registry, configs_dir=state.settings.configs_path
            )

    await run_in_threadpool(check)
    # Unknown config keys are echoed, not checked: keep them storable (no >64-bit integers).
    posted: dict[str, Any] = json_safe(body.model_dump(mode="json", exclude_none=True))
    return posted


async def _unless_gone(request: Request, work: Awaitable[T]) -> T | None:
    """Await ``work``; None, with ``work`` cancelled, if the client disconnects first.

    Neither uvicorn nor Starlette cancels a route whose client left: without this a client
    that times out and retries would stack up runs nobody reads.
    """
    job = asyncio.ensure_future(work)

    async def gone() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    watcher = asyncio.ensure_future(gone())
    try:
        await asyncio.wait({job, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not job.done():
        job.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await job
        return None
    return job.result()


async def _run(request: Request, body: BacktestingConfig, state: StateDep) -> Response:
    posted = await _validate(state, body)
    answer = await _unless_gone(request, state.runner.run(posted))
    if answer is None:  # nobody is listening: 499, nginx's "client closed request", for the log
        return Response(status_code=499)
    run_id, upstream = answer
    # Sent as encoded: compressing several MB here would cost more than loopback or LAN saves.
    return Response(upstream, media_type="application/json", headers={"X-Run-ID": run_id})


@router.post("/run", response_class=Response, responses=_RESULT_DOC)  # type: ignore[arg-type]
async def run_backtesting(request: Request, body: BacktestingConfig, state: StateDep) -> Response:
    """Run a backtest and wait for its result (stored too: see ``GET /results``)."""
    return await _run(request, body, state)


@router.post(
    "/run-backtesting",
    response_class=Response,
    responses=_RESULT_DOC,  # type: ignore[arg-type]
    include_in_schema=True,
)
async def run_backtesting_legacy(
    request: Request, body: BacktestingConfig, state: StateDep
) -> Response:
    """The dashboard's path for ``/backtesting/run`` (same body, same answer)."""
    return await _run(request, body, state)


@legacy_router.post(
    "/run-backtesting",
    response_class=Response,
    responses=_RESULT_DOC,  # type: ignore[arg-type]
)
async def run_backtesting_root(
    request: Request, body: BacktestingConfig, state: StateDep
) -> Response:
    """The oldest path for ``/backtesting/run`` (same body, same answer)."""
    return await _run(request, body, state)


@router.post(
    "/tasks",
    responses={
        200: {
            "content": {
                "application/json": {"example": {"task_id": "3f2a9c1d", "status": "pending"}}
            }
        },
        400: problem("A saved config name that leaves the configs directory."),
        404: problem("No such saved config, or no such controller."),
        422: problem("Invalid body or config."),
        429: problem("Queue full; retry after Retry-After seconds."),
    },
)
async def create_backtest_task(body: BacktestingConfig, state: StateDep) -> dict[str, Any]:
    """Queue a backtest; poll ``GET /backtesting/tasks/{task_id}`` for its result."""
    posted = await _validate(state, body)
    task = await state.runner.submit(posted)
    return {"task_id": task.id, "status": task.status}


@router.get(
    "/tasks",
    responses={200: {"content": {"application/json": {"example": [_TASK_EXAMPLE]}}}},
)
async def list_backtest_tasks(store: StoreDep) -> list[dict[str, Any]]:
    """Every task, oldest first, without results."""
    tasks = await run_in_threadpool(store.list_tasks)
    return [task_dict(task) for task in tasks]


@router.get(
    "/tasks/{task_id}",
    response_class=Response,
    responses={
        200: {"content": {"application/json": {"example": {**_TASK_EXAMPLE, "result": {}}}}},
        404: problem("No such task."),
    },
)
async def get_backtest_task(task_id: str, store: StoreDep) -> Response:
    """A task, with ``result`` (hummingbot-api's result shape) once completed."""

    def build() -> bytes:
        task = store.get_task(task_id)
        if task is None:
            raise NotFoundError(f"Task {task_id} not found")
        head = orjson.dumps(task_dict(task))
        body_gz = store.run_body(task.run_id, "upstream") if task.run_id else None
        if task.status != "completed" or body_gz is None:
            return head
        # Spliced, not parsed: a large result costs one inflate.
        return head[:-1] + b',"result":' + gzip.decompress(body_gz) + b"}"

    return Response(await run_in_threadpool(build), media_type="application/json")


@router.delete(
    "/tasks/{task_id}",
    responses={
        200: {
            "content": {
                "application/json": {"example": {"status": "deleted", "task_id": "3f2a9c1d"}}
            }
        },
        404: problem("No such task."),
    },
)
async def delete_backtest_task(task_id: str, runner: RunnerDep) -> dict[str, str]:
    """Cancel a pending or running task (stopped within a second) or remove a finished one."""
    await runner.delete(task_id)
    return {"status": "deleted", "task_id": task_id}


@router.post(
    "/tasks/{task_id}/resubmit",
    responses={
        200: {
            "content": {
                "application/json": {"example": {"task_id": "3f2a9c1d", "status": "pending"}}
            }
        },
        404: problem("No such task."),
        409: problem("The task is still pending or running."),
    },
)
async def resubmit_backtest_task(task_id: str, runner: RunnerDep) -> dict[str, Any]:
    """Run a finished task again (same id, same body): for tasks ``interrupted`` by a restart."""
    task = await runner.resubmit(task_id)
    return {"task_id": task.id, "status": task.status}
