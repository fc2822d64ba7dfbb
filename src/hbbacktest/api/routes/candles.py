"""Candles: what the store holds, and background downloads from exchanges."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from hbbacktest.api.deps import StateDep
from hbbacktest.api.errors import problem
from hbbacktest.service.data import list_candles

router = APIRouter(prefix="/candles", tags=["candles"])


class DownloadRequest(BaseModel):
    """A window of candles to download into the store."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "connector": "binance",
                    "trading_pair": "BTC-USDT",
                    "interval": "1m",
                    "start": "2024-01-01",
                    "end": "2024-01-31",
                }
            ]
        },
    )

    connector: str = Field(description="Hummingbot connector name (binance, bybit_perpetual …).")
    trading_pair: str = Field(description="BASE-QUOTE.")
    interval: str = Field(default="1m", description="Candle interval.")
    start: str | int = Field(description="First open time: date, ISO datetime or epoch.")
    end: str | int = Field(description="Last open time, inclusive.")
    refetch: bool = Field(default=False, description="Ask again for what is cached too.")


_JOB_EXAMPLE = {
    "id": "5b1c0e2f9a8d7c6b",
    "status": "running",
    "connector": "binance",
    "trading_pair": "BTC-USDT",
    "interval": "1m",
    "progress": 0.42,
    "rows": 18000,
}


@router.get(
    "",
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": [
                        {
                            "connector": "binance",
                            "trading_pair": "BTC-USDT",
                            "interval": "1m",
                            "first_ts": 1704067200,
                            "last_ts": 1706745540,
                            "rows": 44640,
                        }
                    ]
                }
            }
        }
    },
)
async def get_candles(state: StateDep) -> list[dict[str, Any]]:
    """The cached datasets, with their range, size and coverage (ranges asked for)."""
    _, series = await run_in_threadpool(list_candles, state.settings)
    return [
        {
            "connector": s.connector,
            "trading_pair": s.trading_pair,
            "interval": s.interval,
            "first_ts": s.first_ts,
            "last_ts": s.last_ts,
            "rows": s.rows,
            "size_bytes": s.size_bytes,
            "coverage": [list(r) for r in s.coverage],
            "problem": s.problem,
            "fix": s.fix,
        }
        for s in series
    ]


@router.post(
    "/download",
    status_code=202,
    responses={
        202: {"content": {"application/json": {"example": {**_JOB_EXAMPLE, "status": "pending"}}}},
        422: problem("Offline server, unknown connector or interval, bad window."),
    },
)
async def download_candles(body: DownloadRequest, state: StateDep) -> dict[str, Any]:
    """Start downloading a window (or join the same one running); poll its ``id``."""
    job = await run_in_threadpool(
        lambda: state.downloads.start(
            body.connector,
            body.trading_pair,
            body.interval,
            body.start,
            body.end,
            refetch=body.refetch,
        )
    )
    return job.to_dict()


@router.get(
    "/download",
    responses={200: {"content": {"application/json": {"example": [_JOB_EXAMPLE]}}}},
)
async def list_downloads(state: StateDep) -> list[dict[str, Any]]:
    """Downloads of this server's life, oldest first."""
    return [job.to_dict() for job in state.downloads.list()]


@router.get(
    "/download/{job_id}",
    responses={
        200: {"content": {"application/json": {"example": _JOB_EXAMPLE}}},
        404: problem("No such download."),
    },
)
async def get_download(job_id: str, state: StateDep) -> dict[str, Any]:
    """A download's status and progress (rows, requests, fraction of the window)."""
    return state.downloads.get(job_id).to_dict()
