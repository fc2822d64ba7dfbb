"""The API's backtest queue: a pool of worker processes, persisted tasks, cancel and time limits.

The server's event loop only schedules. Each of ``workers`` dispatchers owns one worker process
(:mod:`hbbacktest.service.worker`) and feeds it jobs from one FIFO queue; it waits for the
answer in a thread, polling ten times a second, so a cancelled job or one past
``settings.task_timeout_s`` has its worker killed within a second (a fresh one is started for the
next job). A worker that dies (a native crash, the OOM killer) fails its job with a clear error
and is replaced. Two jobs never share a process at the same time, and each run is a pure
function of its request and candles, so concurrent runs cannot mix state.

Both ``POST /backtesting/run`` (waits for the answer) and ``POST /backtesting/tasks`` (returns at
once) go through the same queue, bounded by ``settings.max_queue`` waiting jobs: beyond it,
:class:`~hbbacktest.core.errors.BusyError` (HTTP 429). Every run is stored; tasks are persisted
at each change, so after a restart finished results are all there, tasks that were running are
``interrupted`` (one call resubmits them) and pending ones are queued again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from typing import Any, Protocol

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import (
    BusyError,
    HbBacktestError,
    InternalError,
    NotFoundError,
    RunTimeoutError,
)
from hbbacktest.service.worker import EARLY, READY, Job, Outcome, worker_main
from hbbacktest.store import Store, TaskRecord

__all__ = ["RunnerEvents", "TaskRunner", "TaskStateError", "new_id", "process_context"]

log = logging.getLogger("hbbacktest.tasks")

POLL_S = 0.1
START_TIMEOUT_S = 180.0  # a cold worker imports numba and loads compiled kernels
RETENTION_EVERY_S = 3600.0
INTERRUPTED_NOTE = (
    "the server stopped while this backtest ran; resubmit it with "
    "POST /backtesting/tasks/{task_id}/resubmit"
)  # formatted per task by the store


def new_id() -> str:
    """A fresh task or run id: 16 hex digits."""
    return uuid.uuid4().hex[:16]


class TaskStateError(HbBacktestError):
    """A task cannot do that in its state (resubmit one that is still running) (HTTP 409)."""

    exit_code = 2


class RunnerEvents(Protocol):
    """What the runner reports, for metrics (the API implements it with Prometheus)."""

    def backtest_started(self) -> None:
        """A job went to a worker."""

    def backtest_finished(self, status: str, seconds: float, fetched_pages: int) -> None:
        """A job ended: ``completed``, ``failed``, ``timeout`` or ``cancelled``."""


class _NoEvents:
    def backtest_started(self) -> None:
        pass

    def backtest_finished(self, status: str, seconds: float, fetched_pages: int) -> None:
        pass


class _Cancelled(Exception):
    pass


@dataclass
class _Entry:
    job: Job
    future: asyncio.Future[bytes] | None = None
    early: bytes | None = None  # hummingbot-api's JSON, when the worker sent it ahead
    cancel: threading.Event = field(default_factory=threading.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class _Worker:
    """One worker process and its pipe, started on first use and after every kill."""

    def __init__(self, context: BaseContext, settings: Settings, name: str) -> None:
        self._context = context
        self._settings = settings
        self._name = name
        self._process: Any = None
        self._conn: Connection | None = None
        # The job's thread (cancel, timeout) and the runner's stop() may kill at once.
        self._kill_lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def ensure_started(self, cancel: threading.Event | None = None) -> None:
        """Start the worker unless it runs; ``cancel`` interrupts the wait (:class:`_Cancelled`)."""
        if self._process is not None and self._process.is_alive():
            return
        self.kill()
        parent, child = self._context.Pipe()
        process = self._context.Process(  # type: ignore[attr-defined]
            target=worker_main, args=(child, self._settings), name=self._name, daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        deadline = time.monotonic() + START_TIMEOUT_S
        while not parent.poll(POLL_S):
            if cancel is not None and cancel.is_set():
                self.kill()
                raise _Cancelled
            if time.monotonic() > deadline or not process.is_alive():
                break
        if not parent.poll(0):
            code = process.exitcode
            self.kill()
            raise InternalError(
                f"backtest worker {self._name} did not start within {START_TIMEOUT_S:g} s "
                f"(exit code {code})"
            )
        try:
            message = parent.recv()
        except (EOFError, OSError):
            code = process.exitcode
            self.kill()
            raise InternalError(
                f"backtest worker {self._name} exited while starting (exit code {code})"
            ) from None
        if message != READY:
            self.kill()
            raise InternalError(f"backtest worker {self._name} said {message!r} instead of ready")

    def execute(
        self,
        job: Job,
        *,
        timeout_s: float | None,
        cancel: threading.Event,
        on_early: Callable[[bytes], None] | None = None,
    ) -> Outcome:
        """Run a job; kill the worker on cancel (raises :class:`_Cancelled`) or timeout.

        ``on_early`` gets hummingbot-api's JSON of an ``early`` job as soon as it arrives.
        """
        self.ensure_started(cancel)
        conn, process = self._conn, self._process
        assert conn is not None and process is not None
        started = time.monotonic()
        try:
            conn.send(job)
        except (OSError, ValueError):  # it died between starting and now
            return self._died(process, started)
        while True:
            if cancel.is_set():
                self.kill()
                raise _Cancelled
            try:
                ready = conn.poll(POLL_S)
                message: Outcome | str | None = conn.recv() if ready else None
                upstream = conn.recv_bytes() if message == EARLY else None
            except (EOFError, OSError, ValueError):  # died, or killed by stop() meanwhile
                if cancel.is_set():
                    raise _Cancelled from None
                return self._died(process, started)
            if upstream is not None:
                if on_early is not None:
                    on_early(upstream)
                continue
            if isinstance(message, str):
                raise InternalError(f"the backtest worker said {message!r}")
            if message is not None:
                return message
            elapsed = time.monotonic() - started
            if timeout_s is not None and elapsed > timeout_s:
                self.kill()
                return Outcome(
                    error=RunTimeoutError(
                        f"the backtest ran longer than {timeout_s:g} s and was stopped; "
                        "shorten the window or use a coarser backtesting_resolution (the "
                        "limit is HBBACKTEST_TASK_TIMEOUT)"
                    ),
                    seconds=elapsed,
                )
            if not process.is_alive():
                return self._died(process, started)

    def _died(self, process: Any, started: float) -> Outcome:
        try:
            code: int | None = process.exitcode
        except ValueError:  # closed by a concurrent kill()
            code = None
        self.kill()
        signal_note = f" (killed by signal {-code})" if code is not None and code < 0 else ""
        return Outcome(
            error=InternalError(
                f"the backtest worker died while running this backtest, exit code "
                f"{code}{signal_note}: out of memory, or a crash in native code; the server "
                "started a new worker"
            ),
            seconds=time.monotonic() - started,
        )

    def kill(self) -> None:
        with self._kill_lock:
            process, conn = self._process, self._conn
            self._process, self._conn = None, None
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.close()
            if process is not None:
                if process.is_alive():
                    process.kill()
                process.join(5)
                with contextlib.suppress(ValueError):
                    process.close()


def _settle(future: asyncio.Future[bytes], upstream: bytes) -> None:
    if not future.done():
        future.set_result(upstream)


def process_context() -> BaseContext:
    """The start method for the server's child processes (backtest workers, sweeps).

    Never a fork of a server process holding threads and an event loop: forkserver (spawn
    where it does not exist) starts them from a clean process.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("forkserver")
    return multiprocessing.get_context("spawn")


class TaskRunner:
    """The queue of API backtests over a pool of worker processes.

    Build it in the app's lifespan, :meth:`start` it, and :meth:`stop` it on shutdown.

    Args:
        settings: data dir, offline flag, ``task_timeout_s``, ``max_queue``, retention.
        store: where tasks and runs are persisted.
        workers: worker processes (backtests run at once).
        events: metrics hooks.
        clock: epoch seconds, for retention.
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        workers: int = 1,
        events: RunnerEvents | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.settings = settings
        self.store = store
        self.workers = workers
        self._events = events or _NoEvents()
        self._clock = clock
        self._queue: asyncio.Queue[_Entry] = asyncio.Queue()
        self._waiting: dict[str, _Entry] = {}  # by run id: queued, not yet on a worker
        self._running: dict[str, _Entry] = {}
        self._by_task: dict[str, _Entry] = {}
        self._pool = [
            _Worker(process_context(), settings, f"hbbacktest-worker-{i}") for i in range(workers)
        ]
        self._loops: list[asyncio.Task[None]] = []
        self._recorders: set[asyncio.Task[None]] = set()
        # One thread per worker waits on its pipe: never the loop's default pool, which the
        # database calls need (a backtest holding one of its threads for minutes would starve
        # them once the workers outnumber it).
        self._waiters = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="worker-wait")
        self._stopping = False

    # ---------------------------------------------------------------------------------------
    # life cycle

    async def start(self) -> None:
        """Start the workers, recover the tasks of a previous life, and begin dispatching."""
        await asyncio.gather(*(asyncio.to_thread(w.ensure_started) for w in self._pool))
        interrupted, pending = await asyncio.to_thread(
            self.store.recover_tasks, note=INTERRUPTED_NOTE
        )
        if interrupted:
            log.warning("%d task(s) were running when the server stopped: interrupted", interrupted)
        for record in pending:
            self._enqueue(self._task_job(record.id, record.body))
        if pending:
            log.info("queued %d pending task(s) again", len(pending))
        await self._purge()
        self._loops = [asyncio.create_task(self._dispatch(w)) for w in self._pool]
        if self.settings.result_retention_days is not None:
            self._loops.append(asyncio.create_task(self._retention_loop()))

    async def stop(self) -> None:
        """Stop dispatching, kill the workers; tasks that were running become ``interrupted``."""
        self._stopping = True
        running = [e.job.task_id for e in self._running.values() if e.job.task_id]
        for entry in list(self._running.values()):
            entry.cancel.set()
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        # Finished runs still being stored are kept: wait for them.
        await asyncio.gather(*list(self._recorders), return_exceptions=True)
        for task_id in running:
            await asyncio.to_thread(
                self.store.finish_task,
                task_id,
                "interrupted",
                error=INTERRUPTED_NOTE.format(task_id=task_id),
                error_kind="Interrupted",
            )
        for worker in self._pool:
            await asyncio.to_thread(worker.kill)
        self._waiters.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------------------------------
    # what the routes call

    @property
    def queue_depth(self) -> int:
        """Jobs waiting for a worker."""
        return len(self._waiting)

    @property
    def running(self) -> int:
        """Jobs on a worker now."""
        return len(self._running)

    async def run(self, body: dict[str, Any]) -> tuple[str, bytes]:
        """Run a backtest through the queue and wait for it (``POST /backtesting/run``).

        Returns:
            The run's id and its hummingbot-api JSON, as soon as the worker has encoded it:
            the run is stored a moment later (while the client reads), so ``GET
            /results/{id}`` may miss it for that moment.

        Raises:
            BusyError: the queue is full.
            HbBacktestError: the run failed (its own error: config, data, controller, time).
        """
        self._check_room()
        entry = _Entry(
            Job(new_id(), body, early=True), future=asyncio.get_running_loop().create_future()
        )
        self._log_submitted(entry.job, "run")
        self._enqueue(entry)
        assert entry.future is not None
        try:
            return entry.job.run_id, await entry.future
        except asyncio.CancelledError:  # the client went away: free the worker
            entry.cancel.set()
            self._waiting.pop(entry.job.run_id, None)
            raise

    async def submit(self, body: dict[str, Any]) -> TaskRecord:
        """Queue a backtest as a task (``POST /backtesting/tasks``); returns the pending task.

        ``body`` is a hummingbot-api body the route has validated; it is stored as posted.

        Raises:
            BusyError: the queue is full.
        """
        self._check_room()
        record = await asyncio.to_thread(self.store.create_task, new_id(), body)
        entry = self._task_job(record.id, body)
        self._log_submitted(entry.job, f"task {record.id}")
        self._enqueue(entry)
        return record

    async def delete(self, task_id: str) -> None:
        """Cancel a pending or running task (its worker is killed), or remove a finished one.

        Raises:
            NotFoundError: no such task.
        """
        entry = self._by_task.get(task_id)
        if entry is not None:
            entry.cancel.set()
            if entry.job.run_id in self._running:
                await entry.done.wait()
            self._waiting.pop(entry.job.run_id, None)
            self._by_task.pop(task_id, None)
        if not await asyncio.to_thread(self.store.delete_task, task_id):
            raise NotFoundError(f"task {task_id} not found")

    async def resubmit(self, task_id: str) -> TaskRecord:
        """Queue a finished task (interrupted, failed, cancelled, completed) again, same id.

        Raises:
            NotFoundError: no such task.
            TaskStateError: it is pending or running.
            BusyError: the queue is full.
        """
        # What can never succeed is said first (404, 409), before "busy, retry" (429).
        current = await asyncio.to_thread(self.store.get_task, task_id)
        if current is None:
            raise NotFoundError(f"task {task_id} not found")
        if current.status in ("pending", "running"):
            raise TaskStateError(
                f"task {task_id} is {current.status}: wait for it to finish or delete it first"
            )
        self._check_room()
        try:
            record = await asyncio.to_thread(self.store.requeue_task, task_id)
        except ValueError as exc:
            raise TaskStateError(f"{exc}: wait for it to finish or delete it first") from None
        if record is None:
            raise NotFoundError(f"task {task_id} not found")
        entry = self._task_job(record.id, record.body)
        self._log_submitted(entry.job, f"task {record.id} (resubmitted)")
        self._enqueue(entry)
        return record

    # ---------------------------------------------------------------------------------------
    # inside

    def _check_room(self) -> None:
        if self._stopping:
            raise BusyError("the server is shutting down; retry in a moment", retry_after_s=5)
        if len(self._waiting) >= self.settings.max_queue:
            # Roughly when a slot frees: the queue ahead shared by the workers, ~1 s each.
            retry = max(1, min(60, len(self._waiting) // self.workers))
            raise BusyError(
                f"{len(self._waiting)} backtests are already waiting (the limit is "
                f"HBBACKTEST_MAX_QUEUE = {self.settings.max_queue}); retry in {retry} s",
                retry_after_s=retry,
            )

    def _task_job(self, task_id: str, body: dict[str, Any]) -> _Entry:
        # The worker validates the body again: a recovered task's saved config or controller
        # may have changed meanwhile (then it fails with a clear error).
        entry = _Entry(Job(new_id(), body, task_id=task_id))
        self._by_task[task_id] = entry
        return entry

    def _enqueue(self, entry: _Entry) -> None:
        self._waiting[entry.job.run_id] = entry
        self._queue.put_nowait(entry)

    def _log_submitted(self, job: Job, what: str) -> None:
        body = job.body
        config = body.get("config")
        if isinstance(config, dict):
            described = (
                f"controller={config.get('controller_name')} "
                f"connector={config.get('connector_name')} pair={config.get('trading_pair')}"
            )
        else:
            described = f"saved config={config!r}"
        log.info(
            "backtest %s queued: run=%s %s start=%s end=%s resolution=%s queue=%d",
            what,
            job.run_id,
            described,
            body.get("start_time"),
            body.get("end_time"),
            body.get("backtesting_resolution", "1m"),
            len(self._waiting) + 1,
        )

    async def _dispatch(self, worker: _Worker) -> None:
        """Feed one worker, job after job, for the runner's life: no job's failure ends it."""
        while True:
            entry = await self._queue.get()
            try:
                await self._dispatch_one(worker, entry)
            except asyncio.CancelledError:
                entry.cancel.set()
                raise
            except Exception as exc:  # a bug, or the database failed: say so, keep feeding
                log.exception("dispatching run %s failed: %s", entry.job.run_id, exc)
                await self._fail(entry, exc)
            finally:
                self._running.pop(entry.job.run_id, None)
                if entry.job.task_id is not None and self._by_task.get(entry.job.task_id) is entry:
                    self._by_task.pop(entry.job.task_id, None)
                entry.done.set()

    async def _dispatch_one(self, worker: _Worker, entry: _Entry) -> None:
        if entry.cancel.is_set() or entry.job.run_id not in self._waiting:
            return
        self._waiting.pop(entry.job.run_id, None)
        task_id = entry.job.task_id
        if task_id is not None and not await asyncio.to_thread(self.store.start_task, task_id):
            return  # deleted while it waited
        if entry.cancel.is_set():  # deleted while it was being started
            return
        self._running[entry.job.run_id] = entry
        await self._execute(worker, entry)

    async def _fail(self, entry: _Entry, exc: BaseException) -> None:
        """A job that could not run: its task failed (if the database lets us), its /run told."""
        error = (
            exc
            if isinstance(exc, HbBacktestError)
            else InternalError(f"{type(exc).__name__}: {exc}")
        )
        if entry.job.task_id is not None:
            try:
                await asyncio.to_thread(
                    self.store.finish_task,
                    entry.job.task_id,
                    "failed",
                    error=str(error),
                    error_kind=type(error).__name__,
                )
            except Exception as again:
                log.error("task %s could not be marked failed: %s", entry.job.task_id, again)
        if entry.future is not None and not entry.future.done():
            entry.future.set_exception(error)

    async def _execute(self, worker: _Worker, entry: _Entry) -> None:
        job, task_id = entry.job, entry.job.task_id
        self._events.backtest_started()
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        future = entry.future

        def answer(upstream: bytes) -> None:
            entry.early = upstream
            if future is not None:
                loop.call_soon_threadsafe(_settle, future, upstream)

        try:
            outcome = await loop.run_in_executor(
                self._waiters,
                functools.partial(
                    worker.execute,
                    job,
                    timeout_s=self.settings.task_timeout_s,
                    cancel=entry.cancel,
                    on_early=answer,
                ),
            )
        except _Cancelled:
            self._events.backtest_finished("cancelled", time.monotonic() - started, 0)
            log.info("backtest run=%s cancelled", job.run_id)
            if task_id is not None and not self._stopping:
                await asyncio.to_thread(self.store.finish_task, task_id, "cancelled")
            if entry.future is not None and not entry.future.done():
                entry.future.cancel()
            return
        # Recorded in the background: the worker is free now, and its next job should not wait
        # for this one's compression and database writes.
        recorder = asyncio.create_task(self._record(entry, outcome))
        self._recorders.add(recorder)
        recorder.add_done_callback(self._recorders.discard)

    async def _record(self, entry: _Entry, outcome: Outcome) -> None:
        """Store a finished job's run, settle its task and its waiting ``/run``; never raises."""
        job, task_id = entry.job, entry.job.task_id
        try:
            await self._record_outcome(entry, outcome)
        except Exception as exc:  # the database failed: said on the task, never lost
            log.exception("recording run %s failed: %s", job.run_id, exc)
            if task_id is not None:
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(
                        self.store.finish_task,
                        task_id,
                        "failed",
                        error=f"the result could not be stored: {exc}",
                        error_kind=type(exc).__name__,
                    )
            if entry.future is not None and not entry.future.done():
                entry.future.set_exception(
                    exc if isinstance(exc, HbBacktestError) else InternalError(str(exc))
                )

    async def _record_outcome(self, entry: _Entry, outcome: Outcome) -> None:
        job, task_id = entry.job, entry.job.task_id
        if outcome.run is not None:
            finished = outcome.run
            # Compressed in a thread: zlib releases the GIL, so it overlaps the worker's next run.
            record = await asyncio.to_thread(
                lambda: self.store.add_run(finished.compressed(entry.early))
            )
            self._events.backtest_finished("completed", outcome.seconds, outcome.fetched_pages)
            log.info(
                "backtest run=%s completed in %.3f s: %s executors, net_pnl_quote=%s",
                job.run_id,
                outcome.seconds,
                finished.results.get("total_executors"),
                finished.results.get("net_pnl_quote"),
            )
            if task_id is not None:
                await asyncio.to_thread(
                    self.store.finish_task, task_id, "completed", run_id=record.id
                )
            if entry.future is not None and not entry.future.done():
                entry.future.set_result(finished.upstream or entry.early or b"")
            return
        error = outcome.error or InternalError("the worker answered neither a result nor an error")
        status = "timeout" if isinstance(error, RunTimeoutError) else "failed"
        self._events.backtest_finished(status, outcome.seconds, outcome.fetched_pages)
        if outcome.trace:
            log.error("backtest run=%s hit a bug: %s\n%s", job.run_id, error, outcome.trace)
        else:
            log.info("backtest run=%s failed (%s): %s", job.run_id, type(error).__name__, error)
        if task_id is not None:
            await asyncio.to_thread(
                self.store.finish_task,
                task_id,
                "failed",
                error=str(error),
                error_kind=type(error).__name__,
            )
        if entry.future is not None and not entry.future.done():
            entry.future.set_exception(error)

    async def _purge(self) -> None:
        days = self.settings.result_retention_days
        if days is None:
            return
        tasks, runs = await asyncio.to_thread(self.store.purge, self._clock() - days * 86400)
        if tasks or runs:
            log.info(
                "retention: deleted %d task(s) and %d run(s) older than %g days", tasks, runs, days
            )

    async def _retention_loop(self) -> None:
        while True:
            await asyncio.sleep(RETENTION_EVERY_S)
            try:
                await self._purge()
            except Exception as exc:  # never let retention die silently
                log.warning("retention failed: %s", exc)
