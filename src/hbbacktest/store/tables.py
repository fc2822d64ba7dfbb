"""The results database's tables: one :class:`~sqlalchemy.MetaData` for every repository.

Conventions (STYLE.md): table names are snake_case and singular, timestamp columns end in
``_at``, and every constraint and index gets its name from :data:`NAMING_CONVENTION`, so the
Alembic migrations in ``migrations/versions/`` can name them statically. A migration never
imports this module: it spells its tables out as they were at that revision. A test checks that
these definitions and the migrated schema agree (``alembic.autogenerate.compare_metadata``).

Adding a table: define it here on :data:`metadata`, write the next revision
(``000N_<date>_<slug>.py``, ``down_revision`` the previous one) and a repository module beside
:mod:`hbbacktest.store.sweeps` (revision 0002 added the HTTP API's ``run`` and ``task``).

Timestamps are stored as SQL timestamps (``TIMESTAMP WITH TIME ZONE`` on PostgreSQL, ISO text in
UTC on SQLite) so that the database reads well in any SQL client, and come back to Python as
UTC epoch seconds (:class:`EpochSeconds`), the one time unit inside hbbacktest.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = [
    "ITEM_STATUSES",
    "NAMING_CONVENTION",
    "TASK_STATUSES",
    "EpochSeconds",
    "metadata",
    "run",
    "sweep",
    "sweep_item",
    "task",
]

NAMING_CONVENTION: dict[str, str] = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

#: A sweep item's life: ``pending`` until run, then ``done`` (final) or ``failed`` (retried by
#: the next run of the sweep).
ITEM_STATUSES = ("pending", "done", "failed")


class EpochSeconds(TypeDecorator[float]):
    """UTC epoch seconds in Python, a timezone-aware SQL timestamp in the database.

    SQLite has no timestamp type: SQLAlchemy stores ISO text there, which we keep in UTC
    (naive), so that text order is time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        """Epoch seconds (or an aware datetime) → a UTC datetime for the driver."""
        if value is None:
            return None
        if isinstance(value, dt.datetime):
            moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        else:
            moment = dt.datetime.fromtimestamp(float(value), dt.UTC)
        moment = moment.astimezone(dt.UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> float | None:
        """A datetime from the driver (naive means UTC) → epoch seconds."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return float(value.timestamp())


def _json() -> JSON:
    # SQL NULL for None (not the JSON text 'null'): metrics of a failed item are absent.
    # Plain JSON, not JSONB, on PostgreSQL: it keeps the keys in the order they were written
    # (parameters in the spec's order, metrics in ``results``' order).
    return JSON(none_as_null=True)


sweep = Table(
    "sweep",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("spec", _json(), nullable=False),
    Column("created_at", EpochSeconds(), nullable=False),
    Column("updated_at", EpochSeconds(), nullable=False),
    UniqueConstraint("name"),
    comment="A named parameter sweep; its items are in sweep_item.",
)

sweep_item = Table(
    "sweep_item",
    metadata,
    Column("id", Integer, primary_key=True),
    Column(
        "sweep_id",
        Integer,
        ForeignKey("sweep.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(64), nullable=False, comment="sha256 of the request's canonical JSON"),
    Column("index", Integer, nullable=False, comment="position in the expanded sweep"),
    Column("params", _json(), nullable=False, comment="the varied parameters, by spec name"),
    Column("request", _json(), nullable=False, comment="the full BacktestRequest JSON"),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("metrics", _json(), nullable=True, comment="the result's `results` keys"),
    Column("summary", LargeBinary, nullable=True, comment="zlib-compressed JSON summary"),
    Column("error", Text, nullable=True),
    Column("seconds", Float, nullable=True, comment="wall time of the run"),
    Column("warnings", _json(), nullable=True),
    Column("finished_at", EpochSeconds(), nullable=True),
    UniqueConstraint("sweep_id", "key"),
    CheckConstraint("status IN ('pending', 'done', 'failed')", name="status"),
    Index(None, "sweep_id", "status"),
    comment="One configuration of a sweep and, once run, its outcome.",
)


#: An API task's life: ``pending`` (queued) → ``running`` → ``completed`` | ``failed`` |
#: ``cancelled``; ``interrupted`` when the server stopped while it ran (resubmit it).
TASK_STATUSES = ("pending", "running", "completed", "failed", "cancelled", "interrupted")

run = Table(
    "run",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("config_id", String(64), nullable=False, comment="sha256 of the request"),
    Column("task_id", String(32), nullable=True, comment="the task that ran it, if any"),
    Column("controller_name", String(200), nullable=False),
    Column("controller_type", String(100), nullable=False),
    Column("connector_name", String(100), nullable=False),
    Column("trading_pair", String(100), nullable=False),
    Column("start", Integer, nullable=False, comment="UTC epoch seconds"),
    Column("end", Integer, nullable=False, comment="UTC epoch seconds"),
    Column("backtesting_resolution", String(16), nullable=False),
    Column("fill_model", String(16), nullable=False),
    Column("request", _json(), nullable=False, comment="the full BacktestRequest JSON"),
    Column("results", _json(), nullable=False, comment="the result's `results` keys"),
    Column("warnings", _json(), nullable=False),
    Column("seconds", Float, nullable=False, comment="wall time of the run"),
    Column("created_at", EpochSeconds(), nullable=False),
    Column("native_size", Integer, nullable=False, comment="bytes of the native JSON"),
    Column("native", LargeBinary, nullable=False, comment="gzip of the native result JSON"),
    Column("upstream", LargeBinary, nullable=False, comment="gzip of the hummingbot-api JSON"),
    Index(None, "created_at"),
    Index(None, "controller_name", "trading_pair"),
    comment="A finished backtest run through the API, both result encodings compressed.",
)

task = Table(
    "task",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("body", _json(), nullable=False, comment="the request body as posted"),
    Column("created_at", EpochSeconds(), nullable=False),
    Column("started_at", EpochSeconds(), nullable=True),
    Column("completed_at", EpochSeconds(), nullable=True),
    Column("error", Text, nullable=True),
    Column("error_kind", String(64), nullable=True, comment="the error's class name"),
    Column("run_id", String(32), ForeignKey("run.id", ondelete="SET NULL"), nullable=True),
    CheckConstraint(
        "status IN ('pending', 'running', 'completed', 'failed', 'cancelled', 'interrupted')",
        name="status",
    ),
    Index(None, "status"),
    Index(None, "created_at"),
    comment="A backtest submitted to the API's task queue.",
)
