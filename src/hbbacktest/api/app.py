"""``create_app(settings)``: the FastAPI app, its state built in its lifespan."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.routing import APIRoute

from hbbacktest import __version__
from hbbacktest.api.auth import require_auth
from hbbacktest.api.deps import AppState
from hbbacktest.api.errors import COMMON_RESPONSES, install_error_handlers
from hbbacktest.api.observe import ApiMetrics, RequestMiddleware
from hbbacktest.api.responses import StrictJSONResponse
from hbbacktest.api.routes import (
    backtesting,
    candles,
    controllers,
    health,
    performance,
    results,
    sweeps,
    ui,
)
from hbbacktest.config.settings import Settings
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.downloads import CandleDownloads
from hbbacktest.service.sweeps import SweepJobs
from hbbacktest.service.tasks import TaskRunner
from hbbacktest.store import Store
from hbbacktest.sweep.runner import run_sweep_json
from hbbacktest.sweep.spec import items_to_json

__all__ = ["create_app"]

DESCRIPTION = """
A drop-in replacement for hummingbot-api's backtesting endpoints (`/backtesting/*`, with the
same bodies and result shape), plus hbbacktest's own: controllers and saved configs, stored
results, candles, metrics. Backtests run in worker processes; the server stays responsive.

Authentication: HTTP Basic with `HBBACKTEST_API_USERNAME` / `HBBACKTEST_API_PASSWORD` when set.
"""


def _operation_id(route: APIRoute) -> str:
    # Stable operation ids (tag-name), so generated clients do not change with paths.
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, workers: int = 1) -> FastAPI:
    """Build the app; its lifespan opens the results database and starts ``workers`` workers.

    Args:
        settings: process settings (``Settings.from_env()`` by default, read now).
        workers: backtest worker processes (backtests that run at once).

    Example:
        >>> app = create_app(Settings(data_dir=tmp_path), workers=1)
        >>> with fastapi.testclient.TestClient(app) as client:
        ...     client.get("/health").json()["status"]
        'ok'
    """
    settings = settings or Settings.from_env()
    metrics = ApiMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = Store(settings.database_url or Store.default_url(settings.data_dir))
        runner = TaskRunner(settings, store, workers=workers, events=metrics)
        downloads = CandleDownloads(settings)
        sweep_jobs = SweepJobs(
            settings, store, run_sweep=run_sweep_json, items_to_json=items_to_json
        )
        try:
            app.state.hb = AppState(
                settings=settings,
                store=store,
                runner=runner,
                registry=build_registry(settings),
                metrics=metrics,
                downloads=downloads,
                sweeps=sweep_jobs,
                registry_lock=threading.Lock(),
            )
            await runner.start()
            yield
        finally:
            await runner.stop()  # first: no new backtest starts while the rest shuts down
            await asyncio.to_thread(sweep_jobs.close)
            downloads.close()
            store.close()

    app = FastAPI(
        title="hbbacktest",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=StrictJSONResponse,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RequestMiddleware, metrics=metrics)
    app.include_router(health.router)
    guarded = [Depends(require_auth)]
    common = COMMON_RESPONSES
    app.include_router(health.metrics_router, dependencies=guarded, responses=common)
    app.include_router(backtesting.router, dependencies=guarded, responses=common)
    app.include_router(backtesting.legacy_router, dependencies=guarded, responses=common)
    app.include_router(results.router, dependencies=guarded, responses=common)
    app.include_router(controllers.router, dependencies=guarded, responses=common)
    app.include_router(candles.router, dependencies=guarded, responses=common)
    app.include_router(performance.router, dependencies=guarded, responses=common)
    app.include_router(sweeps.router, dependencies=guarded, responses=common)
    app.include_router(ui.router, dependencies=guarded)
    return app
