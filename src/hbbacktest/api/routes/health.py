"""``GET /health`` (no auth: for load balancers and Docker) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from hbbacktest import __version__
from hbbacktest.api.deps import StateDep

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"])


@router.get(
    "/health",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"status": "ok", "version": "0.1.0", "workers": 2, "running": 1}
                }
            }
        }
    },
)
async def health(state: StateDep) -> dict[str, Any]:
    """Whether the server answers, and how busy it is. Touches neither disk nor database."""
    runner = state.runner
    return {
        "status": "ok",
        "version": __version__,
        "workers": runner.workers,
        "running": runner.running,
        "queue_depth": runner.queue_depth,
        "max_queue": state.settings.max_queue,
    }


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"example": "hbbacktest_queue_depth 0.0"}}}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus metrics of this server.

    Request latency, backtests started/finished/running, their durations, the queue depth, and
    candle cache hits and misses.
    """
    body = state.metrics.render(running=state.runner.running, queue_depth=state.runner.queue_depth)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
