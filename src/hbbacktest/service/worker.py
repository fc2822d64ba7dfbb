"""The backtest worker process of the API's pool: run one request, encode, compress, answer.

Everything CPU-bound about a backtest happens here, never in the server's event loop: the run,
the native JSON, hummingbot-api's JSON, and their gzip. The parent receives finished bytes it
can store and send as they are. A worker serves jobs one at a time over a pipe until the pipe
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

__all__ = ["READY", "Early", "Job", "Outcome", "execute", "worker_main"]

READY = "ready"
GZIP_LEVEL = 1  # JSON of numbers compresses ~6x even at level 1, at >100 MB/s


@dataclass(frozen=True)
class Job:
    """One backtest for a worker.

    Attributes:
        run_id: the id its stored run gets.
        body: the hummingbot-api body as posted (validated again here: a saved config it
            names is read here).
        task_id: the API task it belongs to, if any.
        early: send hummingbot-api's JSON (:class:`Early`) as soon as it is encoded, before
            the native encoding and the compression that storing needs (``POST /run`` answers
            then).
    """

    run_id: str
    body: dict[str, Any]
    task_id: str | None = None
    early: bool = False


@dataclass(frozen=True)
class Early:
    """A finished run's hummingbot-api JSON, sent before its :class:`Outcome`."""

    upstream: bytes


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

    run: NewRun | None = None
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


def execute(job: Job, context: _Context, send: Callable[[Early], None] | None = None) -> Outcome:
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
            send(Early(upstream))
        native = b"".join(json_chunks(result))
        seconds = time.perf_counter() - started
        run = NewRun(
            id=job.run_id,
            config_id=request.config_id,
            request=request.model_dump(mode="json"),
            results=results_json(result.results),
            warnings=list(result.warnings),
            seconds=seconds,
            native_gz=gzip.compress(native, GZIP_LEVEL, mtime=0),
            native_size=len(native),
            upstream_gz=gzip.compress(upstream, GZIP_LEVEL, mtime=0),
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
        conn.send(execute(job, context, conn.send))


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
