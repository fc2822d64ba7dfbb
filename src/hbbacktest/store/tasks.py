"""The HTTP API's records: finished runs (``run``) and the task queue (``task``).

A run keeps both encodings of its result gzip-compressed (the native JSON of ``hbbacktest
run`` and hummingbot-api's ``/backtesting/run`` JSON), compressed by the worker that ran it, so
the API can send a stored result as it is (``Content-Encoding: gzip``) and the one writer never
pays for compression. Listing tasks or runs never loads a result body.

A task is a queued backtest: its posted body, its status and times, the error that failed it
and the run it produced. Every change is its own short transaction, so a server killed at any
moment loses no finished result; on the next start :meth:`TaskRepository.recover_tasks`
marks the tasks that were running ``interrupted`` (resubmit them with
:meth:`TaskRepository.requeue_task`) and hands back those still pending to queue again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import RowMapping, delete, func, insert, select, update

from hbbacktest.store.tables import run, task

if TYPE_CHECKING:
    from hbbacktest.store.database import Database

__all__ = [
    "NewRun",
    "RunRecord",
    "RunRepository",
    "TaskRecord",
    "TaskRepository",
    "TaskStatus",
]

TaskStatus = Literal["pending", "running", "completed", "failed", "cancelled", "interrupted"]
FINISHED: tuple[TaskStatus, ...] = ("completed", "failed", "cancelled", "interrupted")
_RUN_META = [c for c in run.c if c.name not in ("native", "upstream", "request")]


@dataclass(frozen=True)
class NewRun:
    """A finished run to store (both encodings already gzip-compressed).

    Attributes:
        id: the run's id (a random hex string; ``config_id`` says what was run).
        config_id: the request's content hash.
        request: the full request JSON.
        results: the result's ``results`` keys.
        warnings: the result's warnings.
        seconds: wall time of the run in its worker.
        native_gz: gzip of the native result JSON (``hbbacktest run``'s output).
        native_size: bytes of that JSON uncompressed.
        upstream_gz: gzip of the hummingbot-api ``/backtesting/run`` JSON.
        task_id: the task that ran it, if any.
    """

    id: str
    config_id: str
    request: dict[str, Any]
    results: dict[str, Any]
    warnings: list[str]
    seconds: float
    native_gz: bytes
    native_size: int
    upstream_gz: bytes
    task_id: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """A stored run without its result bodies. Times are UTC epoch seconds."""

    id: str
    config_id: str
    task_id: str | None
    controller_name: str
    controller_type: str
    connector_name: str
    trading_pair: str
    start: int
    end: int
    backtesting_resolution: str
    fill_model: str
    results: dict[str, Any]
    warnings: list[str]
    seconds: float
    created_at: float
    native_size: int


@dataclass(frozen=True)
class TaskRecord:
    """A queued, running or finished API task. Times are UTC epoch seconds."""

    id: str
    status: TaskStatus
    body: dict[str, Any]
    created_at: float
    started_at: float | None
    completed_at: float | None
    error: str | None
    error_kind: str | None
    run_id: str | None


def _run_record(row: RowMapping) -> RunRecord:
    return RunRecord(
        id=row["id"],
        config_id=row["config_id"],
        task_id=row["task_id"],
        controller_name=row["controller_name"],
        controller_type=row["controller_type"],
        connector_name=row["connector_name"],
        trading_pair=row["trading_pair"],
        start=int(row["start"]),
        end=int(row["end"]),
        backtesting_resolution=row["backtesting_resolution"],
        fill_model=row["fill_model"],
        results=row["results"],
        warnings=list(row["warnings"]),
        seconds=float(row["seconds"]),
        created_at=float(row["created_at"]),
        native_size=int(row["native_size"]),
    )


def _task_record(row: RowMapping) -> TaskRecord:
    return TaskRecord(
        id=row["id"],
        status=row["status"],
        body=row["body"],
        created_at=float(row["created_at"]),
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        error=row["error"],
        error_kind=row["error_kind"],
        run_id=row["run_id"],
    )


class RunRepository:
    """Finished API runs: store, list (metadata only), fetch one body, delete."""

    _db: Database
    _clock: Callable[[], float]

    def add_run(self, new: NewRun) -> RunRecord:
        """Store a finished run, stamped now."""
        config = new.request.get("config", {})
        values = {
            "id": new.id,
            "config_id": new.config_id,
            "task_id": new.task_id,
            "controller_name": str(config.get("controller_name", "")),
            "controller_type": str(config.get("controller_type", "")),
            "connector_name": str(config.get("connector_name", "")),
            "trading_pair": str(config.get("trading_pair", "")),
            "start": int(new.request["start"]),
            "end": int(new.request["end"]),
            "backtesting_resolution": str(new.request.get("backtesting_resolution", "1m")),
            "fill_model": str(new.request.get("fill_model", "hummingbot")),
            "request": new.request,
            "results": new.results,
            "warnings": new.warnings,
            "seconds": new.seconds,
            "created_at": self._clock(),
            "native_size": new.native_size,
            "native": new.native_gz,
            "upstream": new.upstream_gz,
        }
        with self._db.write() as conn:
            conn.execute(insert(run).values(**values))
        return _run_record(values)  # type: ignore[arg-type]

    def get_run(self, run_id: str) -> RunRecord | None:
        """A run's metadata, or None."""
        with self._db.read() as conn:
            row = conn.execute(select(*_RUN_META).where(run.c.id == run_id)).mappings().first()
        return None if row is None else _run_record(row)

    def run_body(self, run_id: str, encoding: Literal["native", "upstream"]) -> bytes | None:
        """The gzip-compressed result JSON of a run in one encoding, or None."""
        column = run.c.native if encoding == "native" else run.c.upstream
        with self._db.read() as conn:
            return conn.execute(select(column).where(run.c.id == run_id)).scalar()

    def list_runs(
        self,
        *,
        controller_name: str | None = None,
        connector_name: str | None = None,
        trading_pair: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[RunRecord], int]:
        """Runs, newest first, filtered; and how many match in all (for pagination).

        Args:
            controller_name: only runs of this controller.
            connector_name: only runs on this connector.
            trading_pair: only runs of this pair.
            since: only runs stored at or after this time (UTC epoch seconds).
            until: only runs stored before this time.
            limit: at most this many rows.
            offset: skip this many rows first.
        """
        conditions = []
        if controller_name:
            conditions.append(run.c.controller_name == controller_name)
        if connector_name:
            conditions.append(run.c.connector_name == connector_name)
        if trading_pair:
            conditions.append(run.c.trading_pair == trading_pair)
        if since is not None:
            conditions.append(run.c.created_at >= since)
        if until is not None:
            conditions.append(run.c.created_at < until)
        page = (
            select(*_RUN_META)
            .where(*conditions)
            .order_by(run.c.created_at.desc(), run.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        count = select(func.count()).select_from(run).where(*conditions)
        with self._db.read() as conn:
            rows = [_run_record(row) for row in conn.execute(page).mappings()]
            total = int(conn.execute(count).scalar_one())
        return rows, total

    def delete_run(self, run_id: str) -> bool:
        """Delete a run (its tasks keep their status, without the result). False if absent."""
        with self._db.write() as conn:
            return bool(conn.execute(delete(run).where(run.c.id == run_id)).rowcount)


class TaskRepository:
    """The API's task queue, persisted."""

    _db: Database
    _clock: Callable[[], float]

    def create_task(self, task_id: str, body: Mapping[str, Any]) -> TaskRecord:
        """Record a new pending task."""
        values = {
            "id": task_id,
            "status": "pending",
            "body": dict(body),
            "created_at": self._clock(),
            "started_at": None,
            "completed_at": None,
            "error": None,
            "error_kind": None,
            "run_id": None,
        }
        with self._db.write() as conn:
            conn.execute(insert(task).values(**values))
        return _task_record(values)  # type: ignore[arg-type]

    def get_task(self, task_id: str) -> TaskRecord | None:
        """A task, or None."""
        with self._db.read() as conn:
            row = conn.execute(select(task).where(task.c.id == task_id)).mappings().first()
        return None if row is None else _task_record(row)

    def list_tasks(
        self, *, limit: int | None = None, newest_first: bool = False
    ) -> list[TaskRecord]:
        """Tasks, oldest first (as hummingbot-api lists them), or newest first."""
        order = (
            (task.c.created_at.desc(), task.c.id.desc())
            if newest_first
            else (task.c.created_at, task.c.id)
        )
        stmt = select(task).order_by(*order)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._db.read() as conn:
            return [_task_record(row) for row in conn.execute(stmt).mappings()]

    def start_task(self, task_id: str) -> bool:
        """``pending`` → ``running``, stamped now; False if the task is gone or not pending."""
        with self._db.write() as conn:
            changed = conn.execute(
                update(task)
                .where(task.c.id == task_id, task.c.status == "pending")
                .values(status="running", started_at=self._clock())
            ).rowcount
        return bool(changed)

    def finish_task(
        self,
        task_id: str,
        status: TaskStatus,
        *,
        error: str | None = None,
        error_kind: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Record how a task ended (a task deleted meanwhile stays deleted)."""
        with self._db.write() as conn:
            conn.execute(
                update(task)
                .where(task.c.id == task_id)
                .values(
                    status=status,
                    completed_at=self._clock(),
                    error=error,
                    error_kind=error_kind,
                    run_id=run_id,
                )
            )

    def delete_task(self, task_id: str) -> bool:
        """Remove a task (its run stays in the runs). False if absent."""
        with self._db.write() as conn:
            return bool(conn.execute(delete(task).where(task.c.id == task_id)).rowcount)

    def requeue_task(self, task_id: str) -> TaskRecord | None:
        """Make a finished task pending again (same id, same body); None if absent.

        Raises:
            ValueError: the task is pending or running.
        """
        with self._db.write() as conn:
            # One conditional UPDATE: two resubmits at once cannot both succeed.
            changed = conn.execute(
                update(task)
                .where(task.c.id == task_id, task.c.status.in_(FINISHED))
                .values(
                    status="pending",
                    created_at=self._clock(),
                    started_at=None,
                    completed_at=None,
                    error=None,
                    error_kind=None,
                    run_id=None,
                )
            ).rowcount
            if not changed:
                row = conn.execute(select(task.c.status).where(task.c.id == task_id)).first()
                if row is None:
                    return None
                raise ValueError(f"task {task_id} is {row.status}")
        return self.get_task(task_id)

    def recover_tasks(self, *, note: str) -> tuple[int, list[TaskRecord]]:
        """After a restart: running tasks become ``interrupted``, with ``note`` as their error.

        Args:
            note: the error to record; ``{task_id}`` in it is replaced by each task's id.

        Returns:
            How many were interrupted, and the pending tasks, oldest first, to queue again.
        """
        with self._db.write() as conn:
            running = conn.execute(select(task.c.id).where(task.c.status == "running")).scalars()
            ids = list(running)
            now = self._clock()
            for task_id in ids:
                conn.execute(
                    update(task)
                    .where(task.c.id == task_id, task.c.status == "running")
                    .values(
                        status="interrupted",
                        completed_at=now,
                        error=note.replace("{task_id}", task_id),
                        error_kind="Interrupted",
                    )
                )
            pending = [
                _task_record(row)
                for row in conn.execute(
                    select(task)
                    .where(task.c.status == "pending")
                    .order_by(task.c.created_at, task.c.id)
                ).mappings()
            ]
        return len(ids), pending

    def purge(self, older_than: float) -> tuple[int, int]:
        """Delete finished tasks and runs stored before ``older_than`` (epoch seconds).

        Returns:
            (tasks deleted, runs deleted).
        """
        with self._db.write() as conn:
            tasks = conn.execute(
                delete(task).where(task.c.status.in_(FINISHED), task.c.completed_at < older_than)
            ).rowcount
            runs = conn.execute(delete(run).where(run.c.created_at < older_than)).rowcount
        return int(tasks), int(runs)
