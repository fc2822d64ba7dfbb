"""The results database: sweeps, and the HTTP API's tasks and runs.

SQLAlchemy 2 and Alembic live here and nowhere else. One :class:`Store` per process part
(built by its owner, passed in, never global) wraps an engine on a SQLite file (the default,
``Store.default_url(data_dir)``) or PostgreSQL (``HBBACKTEST_DATABASE_URL``); opening it
migrates the schema. See :mod:`hbbacktest.store.sweeps` for what is stored and why, and
:mod:`hbbacktest.store.tasks` for the API's records, and :mod:`hbbacktest.store.tables` for the
schema.

Example:
    >>> from hbbacktest.store import NewItem, Store, parse_condition
    >>> with Store(Store.default_url(data_dir)) as store:
    ...     sweep = store.open_sweep("pmm_grid", spec)
    ...     store.add_items(sweep.id, [NewItem(key, 0, {"take_profit": 0.002}, request)])
    ...     rows = store.results("pmm_grid", where=[parse_condition("take_profit>0.001")])
"""

from hbbacktest.store._store import Store
from hbbacktest.store.query import Condition, parse_condition
from hbbacktest.store.sweeps import (
    NewItem,
    PendingItem,
    ResultRow,
    SweepRecord,
    SweepSummary,
)
from hbbacktest.store.tasks import NewRun, RunRecord, TaskRecord, TaskStatus

__all__ = [
    "Condition",
    "NewItem",
    "NewRun",
    "PendingItem",
    "ResultRow",
    "RunRecord",
    "Store",
    "SweepRecord",
    "SweepSummary",
    "TaskRecord",
    "TaskStatus",
    "parse_condition",
]
