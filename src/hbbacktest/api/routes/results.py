"""Stored results: every backtest the API ran, listed without bodies, fetched in either format."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from hbbacktest.api.deps import StoreDep
from hbbacktest.api.errors import problem
from hbbacktest.api.responses import gzip_json_response
from hbbacktest.core.errors import NotFoundError
from hbbacktest.core.time import parse_time
from hbbacktest.store import RunRecord

router = APIRouter(prefix="/results", tags=["results"])


def run_dict(run: RunRecord) -> dict[str, Any]:
    """A stored run's metadata and metrics."""
    return {
        "id": run.id,
        "config_id": run.config_id,
        "task_id": run.task_id,
        "controller_name": run.controller_name,
        "controller_type": run.controller_type,
        "connector_name": run.connector_name,
        "trading_pair": run.trading_pair,
        "start": run.start,
        "end": run.end,
        "backtesting_resolution": run.backtesting_resolution,
        "fill_model": run.fill_model,
        "results": run.results,
        "warnings": run.warnings,
        "seconds": run.seconds,
        "created_at": run.created_at,
        "size_bytes": run.native_size,
    }


@router.get(
    "",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"total": 1, "limit": 50, "offset": 0, "items": [{"id": "9c0e…"}]}
                }
            }
        }
    },
)
async def list_results(
    store: StoreDep,
    controller_name: str | None = None,
    connector_name: str | None = None,
    trading_pair: str | None = None,
    since: Annotated[str | None, Query(description="stored at or after (date or epoch s)")] = None,
    until: Annotated[str | None, Query(description="stored before (date or epoch s)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """Stored results, newest first, filtered by controller, connector, pair and date."""
    bounds = [
        None if raw is None else _moment(raw, name)
        for raw, name in ((since, "since"), (until, "until"))
    ]
    rows, total = await run_in_threadpool(
        lambda: store.list_runs(
            controller_name=controller_name,
            connector_name=connector_name,
            trading_pair=trading_pair,
            since=bounds[0],
            until=bounds[1],
            limit=limit,
            offset=offset,
        )
    )
    return {"total": total, "limit": limit, "offset": offset, "items": [run_dict(r) for r in rows]}


def _moment(raw: str, name: str) -> float:
    """A date, ISO time or epoch; epoch seconds keep their fraction (``created_at`` has one)."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and 0 <= value < 1e10:  # seconds, not ms/µs/ns
        return value
    return float(parse_time(raw, field=name))


@router.get(
    "/{run_id}",
    response_class=Response,
    responses={
        200: {"description": "The native result (what `hbbacktest run` writes)."},
        404: problem("No such result."),
    },
)
async def get_result(
    run_id: str,
    request: Request,
    store: StoreDep,
    format: Literal["native", "hummingbot"] = "native",
) -> Response:
    """One stored result: ``native`` (hbbacktest's JSON) or ``hummingbot`` (hummingbot-api's)."""
    encoding: Literal["native", "upstream"] = "native" if format == "native" else "upstream"
    body = await run_in_threadpool(store.run_body, run_id, encoding)
    if body is None:
        raise NotFoundError(f"result {run_id} not found")
    return await gzip_json_response(request, body)


@router.delete(
    "/{run_id}",
    responses={
        200: {"content": {"application/json": {"example": {"status": "deleted", "id": "9c0e"}}}},
        404: problem("No such result."),
    },
)
async def delete_result(run_id: str, store: StoreDep) -> dict[str, str]:
    """Delete a stored result."""
    if not await run_in_threadpool(store.delete_run, run_id):
        raise NotFoundError(f"result {run_id} not found")
    return {"status": "deleted", "id": run_id}
