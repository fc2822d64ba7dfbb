"""The backtest worker process of the API's pool: run one request, encode, compress, answer.

Everything CPU-bound about a backtest that needs Python happens here, never in the server's
process: the run, the native JSON and hummingbot-api's JSON. The parent compresses them in a
thread (zlib releases the GIL, so that overlaps this worker's next run on another core) and
stores them. A worker serves jobs one at a time over a pipe until the pipe
closes; the parent kills it to cancel a job or stop one past its time limit, and starts another.
"""

from __future__ import annotations

import gzip
import signal
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from hbbacktest.config.settings import Settings
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import HbBacktestError, InternalError
from hbbacktest.data.access import CandleAccess, FetchProgress
from hbbacktest.metrics.encode import json_chunks, results_json
from hbbacktest.metrics.upstream import upstream_result_json
from hbbacktest.service.backtest import candle_access, run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.hbapi import request_from_body
from hbbacktest.store.tasks import NewRun

__all__ = ["EARLY", "READY", "FinishedRun", "Job", "Outcome", "execute", "worker_main"]

READY = "ready"
#: Sent before a run's hummingbot-api JSON, which follows as raw bytes (no pickling copy).
EARLY = "early"
GZIP_LEVEL = 1  # JSON of numbers compresses ~6x even at level 1, at >100 MB/s


@dataclass(frozen=True)
class Job:
    """One backtest for a worker.

    Attributes:
        run_id: the id its stored run gets.
        body: the hummingbot-api body as posted (validated again here: a saved config it
            names is read here).
        task_id: the API task it belongs to, if any.
        early: send hummingbot-api's JSON (:data:`EARLY`) as soon as it is encoded, before
            the native encoding (``POST /run`` answers then); the :class:`Outcome` then leaves
            it out.
    """

    run_id: str
    body: dict[str, Any]
    task_id: str | None = None
    early: bool = False


@dataclass(frozen=True)
class FinishedRun:
    """A finished run's record and both encodings, uncompressed.

    Attributes:
        upstream: hummingbot-api's JSON; None when it went ahead as :class:`Early`.
    """

    id: str
    config_id: str
    request: dict[str, Any]
    results: dict[str, Any]
    warnings: list[str]
    seconds: float
    native: bytes
    upstream: bytes | None
    task_id: str | None

    def compressed(self, upstream: bytes | None = None) -> NewRun:
        """The run to store, both encodings gzip-compressed (``upstream`` if sent early)."""
        body = self.upstream if self.upstream is not None else upstream
        if body is None:
            raise ValueError("the run's hummingbot-api JSON is missing")
        return NewRun(
            id=self.id,
            config_id=self.config_id,
            request=self.request,
            results=self.results,
            warnings=self.warnings,
            seconds=self.seconds,
            native_gz=gzip.compress(self.native, GZIP_LEVEL, mtime=0),
            native_size=len(self.native),
            upstream_gz=gzip.compress(body, GZIP_LEVEL, mtime=0),
            task_id=self.task_id,
        )


@dataclass(frozen=True)
class Outcome:
    """What a worker answers: a finished run, or the error that stopped it.

    Attributes:
        run: the run to store (both encodings compressed), when it succeeded.
        error: the error, when it failed (an :class:`InternalError` for a bug).
        trace: the worker-side traceback of a bug, for the server log.
        fetched_pages: candle pages fetched from an exchange for this run (0: a cache hit).
        seconds: wall time in the worker.
    """

    run: FinishedRun | None = None
    error: HbBacktestError | None = None
    trace: str | None = None
    fetched_pages: int = 0
    seconds: float = 0.0


@dataclass
class _Context:
    settings: Settings
    registry: ControllerRegistry
    accesses: dict[bool | None, CandleAccess] = field(default_factory=dict)
    pages: int = 0

    def access(self, offline: bool | None) -> CandleAccess:
        # One access (and its ccxt clients) per offline flag, reused across jobs.
        if offline not in self.accesses:
            self.accesses[offline] = candle_access(
                self.settings, offline=offline, progress=self._count
            )
        return self.accesses[offline]

    def _count(self, progress: FetchProgress) -> None:
        self.pages += 1


def execute(job: Job, context: _Context, send: Callable[[bytes], None] | None = None) -> Outcome:
    """Run one job and encode its result; never raises (``send`` gets the early answer)."""
    started = time.perf_counter()
    context.pages = 0
    try:
        request = request_from_body(
            job.body, registry=context.registry, configs_dir=context.settings.configs_path
        )
        result = run_backtest(
            request,
            settings=context.settings,
            registry=context.registry,
            # A body may ask for offline, never for online: the server's setting is a ceiling.
            access=context.access(True if job.body.get("offline") else None),
        )
        upstream = upstream_result_json(result)
        if job.early and send is not None:
            send(upstream)
        native = b"".join(json_chunks(result))
        seconds = time.perf_counter() - started
        run = FinishedRun(
            id=job.run_id,
            config_id=request.config_id,
            request=request.model_dump(mode="json"),
            results=results_json(result.results),
            warnings=list(result.warnings),
            seconds=seconds,
            native=native,
            upstream=None if job.early and send is not None else upstream,
            task_id=job.task_id,
        )
        return Outcome(run=run, fetched_pages=context.pages, seconds=seconds)
    except HbBacktestError as exc:
        return Outcome(
            error=exc, fetched_pages=context.pages, seconds=time.perf_counter() - started
        )
    except Exception as exc:  # a bug: reported with its traceback, the worker lives on
        return Outcome(
            error=InternalError(f"{type(exc).__name__}: {exc}"),
            trace=traceback.format_exc(),
            fetched_pages=context.pages,
            seconds=time.perf_counter() - started,
        )


def worker_main(conn: Connection, settings: Settings) -> None:
    """A worker's life: warm up, say :data:`READY`, then answer jobs until the pipe closes."""
    # Ctrl-C in the server's terminal reaches the whole process group: the server decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    context = _Context(settings, build_registry(settings))
    _warm_up(context)
    conn.send(READY)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(execute(job, context, lambda upstream: _send_early(conn, upstream)))


def _send_early(conn: Connection, upstream: bytes) -> None:
    conn.send(EARLY)
    conn.send_bytes(upstream)


def _warm_up(context: _Context) -> None:
    """Run the embedded demo once, so the first real job finds the compiled kernels loaded."""
    from hbbacktest.service.defaults import default_request

    request = default_request()
    body = {
        "config": request.config.model_dump(mode="json"),
        "start_time": request.start,
        "end_time": request.end,
        "offline": True,
    }
    execute(Job("warm-up", body), context)
