"""The :class:`Store` facade: open (and migrate) the results database, then use it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from sqlalchemy import exc as sa_exc

from hbbacktest.core.errors import ConfigError, OutputError
from hbbacktest.store.database import Database, default_url, open_database
from hbbacktest.store.migrate import upgrade
from hbbacktest.store.sweeps import SweepRepository
from hbbacktest.store.tasks import RunRepository, TaskRepository

__all__ = ["Store"]


class Store(SweepRepository, RunRepository, TaskRepository):
    """The results database (SQLite file by default, PostgreSQL by URL).

    Opening it creates the database if needed and migrates it to the newest schema (Alembic,
    programmatically; a no-op when it is there). Each repository (sweeps; the HTTP API's tasks
    and runs in :mod:`hbbacktest.store.tasks`) is a mixin of this class over the same
    :class:`Database`. Close it with :meth:`close` or a ``with`` block.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path.db`` (see :meth:`default_url`) or
            ``postgresql+psycopg://user:password@host:5432/db``.
        clock: the time source for ``created_at``, ``updated_at`` and ``finished_at``
            (UTC epoch seconds; default :func:`time.time`).

    Raises:
        ConfigError: a bad URL, a missing driver, a server that does not answer or refuses the
            login, a file that is not an SQLite database, or a database written by a newer
            hbbacktest. The message names the URL without its password.
        OutputError: the database file or its folder cannot be created or written.

    Example:
        >>> with Store(Store.default_url(tmp_path)) as store:
        ...     sweep = store.open_sweep("pmm_grid", {"base": {"connector_name": "demo"}})
    """

    def __init__(self, url: str, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._db = open_database(url)
        try:
            self._probe()
            upgrade(self._db)
        except BaseException:
            self._db.close()
            raise

    @staticmethod
    def default_url(data_dir: Path) -> str:
        """``sqlite:///<data_dir>/hbbacktest.db``, with ``data_dir`` made absolute."""
        return default_url(data_dir)

    @property
    def database(self) -> Database:
        """The engine and its transaction rules, for repositories and tests."""
        return self._db

    @property
    def url(self) -> str:
        """The database URL, password hidden."""
        return self._db.url

    def close(self) -> None:
        """Close the pooled connections."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def _probe(self) -> None:
        """Connect once, turning the driver's refusal into a message a person can act on."""
        db = self._db
        try:
            with db.engine.connect():
                pass
        except sa_exc.DBAPIError as exc:
            reason = db.describe(exc)
            if db.dialect == "sqlite":
                if isinstance(exc, sa_exc.OperationalError):
                    raise OutputError(
                        f"cannot open or create the results database {db.url}: {reason}"
                    ) from exc
                raise ConfigError(
                    f"the results database {db.url} is not a usable SQLite database ({reason}); "
                    "point the URL at another file"
                ) from exc
            raise ConfigError(
                f"cannot connect to the results database {db.url}: {reason}. Is the server "
                "running, and are the host, port, database, user and password right?"
            ) from exc
