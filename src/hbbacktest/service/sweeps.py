"""Sweeps in the background, for the API: start one, watch it, stop it, read what is stored.

A sweep runs in a process of its own (``run_sweep`` there starts worker processes when its
items are worth them, and runs small sweeps in that process): never in the server's process,
where its Python and numba work would hold the GIL and slow every request. A thread of the
server starts it and reads its progress from a pipe; the event loop only reads the counters.
Jobs live in memory, one per sweep name: a restart forgets them, but every finished item is in
the results database, and posting the same spec again resumes the sweep.

The functions that run a sweep and write its items as JSON are passed in (the API passes
:func:`hbbacktest.sweep.runner.run_sweep_json` and :func:`hbbacktest.sweep.spec.items_to_json`):
``service`` sits below ``sweep`` in the layers, so it never imports them.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import SimpleNamespace
from typing import Any, Literal, Protocol

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import (
    BusyError,
    ConfigError,
    HbBacktestError,
    InternalError,
    NotFoundError,
    did_you_mean,
)
from hbbacktest.service.tasks import TaskStateError, process_context
from hbbacktest.store import Store, SweepRecord, SweepSummary

__all__ = ["RunSweep", "SweepJob", "SweepJobs", "SweepStatus"]

log = logging.getLogger("hbbacktest.sweeps")

SweepStatus = Literal["running", "completed", "failed", "stopped"]
KEEP_NOTES = 20  # notes kept per job (a dataset that could not be loaded …)
JOIN_S = 10.0  # how long close() waits for each running sweep to stop


class SweepItemLike(Protocol):
    """What a job needs of an expanded item (``hbbacktest.sweep.SweepItem``)."""

    @property
    def key(self) -> str:
        """The item's resume key."""


class RunSweep(Protocol):
    """The signature of :func:`hbbacktest.sweep.runner.run_sweep_json` that a job calls."""

    def __call__(
        self,
        name: str,
        document: Mapping[str, Any],
        *,
        spec: Mapping[str, Any],
        store: Store,
        settings: Settings,
        workers: int | None = None,
        offline: bool | None = None,
        progress: Callable[[Any], None] | None = None,
        notify: Callable[[str], None] | None = None,
        webhook: str | None = None,
        should_stop: Callable[[], bool] | None = None,
        replace_existing: bool = False,
    ) -> Any:
        """Run the sweep; returns its report (``done``, ``failed``, ``skipped``, ``interrupted``)."""


@dataclass
class SweepJob:
    """One run of a sweep in this server's life (times in UTC epoch seconds).

    Attributes:
        name: the sweep's name.
        items: the spec's items (duplicates dropped).
        workers: at most this many worker processes.
        offline: never fetch candles (None: the server's setting).
        status: ``running``, then ``completed`` (failed items included: see ``failed``),
            ``stopped`` (by :meth:`SweepJobs.stop`; what finished is kept) or ``failed`` (the
            sweep itself failed: ``error``).
        started_at: when it started.
        finished_at: when it ended (None while running).
        done: items finished in this run.
        failed: items that failed in this run.
        skipped: items done by an earlier run (not run again); None until known.
        total: items this run has to do (``items - skipped``); None until known.
        stop_requested: a stop was asked for (the sweep stops after the item it is on).
        error: why the sweep failed.
        error_kind: the error's class.
        notes: operational notes (at most 20).
    """

    name: str
    items: int
    workers: int
    offline: bool | None
    started_at: float
    status: SweepStatus = "running"
    finished_at: float | None = None
    done: int = 0
    failed: int = 0
    skipped: int | None = None
    total: int | None = None
    stop_requested: bool = False
    error: str | None = None
    error_kind: str | None = None
    notes: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def running(self) -> bool:
        """True until the sweep's thread has ended."""
        return not self._ended.is_set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the sweep to end; True when it has."""
        return self._ended.wait(timeout_s)

    def to_dict(self) -> dict[str, Any]:
        """The job as JSON-able data (a consistent snapshot)."""
        with self._lock:
            finished = self.done + self.failed
            progress = finished / self.total if self.total else (0.0 if self.running else 1.0)
            return {
                "name": self.name,
                "status": self.status,
                "items": self.items,
                "workers": self.workers,
                "offline": self.offline,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "done": self.done,
                "failed": self.failed,
                "skipped": self.skipped,
                "total": self.total,
                "progress": round(min(progress, 1.0), 4),
                "stop_requested": self.stop_requested,
                "error": self.error,
                "error_kind": self.error_kind,
                "notes": list(self.notes),
            }


class SweepJobs:
    """The API's sweeps: each runs in its own thread; one run per name at a time.

    Build it in the app's lifespan and :meth:`close` it on shutdown.

    Args:
        settings: data dir, controllers, offline (the default of each sweep).
        store: the results database the sweeps write to.
        run_sweep: runs a sweep from its items as JSON
            (:func:`hbbacktest.sweep.runner.run_sweep_json`), in the sweep's own process.
        items_to_json: writes items as JSON (:func:`hbbacktest.sweep.spec.items_to_json`).
        max_workers: the most worker processes one sweep may ask for (default: the
            machine's cores, ``os.cpu_count()``).
        max_running: sweeps that may run at once (each is a process and its workers); beyond,
            :class:`~hbbacktest.core.errors.BusyError` (HTTP 429).
        clock: epoch seconds.

    Example:
        >>> from hbbacktest.sweep.runner import run_sweep_json
        >>> from hbbacktest.sweep.spec import items_to_json
        >>> jobs = SweepJobs(
        ...     Settings(data_dir=tmp_path), store, run_sweep=run_sweep_json,
        ...     items_to_json=items_to_json)
        >>> job = jobs.start("pmm_grid", items, spec=spec.model_dump(mode="json"))
        >>> job.wait(60) and job.status
        'completed'
    """

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        run_sweep: RunSweep,
        items_to_json: Callable[[str, Sequence[Any]], dict[str, Any]],
        max_workers: int | None = None,
        max_running: int = 1,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.max_workers = max(1, max_workers or os.cpu_count() or 1)
        self.max_running = max(1, max_running)
        self._run_sweep = run_sweep
        self._items_to_json = items_to_json
        self._clock = clock
        self._jobs: dict[str, SweepJob] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------------------
    # running

    def start(
        self,
        name: str,
        items: Sequence[SweepItemLike],
        *,
        spec: Mapping[str, Any],
        workers: int = 1,
        offline: bool | None = None,
        replace: bool = False,
        webhook: str | None = None,
    ) -> SweepJob:
        """Start running a sweep's items not done yet, in the background.

        Args:
            name: the sweep's name (the same name resumes a stored sweep).
            items: the validated, expanded items (``hbbacktest.sweep.expand``).
            spec: the spec as JSON data, stored with the sweep.
            workers: at most this many worker processes (1 to ``max_workers``; 1 runs in the
                sweep's thread).
            offline: never fetch candles (None: the server's setting).
            replace: a stored sweep of this name with configs this spec lacks is deleted
                first; without it that is refused (results of two specs never mix).
            webhook: a URL told how the sweep ended.

        Raises:
            ConfigError: ``workers`` out of range, or no items.
            TaskStateError: the sweep is running already, or is stored with configs this spec
                does not have and ``replace`` is false (HTTP 409).
            BusyError: ``max_running`` sweeps are running already (HTTP 429).
        """
        if not 1 <= workers <= self.max_workers:
            raise ConfigError(
                f"workers = {workers}: expected 1 to {self.max_workers} worker processes "
                "(this machine's cores)"
            )
        if not items:
            raise ConfigError(f"sweep {name!r} has no items to run")
        self._check_running(name)
        if not replace:
            self._check_same_spec(name, items)
        with self._lock:
            self._check_running(name)
            running = [n for n, j in self._jobs.items() if j.running]
            if len(running) >= self.max_running:
                raise BusyError(
                    f"{len(running)} sweep(s) already running ({', '.join(sorted(running))}); "
                    f"this server runs at most {self.max_running} at once: retry when one ends",
                    retry_after_s=30,
                )
            job = SweepJob(name, len(items), workers, offline, started_at=self._clock())
            self._jobs[name] = job
        thread = threading.Thread(
            target=self._run,
            args=(job, list(items), dict(spec), replace, webhook),
            name=f"sweep-{name}",
            daemon=True,
        )
        thread.start()
        log.info("sweep %s started: %d items, %d worker(s)", name, len(items), workers)
        return job

    def stop(self, name: str, *, wait_s: float = 0.0) -> SweepJob:
        """Ask a running sweep to stop after the item it is on; what finished is kept.

        Args:
            name: the sweep.
            wait_s: wait up to this many seconds for it to stop.

        Raises:
            NotFoundError: no sweep of that name is running.
        """
        with self._lock:
            job = self._jobs.get(name)
        if job is None or not job.running:
            raise NotFoundError(
                f"sweep {name!r} is not running{did_you_mean(name, self._running_names())}"
                f"; running: {', '.join(self._running_names()) or 'none'}"
            )
        with job._lock:
            job.stop_requested = True
        job._stop.set()
        if wait_s > 0:
            job.wait(wait_s)
        return job

    def close(self, timeout_s: float = JOIN_S) -> None:
        """Stop every running sweep and wait (up to ``timeout_s`` each) for it to end."""
        with self._lock:
            running = [job for job in self._jobs.values() if job.running]
        for job in running:
            with job._lock:
                job.stop_requested = True
            job._stop.set()
        for job in running:
            if not job.wait(timeout_s):
                log.warning("sweep %s did not stop within %g s", job.name, timeout_s)

    # ---------------------------------------------------------------------------------------
    # reading

    def job(self, name: str) -> SweepJob | None:
        """The latest run of ``name`` in this server's life, or None."""
        with self._lock:
            return self._jobs.get(name)

    def find(self, name: str) -> SweepRecord | None:
        """The stored sweep ``name``; None when it is only running (not stored yet).

        Raises:
            NotFoundError: neither stored nor running (with a did-you-mean).
        """
        record = self.store.find_sweep(name)
        if record is None and self.job(name) is None:
            raise self._not_found(name)
        return record

    def overview(self) -> list[dict[str, Any]]:
        """Every sweep with its item counts and status.

        Stored sweeps come oldest first, then sweeps that started but are not stored yet.
        """
        with self._lock:
            jobs = dict(self._jobs)
        out = [self._entry(s, jobs.get(s.name)) for s in self.store.list_sweeps()]
        listed = {entry["name"] for entry in out}
        out += [self._entry(None, job) for name, job in jobs.items() if name not in listed]
        return out

    def describe(self, name: str) -> dict[str, Any]:
        """One sweep: its counts, status, spec and this server's latest run of it.

        Raises:
            NotFoundError: no such sweep (with a did-you-mean).
        """
        record = self.find(name)
        summary = next((s for s in self.store.list_sweeps() if s.name == name), None)
        entry = self._entry(summary, self.job(name))
        entry["spec"] = None if record is None else record.spec
        return entry

    # ---------------------------------------------------------------------------------------
    # helpers

    def _run(
        self,
        job: SweepJob,
        items: list[SweepItemLike],
        spec: dict[str, Any],
        replace: bool,
        webhook: str | None,
    ) -> None:
        def progress(update: Any) -> None:
            with job._lock:
                job.done, job.failed = update.done, update.failed
                job.total, job.skipped = update.total, update.skipped

        def notify(note: str) -> None:
            log.info("sweep %s: %s", job.name, note)
            with job._lock:
                if len(job.notes) < KEEP_NOTES:
                    job.notes.append(note)

        status: SweepStatus = "failed"
        try:
            report = self._in_child_process(job, items, spec, replace, webhook, progress, notify)
        except HbBacktestError as exc:
            with job._lock:
                job.error, job.error_kind = str(exc), type(exc).__name__
        except Exception as exc:  # a bug: reported on the job, never lost in a thread
            log.exception("sweep %s failed", job.name)
            with job._lock:
                job.error = f"internal error (a bug in hbbacktest): {type(exc).__name__}: {exc}"
                job.error_kind = "InternalError"
        else:
            status = "stopped" if report.interrupted else "completed"
            with job._lock:
                job.done, job.failed, job.skipped = report.done, report.failed, report.skipped
                job.total = report.items - report.skipped
        finally:
            with job._lock:
                job.status = status
                job.finished_at = self._clock()
            job._ended.set()
            log.info("sweep %s %s", job.name, status)

    def _in_child_process(
        self,
        job: SweepJob,
        items: list[SweepItemLike],
        spec: dict[str, Any],
        replace: bool,
        webhook: str | None,
        progress: Callable[[Any], None],
        notify: Callable[[str], None],
    ) -> Any:
        """Run the sweep in a child process; relay its progress; return its report."""
        context = process_context()
        parent, child = context.Pipe(duplex=False)
        stop = context.Event()
        url = self.settings.database_url or Store.default_url(self.settings.data_dir)
        process = context.Process(  # type: ignore[attr-defined]
            target=_sweep_main,
            args=(
                child,
                stop,
                self._run_sweep,
                job.name,
                self._items_to_json(job.name, items),
                spec,
                url,
                self.settings,
            ),
            kwargs={
                "workers": job.workers,
                "offline": job.offline,
                "webhook": webhook,
                "replace": replace,
            },
            name=f"hbbacktest-sweep-{job.name}",
        )
        process.start()
        child.close()
        try:
            while True:
                if job._stop.is_set():
                    stop.set()
                if not parent.poll(0.2):
                    if not process.is_alive() and not parent.poll(0):
                        raise InternalError(
                            f"the sweep's process ended without a report (exit code "
                            f"{process.exitcode}): out of memory or a crash in native code; "
                            "post the spec again to resume"
                        )
                    continue
                kind, payload = parent.recv()
                if kind == "progress":
                    progress(payload)
                elif kind == "note":
                    notify(payload)
                elif kind == "error":
                    raise payload
                else:
                    return payload
        finally:
            parent.close()
            process.join(JOIN_S)
            if process.is_alive():
                process.kill()
                process.join()

    def _check_running(self, name: str) -> None:
        job = self._jobs.get(name)
        if job is not None and job.running:
            raise TaskStateError(
                f"sweep {name!r} is running already (started at {job.started_at:.0f}); wait "
                f"for it, or stop it with POST /sweeps/{name}/stop"
            )

    def _check_same_spec(self, name: str, items: Sequence[SweepItemLike]) -> None:
        existing = self.store.find_sweep(name)
        if existing is None:
            return
        stale = self.store.keys(existing.id) - {item.key for item in items}
        if stale:
            raise TaskStateError(
                f"a sweep named {name!r} is stored with {len(stale)} config(s) this spec does "
                "not have; their results would mix with this one's. Give this spec another "
                'name, or post it with "replace": true to delete the stored results first (a '
                "spec that only adds configs resumes)"
            )

    def _running_names(self) -> list[str]:
        with self._lock:
            return sorted(name for name, job in self._jobs.items() if job.running)

    def _not_found(self, name: str) -> NotFoundError:
        names = sorted({s.name for s in self.store.list_sweeps()} | set(self._jobs))
        known = f"; stored sweeps: {', '.join(names)}" if names else "; no sweep is stored yet"
        return NotFoundError(f"no sweep named {name!r}{did_you_mean(name, names)}{known}")

    @staticmethod
    def _entry(summary: SweepSummary | None, job: SweepJob | None) -> dict[str, Any]:
        """A sweep's stored counts and status, with this server's latest run of it."""
        run = None if job is None else job.to_dict()
        if summary is None:
            assert run is not None
            name = str(run["name"])
            counts = {"items": run["items"], "done": 0, "failed": 0, "pending": run["items"]}
            times = {"created_at": run["started_at"], "updated_at": run["started_at"]}
        else:
            name = summary.name
            counts = {
                "items": summary.items,
                "done": summary.done,
                "failed": summary.failed,
                "pending": summary.pending,
            }
            times = {"created_at": summary.created_at, "updated_at": summary.updated_at}
        if run is not None and (run["status"] != "completed" or summary is None):
            status = run["status"]
        else:
            # Not run by this server (the CLI, or before a restart): what the counts say.
            status = "completed" if counts["pending"] == 0 else "incomplete"
        return {"name": name, "status": status, **counts, **times, "run": run}


def _sweep_main(
    conn: Connection,
    stop: Any,
    run_sweep: RunSweep,
    name: str,
    document: dict[str, Any],
    spec: dict[str, Any],
    url: str,
    settings: Settings,
    *,
    workers: int,
    offline: bool | None,
    webhook: str | None,
    replace: bool,
) -> None:
    """A sweep's process: run it on its own connection to the database, report over ``conn``."""

    def progress(update: Any) -> None:
        snapshot = SimpleNamespace(
            done=update.done, failed=update.failed, total=update.total, skipped=update.skipped
        )
        conn.send(("progress", snapshot))

    try:
        with Store(url) as store:
            report = run_sweep(
                name,
                document,
                spec=spec,
                store=store,
                settings=settings,
                workers=workers,
                offline=offline,
                progress=progress,
                notify=lambda note: conn.send(("note", note)),
                webhook=webhook,
                should_stop=stop.is_set,
                replace_existing=replace,
            )
        conn.send(("report", report))
    except HbBacktestError as exc:
        conn.send(("error", exc))
    except Exception as exc:  # a bug: its traceback goes to the server's log via the parent
        import traceback

        conn.send(
            (
                "error",
                InternalError(f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=20)}"),
            )
        )
    finally:
        conn.close()
