"""Parameter sweeps: post a spec, watch it run, stop it, query its results and its best config.

A sweep runs in the background (``POST /sweeps`` answers 202 at once), resumably: every
finished item is stored as it arrives, and posting the same spec again runs only what is not
done. The spec is the JSON form of the YAML files in ``examples/sweeps/``; its ``base`` is a
controller config, or the name of a saved config (``GET /controllers/configs``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hbbacktest.api.deps import StateDep, StoreDep
from hbbacktest.api.errors import problem
from hbbacktest.config.validation import validate_model
from hbbacktest.core.errors import ConfigError, DataError
from hbbacktest.service.configs import read_config
from hbbacktest.service.sweeps import SweepJobs
from hbbacktest.store import ResultRow, parse_condition
from hbbacktest.sweep import Expansion, SweepSpec, expand
from hbbacktest.sweep.results import DEFAULT_METRIC, best, run_command

router = APIRouter(prefix="/sweeps", tags=["sweeps"])

MAX_STOP_WAIT_S = 60.0


def sweep_jobs(request: Request) -> SweepJobs:
    """The app's sweep jobs (built in its lifespan)."""
    jobs: SweepJobs = request.app.state.hb.sweeps
    return jobs


JobsDep = Annotated[SweepJobs, Depends(sweep_jobs)]

_SPEC_EXAMPLE: dict[str, Any] = {
    "name": "pmm_grid",
    "base": {
        "controller_name": "pmm_simple",
        "controller_type": "market_making",
        "connector_name": "demo",
        "trading_pair": "BTC-USDT",
        "total_amount_quote": 1000,
    },
    "grid": {"buy_spreads": ["0.001", "0.002", "0.004"], "take_profit": [0.002, 0.004]},
    "start": "2024-01-08",
    "end": "2024-01-15",
    "resolution": "1m",
}


class SweepBody(BaseModel):
    """A sweep to run: its spec and how to run it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"spec": _SPEC_EXAMPLE, "workers": 1}]},
    )

    spec: dict[str, Any] = Field(
        description="The sweep spec, as in examples/sweeps/*.yml: name, base (a controller "
        "config, or a saved config's name), grid, zip, fixed, start/end or windows, "
        "resolution, trade_cost, fill_model, candles_connector, candles_trading_pair, webhook."
    )
    name: str | None = Field(
        default=None, description="The sweep's name in the results store (default: spec.name)."
    )
    workers: int = Field(
        default=1, ge=1, description="Worker processes, at most the server's cores (1: in-process)."
    )
    offline: bool | None = Field(
        default=None, description="Never fetch candles (default: the server's setting)."
    )
    replace: bool = Field(
        default=False,
        description="Delete the stored results of a sweep of this name made from another spec.",
    )


_RUN_EXAMPLE = {
    "name": "pmm_grid",
    "status": "running",
    "items": 6,
    "workers": 1,
    "offline": None,
    "started_at": 1767268800.0,
    "finished_at": None,
    "done": 2,
    "failed": 0,
    "skipped": 0,
    "total": 6,
    "progress": 0.3333,
    "stop_requested": False,
    "error": None,
    "error_kind": None,
    "notes": [],
}
_SWEEP_EXAMPLE = {
    "name": "pmm_grid",
    "status": "running",
    "items": 6,
    "done": 2,
    "failed": 0,
    "pending": 4,
    "created_at": 1767268800.0,
    "updated_at": 1767268801.5,
    "run": _RUN_EXAMPLE,
}
_ROW_EXAMPLE = {
    "index": 3,
    "key": "9f86d081884c7d65…",
    "params": {"buy_spreads": "0.002", "take_profit": 0.004},
    "metrics": {"net_pnl_quote": 12.5, "sharpe_ratio": 1.9, "total_positions": 41},
    "status": "done",
    "error": None,
    "seconds": 0.031,
    "finished_at": 1767268801.2,
    "warnings": [],
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: problem("No such sweep (with a did-you-mean).")}


def _plan(body: SweepBody, state: StateDep) -> tuple[SweepSpec, Expansion]:
    """Validate and expand the spec (every problem in one ConfigError, nothing run)."""
    data = dict(body.spec)
    if body.name is not None:
        data["name"] = body.name
    spec = validate_model(SweepSpec, data, source="sweep spec")
    with state.registry_lock:
        if isinstance(spec.base, str):
            # A name in the configs directory, never a path on the server.
            base = read_config(state.settings.configs_path, spec.base)
            spec = spec.model_copy(update={"base": base})
        return spec, expand(spec, registry=state.registry)


@router.post(
    "",
    status_code=202,
    responses={
        202: {
            "description": "Started; poll GET /sweeps/{name}.",
            "content": {
                "application/json": {
                    "example": {**_RUN_EXAMPLE, "done": 0, "duplicates": 0, "notes": []}
                }
            },
        },
        404: problem("spec.base names no saved config, or no controller."),
        409: {
            "description": "The sweep is running already, or is stored from another spec "
            '(post with "replace": true).'
        },
        422: problem("Invalid spec: every problem (field or combination) listed."),
    },
)
async def start_sweep(body: SweepBody, state: StateDep, jobs: JobsDep) -> dict[str, Any]:
    """Check and expand a spec, then run it in the background (resuming a stored sweep)."""
    spec, expansion = await run_in_threadpool(_plan, body, state)
    if spec.webhook:
        # A server must not POST wherever a client says (its own network, cloud metadata):
        # webhooks are for sweeps run from the command line.
        raise ConfigError(
            "webhook: not accepted through the API (the server would call any address a client "
            "names); poll GET /sweeps/{name}, or run the spec with `hbbacktest sweep run` to "
            "use a webhook"
        )
    job = await run_in_threadpool(
        lambda: jobs.start(
            spec.name,
            expansion.items,
            spec=spec.model_dump(mode="json"),
            workers=body.workers,
            offline=body.offline,
            replace=body.replace,
        )
    )
    return {**job.to_dict(), "duplicates": expansion.duplicates, "notes": list(expansion.notes)}


@router.get(
    "",
    responses={200: {"content": {"application/json": {"example": [_SWEEP_EXAMPLE]}}}},
)
async def list_sweeps(jobs: JobsDep) -> list[dict[str, Any]]:
    """Every stored sweep, oldest first, with item counts and the live state of running ones.

    ``status``: ``running``, ``stopped``, ``failed`` (this server's latest run), else
    ``completed`` (nothing pending) or ``incomplete`` (post the spec again to resume).
    """
    return await run_in_threadpool(jobs.overview)


@router.get(
    "/{name}",
    responses={
        200: {
            "content": {"application/json": {"example": {**_SWEEP_EXAMPLE, "spec": _SPEC_EXAMPLE}}}
        },
        **_NOT_FOUND,
    },
)
async def get_sweep(name: str, jobs: JobsDep) -> dict[str, Any]:
    """One sweep: item counts, status, its spec and this server's latest run of it."""
    return await run_in_threadpool(jobs.describe, name)


def _row(row: ResultRow) -> dict[str, Any]:
    return {
        "index": row.index,
        "key": row.key,
        "params": row.params,
        "metrics": row.metrics,
        "status": row.status,
        "error": row.error,
        "seconds": row.seconds,
        "finished_at": row.finished_at,
        "warnings": row.warnings,
    }


@router.get(
    "/{name}/results",
    responses={
        200: {"content": {"application/json": {"example": [_ROW_EXAMPLE]}}},
        **_NOT_FOUND,
        422: problem("A bad condition, or a name that is no parameter or metric."),
    },
)
async def sweep_results(
    name: str,
    jobs: JobsDep,
    store: StoreDep,
    sort: Annotated[
        str | None, Query(description="A metric or parameter to sort by (default: by index).")
    ] = None,
    ascending: Annotated[bool, Query(description="Smallest first.")] = False,
    top: Annotated[int | None, Query(ge=1, description="Only the first N rows.")] = None,
    where: Annotated[
        list[str] | None,
        Query(description='A filter such as "take_profit>0.002" (repeatable; all must hold).'),
    ] = None,
    failed: Annotated[bool, Query(description="Include failed items.")] = False,
) -> list[dict[str, Any]]:
    """A sweep's finished items: parameters and metrics, filtered and sorted."""

    def build() -> list[dict[str, Any]]:
        stored = jobs.find(name)
        conditions = [parse_condition(text) for text in where or []]
        if stored is None:
            return []  # started, not stored yet
        rows = store.results(
            name,
            where=conditions,
            sort=sort,
            descending=not ascending,
            top=top,
            include_failed=failed,
        )
        return [_row(row) for row in rows]

    return await run_in_threadpool(build)


@router.get(
    "/{name}/best",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "name": "pmm_grid",
                        "metric": "net_pnl_quote",
                        "value": 12.5,
                        **_ROW_EXAMPLE,
                        "config": _SPEC_EXAMPLE["base"],
                        "request": {"config": {}, "start": 1704672000, "end": 1705276800},
                        "config_file": "pmm_grid_best.yml",
                        "command": "hbbacktest run pmm_grid_best.yml --start 2024-01-08T00:00:00Z "
                        "--end 2024-01-15T00:00:00Z --resolution 1m --trade-cost 0.0006 "
                        "--fill-model hummingbot",
                    }
                }
            }
        },
        **_NOT_FOUND,
        409: problem("No item has finished yet."),
        422: problem("No such metric (with a did-you-mean)."),
    },
)
async def best_of_sweep(
    name: str,
    jobs: JobsDep,
    store: StoreDep,
    metric: Annotated[str, Query(description="The metric (or parameter) to rank by.")] = (
        DEFAULT_METRIC
    ),
    ascending: Annotated[bool, Query(description="Smallest is best.")] = False,
) -> dict[str, Any]:
    """The best finished config by a metric, and the ``hbbacktest run`` line that reproduces it.

    Save ``config`` as ``config_file`` (YAML or JSON) and run ``command``.
    """

    def build() -> dict[str, Any]:
        if jobs.find(name) is None:
            raise DataError(f"sweep {name!r} has no finished item yet; it has just started")
        row, request = best(store, name, metric=metric, descending=not ascending)
        config_file = f"{name}_best.yml"
        return {
            "name": name,
            "metric": metric,
            "value": row.metrics.get(metric, row.params.get(metric)),
            **_row(row),
            "config": request["config"],
            "request": request,
            "config_file": config_file,
            "command": run_command(request, config_file),
        }

    return await run_in_threadpool(build)


@router.post(
    "/{name}/stop",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {**_RUN_EXAMPLE, "status": "stopped", "stop_requested": True}
                }
            }
        },
        404: problem("No sweep of that name is running."),
    },
)
async def stop_sweep(
    name: str,
    jobs: JobsDep,
    wait: Annotated[
        float,
        Query(ge=0, le=MAX_STOP_WAIT_S, description="Seconds to wait for it to stop."),
    ] = 10.0,
) -> dict[str, Any]:
    """Stop a running sweep after the item it is on; what finished is kept (post it to resume).

    The answer's ``status`` is ``stopped`` once it has stopped within ``wait`` seconds, else
    still ``running`` with ``stop_requested``.
    """
    job = await run_in_threadpool(lambda: jobs.stop(name, wait_s=wait))
    return job.to_dict()
