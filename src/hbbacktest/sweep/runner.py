"""Run a sweep: every pending item through the engine, each result into the results store.

The parent process does all I/O: it registers the items, loads every dataset the runs need
once through :class:`~hbbacktest.data.access.CandleAccess` (fetching what the cache lacks,
unless offline), writes them to memory-mapped Arrow files, and records each result the moment
it arrives. Workers only compute: they map the shared candles (one copy in the page cache for
all of them), run the request, and return its metrics and compressed summary.

* **Resumable.** Items are keyed by the request's content hash; a re-run skips what is done and
  retries what failed. Each result is its own transaction: a kill -9 loses nothing finished,
  and nothing is stored twice.
* **A failing item never stops the sweep**: its error is recorded and the rest go on.
* **Ctrl-C** cancels what has not started, stops the workers and keeps what finished.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hbbacktest.config.settings import Settings
from hbbacktest.controllers.base import FeatureTable
from hbbacktest.core.errors import ConfigError, HbBacktestError, InternalError
from hbbacktest.data.preloaded import DatasetKey, PreloadedCandles, dataset_key, preload
from hbbacktest.service.backtest import candle_access, candle_needs, request_from_dict, run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.store import NewItem, PendingItem, Store


@dataclass(frozen=True)
class SweepProgress:
    """Where a running sweep is, for a progress bar.

    Attributes:
        done: items finished in this run.
        failed: items that failed in this run.
        total: items this run has to do.
        skipped: items already done by an earlier run (not redone).
        elapsed_s: seconds since the runs started.
    """

    done: int
    failed: int
    total: int
    skipped: int
    elapsed_s: float


@dataclass(frozen=True)
class SweepReport:
    """What a sweep run did.

    Attributes:
        name: the sweep's name in the store.
        items: items in the spec (duplicates dropped).
        skipped: already done before this run.
        done: finished in this run.
        failed: failed in this run (their errors are in the store).
        seconds: wall time of the runs (loading candles excluded).
        load_seconds: wall time of loading (and fetching) the candles.
        interrupted: stopped by Ctrl-C; what finished is kept.
        workers: processes used (1: in this process; a sweep short enough to finish sooner
            than worker processes start stays in this process).
    """

    name: str
    items: int
    skipped: int
    done: int
    failed: int
    seconds: float
    load_seconds: float
    interrupted: bool
    workers: int


def _cores() -> int:
    """The cores this process may use (a CPU quota or affinity counts, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_CRASHED = (
    "the sweep process died while running this config (a crash in native code, or the "
    "out-of-memory killer); it was not run again. Run it alone with hbbacktest run to see why"
)


class _InFlight:
    """A marker file naming the item this process is running right now.

    A crash that kills the process (not an exception) leaves it behind, so the next run of the
    sweep records that item as failed instead of dying on it again and again.
    """

    def __init__(self, data_dir: Path, name: str) -> None:
        self.path = data_dir / ".sweeps" / f"{name}.inflight"
        self.log = data_dir / ".sweeps" / f"{name}.crashed"

    def crashed(self) -> set[str]:
        """Items that killed an earlier run: the one left in flight joins the log."""
        try:
            left = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            left = ""
        if left:
            try:
                with open(self.log, "a", encoding="ascii") as handle:
                    handle.write(left + "\n")
            except OSError:
                pass
            self.clear()
        try:
            known = set(self.log.read_text(encoding="ascii").split())
        except (OSError, UnicodeDecodeError):
            known = set()
        return known | ({left} if left else set())

    def set(self, key: str) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(key, encoding="ascii")
        except OSError:
            pass  # best effort: a read-only data dir must not stop the sweep

    def clear(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass


class _InProcess:
    """Runs items in this process, each under the in-flight marker."""

    def __init__(self, worker: _Worker, marker: _InFlight) -> None:
        self.worker = worker
        self.marker = marker

    def run(self, key: str, request_json: Mapping[str, Any]) -> _Outcome:
        self.marker.set(key)
        outcome = self.worker.run(key, request_json)
        self.marker.clear()
        return outcome


class _Stopped(Exception):
    """``should_stop`` said stop: handled as Ctrl-C (what finished is kept)."""


@dataclass(frozen=True)
class _Outcome:
    key: str
    ok: bool
    metrics: dict[str, Any]
    summary: bytes
    warnings: list[str]
    error: str
    seconds: float


def run_sweep(
    name: str,
    items: Sequence[Any],
    *,
    spec: Mapping[str, Any],
    store: Store,
    settings: Settings,
    workers: int | None = None,
    offline: bool | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
    notify: Callable[[str], None] | None = None,
    webhook: str | None = None,
    backend: str = "local",
    address: str | None = None,
    should_stop: Callable[[], bool] | None = None,
    replace_existing: bool = False,
) -> SweepReport:
    """Run every item of a sweep that is not done yet and store each result as it arrives.

    Args:
        name: the sweep's name in the store (re-running the same name resumes it).
        items: the expanded items (``SweepItem``: ``index``, ``params``, ``request``, ``key``).
        spec: the spec as plain data, kept with the sweep.
        store: the results database.
        settings: data dir, controllers, exchange URLs, offline.
        workers: at most this many processes (default: the machine's cores); 1 runs in this
            process, as does a sweep whose items would take under ~3 s here in all.
        offline: never fetch candles (overrides ``settings.offline``).
        progress: called after each finished item.
        notify: operational notes (a dataset that could not be loaded …).
        webhook: a URL told (JSON POST) how the sweep ended: finished, interrupted or
            failed; a webhook that fails is a note, never a failed sweep.
        backend: ``local`` (a process pool) or ``ray`` (the extra ``hbbacktest[ray]``).
        address: the Ray cluster (``ray://host:10001``, ``auto``); None starts a local Ray.
        should_stop: asked after each finished item; True stops the sweep as Ctrl-C does
            (the API's cancel: what finished is kept, the report says ``interrupted``).
        replace_existing: a sweep of this name holding configs this spec does not have is
            deleted first; without it, that is a ConfigError (results of two specs never
            mix). A spec that only adds configs resumes.

    Returns:
        A :class:`SweepReport`; with ``interrupted`` set when Ctrl-C stopped it.
    """
    report: SweepReport | None = None
    error: BaseException | None = None
    try:
        report = _run_sweep(
            name,
            items,
            spec=spec,
            store=store,
            settings=settings,
            workers=workers,
            offline=offline,
            progress=progress,
            notify=notify,
            backend=backend,
            address=address,
            should_stop=should_stop,
            replace_existing=replace_existing,
        )
        return report
    except BaseException as exc:
        error = exc
        raise
    finally:
        if webhook:
            from hbbacktest.sweep.webhook import notify_webhook

            problem = notify_webhook(webhook, _ending(name, store, report, error))
            if problem and notify is not None:
                notify(problem)


def run_sweep_json(name: str, document: Mapping[str, Any], **options: Any) -> SweepReport:
    """:func:`run_sweep` on items as JSON (:func:`~hbbacktest.sweep.spec.items_to_json`).

    What a sweep's own process runs (the API's): JSON crosses a process boundary where the
    items' configs, of user controller classes, would not pickle. Every request is validated
    again on the way in.
    """
    from hbbacktest.sweep.spec import items_from_json

    settings: Settings = options["settings"]
    _, items = items_from_json(dict(document), registry=build_registry(settings))
    return run_sweep(name, items, **options)


def _ending(
    name: str, store: Store, report: SweepReport | None, error: BaseException | None
) -> dict[str, Any]:
    """The webhook's JSON: how the sweep ended, its counts, where its results are."""
    if report is None:
        status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
    else:
        status = "interrupted" if report.interrupted else "finished"
    counts = (
        {}
        if report is None
        else {
            "items": report.items,
            "done": report.done,
            "failed": report.failed,
            "skipped": report.skipped,
            "seconds": round(report.seconds, 3),
            "workers": report.workers,
        }
    )
    return {
        "sweep": name,
        "status": status,
        **counts,
        "error": None if error is None else f"{type(error).__name__}: {error}",
        "database": store.url,
        "results": f"hbbacktest sweep results {name}",
    }


def _run_sweep(
    name: str,
    items: Sequence[Any],
    *,
    spec: Mapping[str, Any],
    store: Store,
    settings: Settings,
    workers: int | None,
    offline: bool | None,
    progress: Callable[[SweepProgress], None] | None,
    notify: Callable[[str], None] | None,
    backend: str = "local",
    address: str | None = None,
    should_stop: Callable[[], bool] | None = None,
    replace_existing: bool = False,
) -> SweepReport:
    if backend not in BACKENDS:
        raise ConfigError(f"backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if backend == "ray":
        import importlib.util

        if importlib.util.find_spec("ray") is None:  # said before any work, not after
            raise ConfigError("the ray backend needs Ray: pip install 'hbbacktest[ray]'")
    workers = max(1, workers or _cores())
    existing = store.find_sweep(name)
    stale: set[str] = set()
    if existing is not None:
        stale = store.keys(existing.id) - {item.key for item in items}
        if stale and not replace_existing:
            raise ConfigError(
                f"a sweep named {name!r} is stored with {len(stale)} config(s) this spec does "
                "not have; their results would mix with this one's. Give this spec another "
                "name, or run with --replace to delete the stored results first (a spec that "
                "only adds configs resumes)"
            )
        if stale:
            store.delete_sweep(name)
            (settings.data_dir / ".sweeps" / f"{name}.crashed").unlink(missing_ok=True)
    if existing is not None and set(spec) == {"expanded_from"} and not stale:
        spec = existing.spec  # an expanded items file keeps the spec the sweep was made from
    sweep = store.open_sweep(name, dict(spec))
    store.add_items(
        sweep.id,
        [
            NewItem(
                key=item.key,
                index=item.index,
                params=dict(item.params),
                request=item.request.model_dump(mode="json"),
            )
            for item in items
        ],
    )
    # Only this spec's items: a name re-run with another spec leaves the old items alone.
    wanted = {item.key for item in items}
    pending = [item for item in store.pending(sweep.id) if item.key in wanted]
    skipped = len(wanted) - len(pending)
    report = SweepReport(name, skipped + len(pending), skipped, 0, 0, 0.0, 0.0, False, workers)
    if not pending:
        return report
    settings = replace(settings, offline=settings.offline if offline is None else offline)
    registry = build_registry(settings)
    began = time.monotonic()
    folder = Path(tempfile.mkdtemp(prefix="hbbacktest-sweep-"))
    try:
        paths, sources, broken = _load_datasets(pending, settings, registry, folder, notify)
        loaded = time.monotonic()
        report = replace(report, load_seconds=loaded - began)
        counts = {"done": 0, "failed": 0}

        def record(outcome: _Outcome) -> None:
            if outcome.ok:
                store.record_done(
                    sweep.id,
                    outcome.key,
                    metrics=outcome.metrics,
                    summary=outcome.summary,
                    seconds=outcome.seconds,
                    warnings=outcome.warnings,
                )
                counts["done"] += 1
            else:
                store.record_failed(
                    sweep.id, outcome.key, error=outcome.error, seconds=outcome.seconds
                )
                counts["failed"] += 1
            if progress is not None:
                progress(
                    SweepProgress(
                        counts["done"],
                        counts["failed"],
                        len(pending),
                        skipped,
                        time.monotonic() - loaded,
                    )
                )
            if should_stop is not None and should_stop():
                raise _Stopped

        interrupted = False
        context = _WorkerContext(paths, settings, sources)
        used = 1
        todo = [item for item in pending if item.key not in broken]
        marker = _InFlight(settings.data_dir, name)
        crashed = marker.crashed()
        try:
            for item in pending:
                if item.key in broken:
                    record(_Outcome(item.key, False, {}, b"", [], broken[item.key], 0.0))
                elif item.key in crashed:
                    # An earlier run of this sweep died inside this item (a crash in native
                    # code, the OOM killer): it stays failed instead of killing every resume.
                    record(_Outcome(item.key, False, {}, b"", [], _CRASHED, 0.0))
            todo = [item for item in todo if item.key not in crashed]
            local = _InProcess(_Worker.mapped(context), marker)
            # The first two items run here: the first warms this process (kernels load on
            # first use), the second says how long an item takes. Worker processes cost
            # about a second each to start; a sweep that would finish sooner here stays here.
            warm: list[_Outcome] = []
            for item in todo[:2]:
                warm.append(local.run(item.key, item.request))
                record(warm[-1])
                left = len(todo) - len(warm)
                # Clearly long even counting the first item's warm-up: start workers now.
                if warm[0].seconds * left > 10 * _POOL_WORTH_S:
                    break
            rest = todo[len(warm) :]
            timed = [o.seconds for o in warm if o.ok]  # a failure says nothing about time
            if rest and workers > 1 and timed and min(timed) * len(rest) > _POOL_WORTH_S:
                used = workers
            if backend == "ray":
                used = _serve_on_ray(context, rest, record, workers, address)
            elif used > 1:
                _serve_in_pool(context, rest, record, workers)
            else:
                for item in rest:
                    record(local.run(item.key, item.request))
        except (KeyboardInterrupt, _Stopped):
            interrupted = True
        marker.clear()
        return replace(
            report,
            workers=used,
            done=counts["done"],
            failed=counts["failed"],
            seconds=time.monotonic() - loaded,
            interrupted=interrupted,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _load_datasets(
    pending: Sequence[PendingItem],
    settings: Settings,
    registry: Any,
    folder: Path,
    notify: Callable[[str], None] | None,
) -> tuple[dict[DatasetKey, str], dict[DatasetKey, str], dict[str, str]]:
    """Load every window of every dataset the items read; write each dataset for the workers.

    Returns:
        The shared file and the ``data_source`` text by dataset, and the error of each item
        whose candles could not be loaded (recorded as failed; the others run).
    """
    from hbbacktest.data.preloaded import join_candles, write_shared

    # Each distinct (start, end, warm-up) window is loaded on its own: a window the cache
    # lacks fails only its items, and a missing warm-up is the warning CandleAccess gives,
    # never a failure. The windows of one dataset are then joined into one shared file.
    windows: dict[DatasetKey, dict[tuple[int, int, int], list[str]]] = {}
    names: dict[DatasetKey, tuple[str, str, str]] = {}
    for item in pending:
        request = request_from_dict(item.request, registry=registry)
        for need in candle_needs(request, registry):
            key = dataset_key(need.connector, need.trading_pair, need.interval)
            names[key] = (need.connector, need.trading_pair, need.interval)
            window = (need.start, need.end, need.warmup_bars)
            windows.setdefault(key, {}).setdefault(window, []).append(item.key)
    access = candle_access(settings, notify=notify)
    paths: dict[DatasetKey, str] = {}
    sources: dict[DatasetKey, str] = {}
    broken: dict[str, str] = {}
    for number, key in enumerate(sorted(windows)):
        connector, pair, interval = names[key]
        parts = []
        for (start, end, warm), members in sorted(windows[key].items()):
            try:
                loaded = access.candles(connector, pair, interval, start, end, warmup_bars=warm)
            except HbBacktestError as exc:
                broken.update((m, str(exc)) for m in members if m not in broken)
                continue
            parts.append(loaded.candles)
            sources[key] = loaded.source
        if parts:
            path = folder / f"{number}.arrow"
            write_shared(join_candles(parts), path)
            paths[key] = str(path)
    return paths, sources, broken


BACKENDS = ("local", "ray")
_FEATURE_CACHE_SIZE = 32
#: Start worker processes only when the items left would take longer than this here.
_POOL_WORTH_S = 3.0


@dataclass(frozen=True)
class _WorkerContext:
    """What a worker needs, picklable: the shared files and the settings."""

    paths: Mapping[DatasetKey, str]
    settings: Settings
    sources: Mapping[DatasetKey, str]


class _Worker:
    """A worker's state: the candles, the controller registry, reusable features."""

    def __init__(self, settings: Settings, candles: PreloadedCandles) -> None:
        self.settings = replace(settings, offline=True)
        self.registry = build_registry(self.settings)
        self.candles = candles
        # Features by feature key: configs that differ only in spreads compute them once.
        self.features: dict[Hashable, FeatureTable] = {}

    @classmethod
    def mapped(cls, context: _WorkerContext) -> _Worker:
        """A worker on this machine: the shared Arrow files memory-mapped."""
        return cls(context.settings, preload(context.paths, context.sources))

    def run(self, key: str, request_json: Mapping[str, Any]) -> _Outcome:
        began = time.monotonic()
        try:
            request = request_from_dict(request_json, registry=self.registry)
            if len(self.features) >= _FEATURE_CACHE_SIZE:
                self.features.clear()  # bounded: a sweep's memory must not grow with its size
            result = run_backtest(
                request,
                settings=self.settings,
                registry=self.registry,
                access=self.candles,
                feature_cache=self.features,
            )
            from hbbacktest.metrics.encode import results_json

            metrics = results_json(result.results)
            summary = {
                "run_id": result.run_id,
                "request": request_json,
                "data_source": result.data_source,
                "results": metrics,
                "position_holds": result.position_holds(),
                "warnings": list(result.warnings),
            }
            import orjson

            return _Outcome(
                key,
                True,
                metrics,
                zlib.compress(orjson.dumps(summary), 6),
                list(result.warnings),
                "",
                time.monotonic() - began,
            )
        except HbBacktestError as exc:
            return _Outcome(key, False, {}, b"", [], str(exc), time.monotonic() - began)
        except Exception as exc:  # a bug in hbbacktest: record it, keep the sweep going
            return _Outcome(
                key,
                False,
                {},
                b"",
                [],
                f"internal error (a bug in hbbacktest, please report it): "
                f"{type(exc).__name__}: {exc}",
                time.monotonic() - began,
            )


# The pool's initializer sets this once in each worker process: process-local state that a
# ProcessPoolExecutor task needs, never touched in the parent.
_PROCESS_WORKER: list[_Worker] = []


def _init_worker(context: _WorkerContext, parent: int) -> None:
    import signal
    import threading

    # Ctrl-C reaches the whole process group; the parent decides, workers just stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _PROCESS_WORKER[:] = [_Worker.mapped(context)]

    def watch() -> None:
        # A parent killed with -9 cannot stop its workers: they notice and leave.
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except OSError:
                pass

    threading.Thread(target=watch, name="hbbacktest-parent-watch", daemon=True).start()


def _run_in_worker(key: str, request_json: Mapping[str, Any]) -> _Outcome:
    return _PROCESS_WORKER[0].run(key, request_json)


def _worker_context() -> Any:
    """How worker processes start: from a fork server that imported hbbacktest once.

    Each worker is then a cheap fork of a clean process (not of this one: its database
    connections and exchange sockets stay here). ``spawn`` where fork servers do not exist.
    """
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _serve_in_pool(
    context: _WorkerContext,
    todo: Sequence[PendingItem],
    record: Callable[[_Outcome], None],
    workers: int,
) -> None:
    """Keep at most 4 items per worker in flight, so memory does not grow with the sweep."""
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_worker_context(),
        initializer=_init_worker,
        initargs=(context, os.getpid()),
    )
    queue: Iterator[PendingItem] = iter(todo)
    running: dict[Future[_Outcome], str] = {}

    def submit(item: PendingItem) -> None:
        running[pool.submit(_run_in_worker, item.key, item.request)] = item.key

    try:
        for item in queue:
            submit(item)
            if len(running) >= workers * 4:
                break
        while running:
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                key = running.pop(future)
                try:
                    outcome = future.result()
                except BrokenProcessPool:
                    # A worker died (out of memory, a crash in native code): the pool is gone,
                    # and which in-flight item killed it is unknown.
                    suspects = ", ".join(sorted(k[:12] for k in [key, *running.values()]))
                    raise InternalError(
                        "a sweep worker process died (out of memory, or a crash in native "
                        f"code) while running one of the items {suspects}; what finished is "
                        "stored: run the same command again to resume"
                    ) from None
                record(outcome)
                following = next(queue, None)
                if following is not None:
                    submit(following)
    except BaseException:
        for future in running:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _serve_on_ray(
    context: _WorkerContext,
    todo: Sequence[PendingItem],
    record: Callable[[_Outcome], None],
    workers: int,
    address: str | None,
) -> int:
    """Run items on Ray actors; the candles go into Ray's object store once.

    Returns the number of actors used. Results come back to this process, which records
    them, so the database needs no access from the cluster.
    """
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("the ray backend needs Ray: pip install 'hbbacktest[ray]'") from exc
    if not todo:
        return 1
    started = not ray.is_initialized()
    if started:
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address:
            options["address"] = address
        else:
            options["num_cpus"] = workers
        try:
            ray.init(**options)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster {address or '(local)'}: {exc}"
            ) from exc
    try:
        candles = preload(context.paths, context.sources)
        # Copied into memory once, then shared: workers on this node read it without a copy.
        owned = PreloadedCandles(
            {key: _owned(c) for key, c in candles.datasets.items()}, dict(candles.sources)
        )
        candles_ref = ray.put(owned)
        actor = ray.remote(num_cpus=1)(_RayWorker)
        count = max(1, min(workers, len(todo)))
        actors = [actor.remote(context.settings, candles_ref) for _ in range(count)]
        queue: Iterator[PendingItem] = iter(todo)
        running: dict[Any, Any] = {}
        idle = list(actors)

        def submit(worker: Any) -> bool:
            item = next(queue, None)
            if item is None:
                return False
            running[worker.run.remote(item.key, item.request)] = worker
            return True

        for worker in list(idle):
            for _ in range(2):  # two in flight per actor keeps each busy
                submit(worker)
        while running:
            finished, _ = ray.wait(list(running), num_returns=1)
            for ref in finished:
                worker = running.pop(ref)
                record(ray.get(ref))
                submit(worker)
        return count
    finally:
        if started:
            ray.shutdown()


def _owned(candles: Any) -> Any:
    """A copy of mapped candles that outlives the mapping (for Ray's object store)."""
    from hbbacktest.data.candles import Candles

    return Candles(
        candles.ts.copy(),
        candles.open.copy(),
        candles.high.copy(),
        candles.low.copy(),
        candles.close.copy(),
        candles.volume.copy(),
        candles.interval_s,
    )


class _RayWorker:
    """A Ray actor holding one :class:`_Worker` (registry, feature cache) for many items."""

    def __init__(self, settings: Settings, candles: PreloadedCandles) -> None:
        self.worker = _Worker(settings, candles)

    def run(self, key: str, request_json: Mapping[str, Any]) -> _Outcome:
        return self.worker.run(key, request_json)
