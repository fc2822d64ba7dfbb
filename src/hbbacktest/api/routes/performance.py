"""``POST /performance/summarize``: executors in, the backtest metrics out."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from hbbacktest.api.errors import problem
from hbbacktest.service.summarize import SummarizeRequest, summarize

router = APIRouter(prefix="/performance", tags=["performance"])


@router.post(
    "/summarize",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {"results": {"net_pnl_quote": 12.5, "total_executors": 40}}
                }
            }
        },
        422: problem("An invalid executor (its index and field named)."),
    },
)
async def summarize_performance(body: SummarizeRequest) -> dict[str, Any]:
    """The ``results`` metrics of a backtest, from its executors (our shape or hummingbot-api's).

    With the run's window (``start``/``end``, ``backtesting_resolution``) the per-bar curve is
    rebuilt as the engine builds it, so drawdown and Sharpe match the backtest's; without it
    they are computed on one point per close (see docs/api.md).
    """
    return {"results": await run_in_threadpool(summarize, body)}
