"""Candle downloads in the background, for the API: start one, poll it.

A download is I/O-bound (exchange requests, then a Parquet write), so it runs in a thread, not a
backtest worker: backtests keep their processes while candles arrive. The candle store's file
locks keep a download and a backtest fetching the same range from asking the exchange twice.
Jobs live in memory (a restart forgets them; what they fetched is in the store).
"""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError, HbBacktestError, NotFoundError
from hbbacktest.core.time import format_iso, interval_to_seconds, parse_time
from hbbacktest.data.access import FetchProgress
from hbbacktest.data.sources.venues import venue
from hbbacktest.service.data import fetch_candles

__all__ = ["CandleDownloads", "DownloadJob"]

DownloadStatus = Literal["pending", "running", "completed", "failed"]
KEEP_FINISHED = 200


@dataclass
class DownloadJob:
    """One download and where it is (times in UTC epoch seconds)."""

    id: str
    connector: str
    trading_pair: str
    interval: str
    start: int
    end: int
    refetch: bool
    status: DownloadStatus = "pending"
    created_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    rows: int = 0
    requests: int = 0
    done_s: int = 0
    total_s: int = 0
    error: str | None = None
    error_kind: str | None = None
    dataset: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-able data."""
        progress = (
            self.done_s / self.total_s if self.total_s else (1.0 if self.finished_at else 0.0)
        )
        return {
            "id": self.id,
            "status": self.status,
            "connector": self.connector,
            "trading_pair": self.trading_pair,
            "interval": self.interval,
            "start": self.start,
            "end": self.end,
            "refetch": self.refetch,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "progress": round(progress, 4),
            "rows": self.rows,
            "requests": self.requests,
            "dataset": self.dataset,
            "warnings": self.warnings,
            "error": self.error,
            "error_kind": self.error_kind,
        }


class CandleDownloads:
    """Background candle downloads over ``threads`` threads.

    Args:
        settings: data dir, exchange URLs, offline (a download is refused offline).
        threads: downloads that run at once.
    """

    def __init__(self, settings: Settings, *, threads: int = 2) -> None:
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="download")
        self._jobs: dict[str, DownloadJob] = {}
        self._lock = threading.Lock()

    def start(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        start: str | int,
        end: str | int,
        *,
        refetch: bool = False,
    ) -> DownloadJob:
        """Check the request, then start (or join the same running) download.

        Raises:
            ConfigError: offline mode, an unknown connector or interval, a bad window.
        """
        if self.settings.offline:
            raise ConfigError(
                "downloading candles needs the network, but the server is offline "
                "(HBBACKTEST_OFFLINE); restart it online to download"
            )
        venue(connector)
        interval_to_seconds(interval)
        first, last = parse_time(start, field="start"), parse_time(end, field="end")
        if first > last:
            raise ConfigError(
                f"start ({format_iso(first)}) must not be after end ({format_iso(last)})"
            )
        pair = trading_pair.upper()
        with self._lock:
            for job in self._jobs.values():
                same = (job.connector, job.trading_pair, job.interval, job.start, job.end)
                if same == (connector, pair, interval, first, last) and job.status in (
                    "pending",
                    "running",
                ):
                    return job
            job = DownloadJob(
                uuid.uuid4().hex[:16], connector, pair, interval, first, last, refetch
            )
            self._jobs[job.id] = job
            self._forget_old()
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> DownloadJob:
        """A job by id.

        Raises:
            NotFoundError: no such job (or forgotten: only the last 200 finished are kept).
        """
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"download {job_id} not found")
        return job

    def list(self) -> list[DownloadJob]:
        """Every job kept, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def close(self) -> None:
        """Stop taking jobs; running ones finish in their threads."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: DownloadJob) -> None:
        job.status = "running"

        def progress(p: FetchProgress) -> None:
            job.rows, job.requests = p.rows, p.requests
            job.done_s, job.total_s = p.done_s, p.total_s

        try:
            outcome = fetch_candles(
                job.connector,
                job.trading_pair,
                job.interval,
                job.start,
                job.end,
                settings=self.settings,
                progress=progress,
                refetch=job.refetch,
            )
        except HbBacktestError as exc:
            job.error, job.error_kind, job.status = str(exc), type(exc).__name__, "failed"
        except Exception as exc:  # a bug: reported on the job, never lost in a thread
            job.error = f"internal error: {type(exc).__name__}: {exc}"
            job.error_kind, job.status = "InternalError", "failed"
        else:
            series = outcome.series
            job.rows = outcome.report.rows
            job.warnings = list(outcome.report.warnings)
            job.dataset = {
                "connector": series.connector,
                "trading_pair": series.trading_pair,
                "interval": series.interval,
                "first_ts": series.first_ts,
                "last_ts": series.last_ts,
                "rows": series.rows,
            }
            job.status = "completed"
        finally:
            job.finished_at = time.time()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.status in ("completed", "failed")]
        for job in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self._jobs[job.id]
