"""Sweeps in the results database: items, their outcomes, and queries over them.

A sweep is a name (unique) and its latest spec. Its items are the expanded configurations,
each keyed by the sha256 of its request's canonical JSON (the request's ``config_id``): adding
the same configuration twice stores it once, so re-running a spec resumes it.

What is stored for a finished item: its metrics (``results``' keys, JSON, queryable), warnings,
wall time, and a zlib-compressed JSON *summary* (results, warnings, position holds; compressed
by the caller, in the worker that ran the item, so the one writer never pays for it). The full
per-executor result is **not** stored: the engine is deterministic (the same request and
candles give byte-identical output), so re-running one item's request recomputes it exactly,
in well under a second, while storing thousands of full results would cost gigabytes.

Durability: every record is its own short transaction, so a ``kill -9`` at any moment loses
nothing that was recorded and stores nothing twice. Concurrency: the process running a sweep is
its only writer (its workers hand results back), and two runs of the same sweep at once stay
consistent: items are inserted-or-ignored on their unique ``(sweep_id, key)``, and recording an
item that is already done changes nothing (the first result wins).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Connection, RowMapping, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement, KeyedColumnElement

from hbbacktest.core.errors import ConfigError, InternalError, did_you_mean
from hbbacktest.store.query import Condition, json_keys, json_number
from hbbacktest.store.tables import sweep, sweep_item

if TYPE_CHECKING:
    from hbbacktest.store.database import Database

__all__ = [
    "ItemStatus",
    "NewItem",
    "PendingItem",
    "ResultRow",
    "SweepRecord",
    "SweepRepository",
    "SweepSummary",
]

ItemStatus = Literal["pending", "done", "failed"]
NAME_MAX = 200
KEY_MAX = 64
_INSERT_CHUNK = 500  # items per INSERT statement (SQLite caps bound parameters per statement)


@dataclass(frozen=True)
class SweepRecord:
    """A stored sweep. Times are UTC epoch seconds."""

    id: int
    name: str
    spec: dict[str, Any]
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class NewItem:
    """One expanded configuration of a sweep, to add.

    Attributes:
        key: the request's content hash (sha256 hex, 64 characters): the resume key.
        index: its position in the expansion (results and pending items come in this order).
        params: the varied parameters, named as in the spec (JSON object).
        request: the full request (JSON object) a worker runs.
    """

    key: str
    index: int
    params: dict[str, Any]
    request: dict[str, Any]


@dataclass(frozen=True)
class PendingItem:
    """An item still to run: never run (``pending``) or failed last time (``failed``)."""

    key: str
    index: int
    params: dict[str, Any]
    request: dict[str, Any]
    status: ItemStatus


@dataclass(frozen=True)
class SweepSummary:
    """A sweep and its item counts (``items == done + failed + pending``)."""

    id: int
    name: str
    created_at: float
    updated_at: float
    items: int
    done: int
    failed: int
    pending: int


@dataclass(frozen=True)
class ResultRow:
    """One finished item: its parameters and metrics, or its error.

    Attributes:
        key: the request's content hash.
        index: position in the expansion.
        params: the varied parameters.
        metrics: ``results``' keys (empty for a failed item).
        status: ``done`` or ``failed``.
        error: why it failed (``None`` when done).
        seconds: wall time of the run.
        finished_at: when it was recorded (UTC epoch seconds).
        warnings: the run's warnings.
    """

    key: str
    index: int
    params: dict[str, Any]
    metrics: dict[str, Any]
    status: ItemStatus
    error: str | None
    seconds: float | None
    finished_at: float | None
    warnings: list[str] = field(default_factory=list)


def _insert(dialect: str) -> Callable[..., Any]:
    """The dialect's ``INSERT`` with ``ON CONFLICT`` support."""
    return sqlite.insert if dialect == "sqlite" else postgresql.insert


class SweepRepository:
    """Sweep methods of :class:`hbbacktest.store.Store` (a mixin over its database)."""

    _db: Database
    _clock: Callable[[], float]

    def open_sweep(
        self, name: str, spec: dict[str, Any], *, created_at: float | None = None
    ) -> SweepRecord:
        """Get the sweep called ``name``, creating it if new; store ``spec`` as its latest spec.

        Args:
            name: the sweep's unique name (1 to 200 characters).
            spec: the sweep spec as JSON data (replaces the stored one).
            created_at: creation time for a new sweep (UTC epoch seconds; default now).

        Raises:
            ConfigError: an empty or too long name.

        Example:
            >>> record = store.open_sweep("pmm_grid", {"base": {"connector_name": "demo"}})
        """
        if not name or len(name) > NAME_MAX or name != name.strip():
            raise ConfigError(
                f"sweep name {name!r}: use 1 to {NAME_MAX} characters, without spaces around"
            )
        now = self._clock()
        stmt = _insert(self._db.dialect)(sweep).values(
            name=name,
            spec=spec,
            created_at=now if created_at is None else created_at,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[sweep.c.name],
            set_={"spec": stmt.excluded.spec, "updated_at": stmt.excluded.updated_at},
        ).returning(sweep.c.id, sweep.c.name, sweep.c.spec, sweep.c.created_at, sweep.c.updated_at)
        with self._db.write() as conn:
            row = conn.execute(stmt).one()
        return SweepRecord(row.id, row.name, row.spec, row.created_at, row.updated_at)

    def find_sweep(self, name: str) -> SweepRecord | None:
        """The sweep called ``name``, or None."""
        query = select(
            sweep.c.id, sweep.c.name, sweep.c.spec, sweep.c.created_at, sweep.c.updated_at
        ).where(sweep.c.name == name)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return SweepRecord(row.id, row.name, row.spec, row.created_at, row.updated_at)

    def delete_sweep(self, name: str) -> int:
        """Delete a sweep and its items (in one transaction); the number of items deleted.

        Raises:
            ConfigError: no sweep has that name (with a did-you-mean).
        """
        with self._db.write() as conn:
            sweep_id = self._sweep_id(conn, name)
            deleted = conn.execute(delete(sweep_item).where(sweep_item.c.sweep_id == sweep_id))
            conn.execute(delete(sweep).where(sweep.c.id == sweep_id))
        return int(deleted.rowcount or 0)

    def add_items(self, sweep_id: int, items: Sequence[NewItem]) -> int:
        """Add items to a sweep; one it already has keeps its status and results.

        Returns:
            How many were new (a key given twice in ``items`` counts once).

        Raises:
            InternalError: no sweep ``sweep_id``, or a key longer than 64 characters (bugs of
                the caller).
        """
        rows: dict[str, dict[str, Any]] = {}
        for item in items:
            if not item.key or len(item.key) > KEY_MAX:
                raise InternalError(f"sweep item key {item.key!r}: expected a sha256 hex digest")
            rows.setdefault(
                item.key,
                {
                    "sweep_id": sweep_id,
                    "key": item.key,
                    "index": item.index,
                    "params": item.params,
                    "request": item.request,
                    "status": "pending",
                },
            )
        values = list(rows.values())
        added = 0
        with self._db.write() as conn:
            self._check_sweep(conn, sweep_id)
            for start in range(0, len(values), _INSERT_CHUNK):
                chunk = values[start : start + _INSERT_CHUNK]
                stmt = (
                    _insert(self._db.dialect)(sweep_item)
                    .values(chunk)
                    .on_conflict_do_nothing(
                        index_elements=[sweep_item.c.sweep_id, sweep_item.c.key]
                    )
                    .returning(sweep_item.c.key)
                )
                new = {row.key for row in conn.execute(stmt)}
                added += len(new)
                # Items the sweep had already take this spec's index and parameter names (a
                # spec that added a window names it on every item); results stay as they are.
                again = [
                    {"s": sweep_id, "k": row["key"], "i": row["index"], "p": row["params"]}
                    for row in chunk
                    if row["key"] not in new
                ]
                if again:
                    conn.execute(
                        update(sweep_item)
                        .where(
                            sweep_item.c.sweep_id == bindparam("s"),
                            sweep_item.c.key == bindparam("k"),
                        )
                        .values(
                            index=bindparam("i"),
                            params=bindparam("p", type_=sweep_item.c.params.type),
                        ),
                        again,
                    )
            if added:
                self._touch(conn, sweep_id)
        return added

    def keys(self, sweep_id: int) -> set[str]:
        """The keys of every item of a sweep."""
        with self._db.read() as conn:
            query = select(sweep_item.c.key).where(sweep_item.c.sweep_id == sweep_id)
            return set(conn.execute(query).scalars())

    def pending(self, sweep_id: int) -> list[PendingItem]:
        """Items not done yet, failed ones included (a new run retries them), by index."""
        stmt = (
            select(
                sweep_item.c.key,
                sweep_item.c.index,
                sweep_item.c.params,
                sweep_item.c.request,
                sweep_item.c.status,
            )
            .where(sweep_item.c.sweep_id == sweep_id, sweep_item.c.status != "done")
            .order_by(sweep_item.c.index, sweep_item.c.id)
        )
        with self._db.read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [
            PendingItem(r["key"], r["index"], r["params"], r["request"], r["status"]) for r in rows
        ]

    def record_done(
        self,
        sweep_id: int,
        key: str,
        *,
        metrics: dict[str, Any],
        summary: bytes,
        seconds: float,
        warnings: list[str],
    ) -> None:
        """Record an item's result, in its own transaction; a no-op if the item is done already.

        Args:
            sweep_id: the sweep.
            key: the item's key.
            metrics: ``results``' keys (strict JSON: finite numbers or ``None``; a NaN would
                be stored as ``null``).
            summary: the run's JSON summary, zlib-compressed by the caller
                (``zlib.compress(orjson.dumps(summary))``); stored as given.
            seconds: wall time of the run.
            warnings: the run's warnings.

        Raises:
            InternalError: the sweep has no item ``key``, or ``summary`` is not zlib data.
            OutputError: the database could not be written.
        """
        values = {
            "status": "done",
            "metrics": metrics,
            "summary": _checked_zlib(summary),
            "error": None,
            "seconds": seconds,
            "warnings": list(warnings),
        }
        self._record(sweep_id, key, values)

    def record_failed(self, sweep_id: int, key: str, *, error: str, seconds: float) -> None:
        """Record that an item failed (a later run retries it); never overwrites a done item.

        Raises:
            InternalError: the sweep has no item ``key``.
            OutputError: the database could not be written.
        """
        values = {
            "status": "failed",
            "metrics": None,
            "summary": None,
            "error": error,
            "seconds": seconds,
            "warnings": None,
        }
        self._record(sweep_id, key, values)

    def list_sweeps(self) -> list[SweepSummary]:
        """Every sweep with its item counts, oldest first."""
        status = sweep_item.c.status
        stmt = (
            select(
                sweep.c.id,
                sweep.c.name,
                sweep.c.created_at,
                sweep.c.updated_at,
                func.count(sweep_item.c.id).label("items"),
                _count(status == "done").label("done"),
                _count(status == "failed").label("failed"),
                _count(status == "pending").label("pending"),
            )
            .select_from(sweep.outerjoin(sweep_item))
            .group_by(sweep.c.id, sweep.c.name, sweep.c.created_at, sweep.c.updated_at)
            .order_by(sweep.c.created_at, sweep.c.id)
        )
        with self._db.read() as conn:
            return [
                SweepSummary(
                    r.id,
                    r.name,
                    r.created_at,
                    r.updated_at,
                    int(r.items),
                    int(r.done),
                    int(r.failed),
                    int(r.pending),
                )
                for r in conn.execute(stmt)
            ]

    def results(
        self,
        name: str,
        *,
        where: Sequence[Condition] = (),
        sort: str | None = None,
        descending: bool = True,
        top: int | None = None,
        include_failed: bool = False,
    ) -> list[ResultRow]:
        """Finished items of sweep ``name``, filtered and sorted in SQL.

        Args:
            name: the sweep.
            where: conditions, all of which must hold, on parameters or metrics by name (a
                name that is both is the parameter).
            sort: a parameter or metric to sort by, numerically (``None``: by index); items
                without a number there come last in either direction.
            descending: largest first (the default, for "best by sharpe_ratio").
            top: keep the first ``top`` rows.
            include_failed: also list failed items (their metrics are empty).

        Raises:
            ConfigError: no such sweep, a name that is neither a parameter nor a metric of it
                (with "did you mean"), or ``top`` < 1.

        Example:
            >>> rows = store.results("pmm_grid", where=[parse_condition("take_profit>0.002")],
            ...                      sort="sharpe_ratio", top=20)
        """
        if top is not None and top < 1:
            raise ConfigError(f"top must be at least 1, got {top}")
        statuses = ["done", "failed"] if include_failed else ["done"]
        with self._db.read() as conn:
            sweep_id = self._sweep_id(conn, name)
            names = [c.name for c in where] + ([sort] if sort is not None else [])
            columns = self._resolve(conn, name, sweep_id, names)
            stmt = select(
                sweep_item.c.key,
                sweep_item.c.index,
                sweep_item.c.params,
                sweep_item.c.metrics,
                sweep_item.c.status,
                sweep_item.c.error,
                sweep_item.c.seconds,
                sweep_item.c.finished_at,
                sweep_item.c.warnings,
            ).where(sweep_item.c.sweep_id == sweep_id, sweep_item.c.status.in_(statuses))
            for condition in where:
                stmt = stmt.where(condition.clause(columns[condition.name], self._db.dialect))
            if sort is not None:
                number = json_number(columns[sort], sort)
                stmt = stmt.order_by(
                    case((number.is_(None), 1), else_=0),
                    number.desc() if descending else number.asc(),
                )
            stmt = stmt.order_by(sweep_item.c.index, sweep_item.c.id)
            if top is not None:
                stmt = stmt.limit(top)
            return [_result_row(r) for r in conn.execute(stmt).mappings()]

    def summary(self, name: str, key: str) -> bytes | None:
        """The summary of item ``key`` of sweep ``name``, zlib-compressed JSON as recorded.

        Returns ``None`` when the sweep has no such item, or it is not done. Read it with
        ``json.loads(zlib.decompress(blob))``.

        Raises:
            ConfigError: no such sweep.
        """
        with self._db.read() as conn:
            sweep_id = self._sweep_id(conn, name)
            blob = conn.execute(
                select(sweep_item.c.summary).where(
                    sweep_item.c.sweep_id == sweep_id,
                    sweep_item.c.key == key,
                    sweep_item.c.status == "done",
                )
            ).scalar_one_or_none()
        return None if blob is None else bytes(blob)

    def request(self, name: str, key: str) -> dict[str, Any] | None:
        """The request JSON of item ``key`` of sweep ``name`` (``None``: no such item).

        Raises:
            ConfigError: no such sweep.
        """
        with self._db.read() as conn:
            sweep_id = self._sweep_id(conn, name)
            value: dict[str, Any] | None = conn.execute(
                select(sweep_item.c.request).where(
                    sweep_item.c.sweep_id == sweep_id, sweep_item.c.key == key
                )
            ).scalar_one_or_none()
        return value

    # -- helpers ------------------------------------------------------------------------------

    def _record(self, sweep_id: int, key: str, values: dict[str, Any]) -> None:
        now = self._clock()
        stmt = (
            update(sweep_item)
            .where(
                sweep_item.c.sweep_id == sweep_id,
                sweep_item.c.key == key,
                sweep_item.c.status != "done",
            )
            .values(**values, finished_at=now)
        )
        with self._db.write() as conn:
            if conn.execute(stmt).rowcount:
                self._touch(conn, sweep_id, now)
                return
            exists = conn.execute(
                select(sweep_item.c.id).where(
                    sweep_item.c.sweep_id == sweep_id, sweep_item.c.key == key
                )
            ).first()
        if exists is None:
            raise InternalError(f"sweep {sweep_id} has no item {key!r} to record")

    def _touch(self, conn: Connection, sweep_id: int, now: float | None = None) -> None:
        now = self._clock() if now is None else now
        conn.execute(update(sweep).where(sweep.c.id == sweep_id).values(updated_at=now))

    def _check_sweep(self, conn: Connection, sweep_id: int) -> None:
        if conn.execute(select(sweep.c.id).where(sweep.c.id == sweep_id)).first() is None:
            raise InternalError(f"no sweep with id {sweep_id} (open it with open_sweep first)")

    def _sweep_id(self, conn: Connection, name: str) -> int:
        found = conn.execute(select(sweep.c.id).where(sweep.c.name == name)).scalar_one_or_none()
        if found is None:
            names = list(conn.execute(select(sweep.c.name).order_by(sweep.c.name)).scalars())
            known = f"; stored sweeps: {', '.join(names)}" if names else "; no sweep is stored yet"
            raise ConfigError(f"no sweep named {name!r}{did_you_mean(name, names)}{known}")
        return int(found)

    def _resolve(
        self, conn: Connection, sweep_name: str, sweep_id: int, names: Iterable[str]
    ) -> dict[str, KeyedColumnElement[Any]]:
        """The JSON column (``params`` or ``metrics``) holding each name; parameters first."""
        wanted = set(names)
        if not wanted:
            return {}
        of_sweep = sweep_item.c.sweep_id == sweep_id
        dialect = self._db.dialect
        params = set(conn.execute(json_keys(sweep_item.c.params, dialect, of_sweep)).scalars())
        metrics = set(
            conn.execute(
                json_keys(sweep_item.c.metrics, dialect, of_sweep, sweep_item.c.status == "done")
            ).scalars()
        )
        columns: dict[str, KeyedColumnElement[Any]] = {}
        for name in sorted(wanted):
            if name in params:
                columns[name] = sweep_item.c.params
            elif name in metrics or not metrics:
                # Nothing is done yet: metric names cannot be checked, and match no row.
                columns[name] = sweep_item.c.metrics
            else:
                raise ConfigError(
                    f"sweep {sweep_name!r} has no parameter or metric {name!r}"
                    f"{did_you_mean(name, params | metrics)}; parameters: "
                    f"{', '.join(sorted(params)) or '(none)'}; metrics: {', '.join(sorted(metrics))}"
                )
        return columns


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _result_row(row: RowMapping) -> ResultRow:
    return ResultRow(
        key=row["key"],
        index=row["index"],
        params=row["params"],
        metrics=row["metrics"] or {},
        status=row["status"],
        error=row["error"],
        seconds=row["seconds"],
        finished_at=row["finished_at"],
        warnings=list(row["warnings"] or []),
    )


def _checked_zlib(blob: bytes) -> bytes:
    """``blob`` if it starts like zlib data (the header is checked, not the whole stream)."""
    try:
        zlib.decompressobj().decompress(bytes(blob[:64]))
    except zlib.error as exc:
        raise InternalError(
            f"a sweep item's summary must be zlib-compressed JSON, got {bytes(blob[:16])!r}…"
        ) from exc
    return bytes(blob)
