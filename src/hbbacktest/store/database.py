"""The results database: one engine per :class:`Store`, its transaction rules and its errors.

:func:`open_database` is the session factory of STYLE.md: it turns a URL into a
:class:`Database` (nothing is built at import time). The rules, each for a failure worth
avoiding:

* **SQLite**: WAL journal (readers never block the writer), ``synchronous=NORMAL`` (a commit
  survives any crash of the process; after a power cut the last commits may roll back, never
  corrupt), ``busy_timeout`` 30 s, foreign keys on. hbbacktest emits ``BEGIN`` itself (the
  ``sqlite3`` module's implicit transactions are off): :meth:`Database.write` begins with
  ``BEGIN IMMEDIATE``, taking the write lock up front, so two writers queue instead of failing
  with "database is locked" when a read transaction tries to become a write one.
* **PostgreSQL**: ``postgresql://`` (and ``postgres://``) mean psycopg 3, the driver hbbacktest
  installs; connections are checked before use (a long sweep outlives idle timeouts) and a
  connection attempt gives up after 10 s.
* **fork**: a pooled connection is never used by a process other than the one that opened it
  (a worker forked from the writer opens its own, should it ever need one).
* **errors**: a bad URL, a missing driver, a server that does not answer or refuses the login
  is a :class:`~hbbacktest.core.errors.ConfigError`; a database file that cannot be created or
  written is an :class:`~hbbacktest.core.errors.OutputError`. Messages name the URL with its
  password hidden.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import orjson
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from hbbacktest.core.errors import ConfigError, OutputError

__all__ = ["Database", "default_url", "open_database"]

DB_FILE_NAME = "hbbacktest.db"
BUSY_TIMEOUT_MS = 30_000
CONNECT_TIMEOUT_S = 10
SQLITE_MIN = (3, 35)
_WRITE = "hbbacktest_write"  # execution option: this transaction writes
_ASYNC_DRIVERS = {"asyncpg", "aiosqlite", "psycopg_async", "pysqlite_async"}
_EXAMPLES = (
    "sqlite:////absolute/path/hbbacktest.db or postgresql+psycopg://user:password@host:5432/db"
)


def default_url(data_dir: Path) -> str:
    """The default results database: ``sqlite:///<data_dir>/hbbacktest.db``, absolute.

    Example:
        >>> default_url(Path("/var/lib/hbbacktest"))
        'sqlite:////var/lib/hbbacktest/hbbacktest.db'
    """
    return f"sqlite:///{(Path(data_dir).expanduser().absolute() / DB_FILE_NAME).as_posix()}"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _mask(text: str) -> str:
    """Hide passwords in any text: ``user:secret@host`` and ``?password=…``.

    The secret runs to the last ``@`` of the authority, so an unescaped ``@`` in a password
    hides it whole.
    """
    text = re.sub(r"(://[^:/@\s]*:)[^/\s]*@", r"\1***@", text)
    return re.sub(r"([?&]password=)[^&\s'\"]*", r"\1***", text, flags=re.IGNORECASE)


def _shown(url: URL) -> str:
    """A URL for messages: no password, wherever the user put it."""
    return _mask(url.render_as_string(hide_password=True))


class Database:
    """An engine with hbbacktest's transaction rules; built by :func:`open_database`.

    Attributes:
        engine: the SQLAlchemy engine (one pool per :class:`Database`).
        url: the URL as shown in messages, password hidden.
    """

    def __init__(
        self, engine: Engine, *, password: str | None = None, shown: str | None = None
    ) -> None:
        self.engine = engine
        self.url = shown or _shown(engine.url)
        self._password = password
        self._write_engine = engine.execution_options(**{_WRITE: True})

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction (one consistent snapshot), rolled back at the end.

        Raises:
            OutputError: the database could not be read (file gone, server down …).
        """
        try:
            with self.engine.connect() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            self.fail(exc, "read")
        except sa_exc.TimeoutError as exc:
            raise OutputError(
                f"the results database {self.url} could not be read: every connection is busy "
                f"({exc}); retry in a moment"
            ) from exc

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed if the block ends without an error.

        On SQLite the transaction begins with ``BEGIN IMMEDIATE`` (the write lock is taken
        before the first statement, waiting up to ``busy_timeout`` for another writer).

        Raises:
            OutputError: the database could not be written (disk full, locked for longer than
                the busy timeout, server gone …); nothing of the block was stored.
        """
        try:
            with self._write_engine.begin() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            self.fail(exc, "written")
        except sa_exc.TimeoutError as exc:
            raise OutputError(
                f"the results database {self.url} could not be written: every connection is "
                f"busy ({exc}); retry in a moment"
            ) from exc

    def fail(self, exc: sa_exc.DBAPIError, what: str) -> NoReturn:
        """Raise :class:`OutputError` for a database error met while the database was used."""
        raise OutputError(
            f"the results database {self.url} could not be {what}: {self.describe(exc)}"
        ) from exc

    def describe(self, exc: BaseException) -> str:
        """The driver's message for ``exc``, one line, without the password."""
        orig = getattr(exc, "orig", None) or exc
        text = " ".join(str(orig).split()) or type(orig).__name__
        if self._password and len(self._password) >= 3:  # shorter: would mangle the text
            text = text.replace(self._password, "***")
        host = self.engine.url.host or ""
        if "@" in host:  # an unescaped "@" in the password left its tail in the host
            text = text.replace(host, "***@" + host.rsplit("@", 1)[1])
        return _mask(text)

    def close(self) -> None:
        """Close every pooled connection (the :class:`Database` can still be used after)."""
        self.engine.dispose()


def open_database(url: str) -> Database:
    """Build the engine for ``url`` (SQLite file or PostgreSQL); does not connect yet.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///relative.db``, ``sqlite:////absolute.db``,
            ``postgresql+psycopg://user:password@host:5432/db`` (``postgresql://`` and
            ``postgres://`` mean the same).

    Raises:
        ConfigError: not a URL, not SQLite or PostgreSQL, or its driver is not installed.
        OutputError: the folder of a SQLite file cannot be created.

    Example:
        >>> db = open_database("sqlite:///:memory:")
        >>> db.dialect
        'sqlite'
    """
    parsed = _parse(url)
    options: dict[str, Any] = {
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if parsed.get_backend_name() == "sqlite":
        if sqlite3.sqlite_version_info < SQLITE_MIN:
            raise ConfigError(
                f"the results database needs SQLite {'.'.join(map(str, SQLITE_MIN))} or newer "
                f"(INSERT … RETURNING); this Python has {sqlite3.sqlite_version}: use a newer "
                "Python, or PostgreSQL"
            )
        _make_sqlite_folder(parsed)
    else:
        options["pool_pre_ping"] = True
        if "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_S}
    shown = _shown(parsed)
    try:
        engine = create_engine(parsed, **options)
    except sa_exc.NoSuchModuleError as exc:
        raise ConfigError(
            f"database URL {shown}: SQLAlchemy has no driver {parsed.drivername!r}; use {_EXAMPLES}"
        ) from exc
    except ImportError as exc:
        raise ConfigError(
            f"database URL {shown}: its driver is not installed ({exc.name or exc}); use "
            "postgresql+psycopg:// (installed with hbbacktest), or install that driver"
        ) from exc
    except (sa_exc.ArgumentError, TypeError, ValueError) as exc:
        raise ConfigError(f"database URL {shown} is not usable: {exc}; use {_EXAMPLES}") from exc
    _add_guards(engine)
    return Database(engine, password=parsed.password if parsed.password else None, shown=shown)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise ConfigError(f"{_mask(url)!r} is not a database URL; expected {_EXAMPLES}") from exc
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name() if "+" in parsed.drivername else None
    if backend == "postgres":  # Heroku-style, refused by SQLAlchemy
        backend = "postgresql"
        parsed = parsed.set(drivername=f"postgresql+{driver}" if driver else "postgresql")
    if backend == "postgresql" and driver is None:
        parsed = parsed.set(drivername="postgresql+psycopg")
    shown = parsed.render_as_string(hide_password=True)
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"database URL {shown}: {backend!r} is not supported; the results database is "
            f"SQLite or PostgreSQL ({_EXAMPLES})"
        )
    if driver in _ASYNC_DRIVERS:
        raise ConfigError(
            f"database URL {shown}: {driver!r} is an asyncio driver; use a synchronous one "
            f"({_EXAMPLES})"
        )
    if backend == "postgresql" and not parsed.database:
        raise ConfigError(f"database URL {shown} names no database; expected {_EXAMPLES}")
    return parsed


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _make_sqlite_folder(url: URL) -> None:
    path = _sqlite_file(url)
    if path is None:
        return
    if path.is_dir():
        raise ConfigError(
            f"database URL {url}: {path} is a folder; name a file, e.g. {path / DB_FILE_NAME}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the folder {path.parent} of the results database: {exc.strerror or exc}"
        ) from exc


def _add_guards(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["pid"] = os.getpid()
        if engine.dialect.name == "sqlite":
            # hbbacktest emits BEGIN itself (see "begin" below): no implicit transactions.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                _use_wal(cursor)
                cursor.execute("PRAGMA synchronous = NORMAL")
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

    @event.listens_for(engine, "checkout")
    def _on_checkout(
        dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection
    ) -> None:
        if record.info.get("pid") != os.getpid():
            # Opened by the parent of a fork: never touch it here; the pool opens a new one.
            record.dbapi_connection = proxy.dbapi_connection = None  # type: ignore[misc]
            raise sa_exc.DisconnectionError(
                f"connection opened by process {record.info.get('pid')}, not {os.getpid()}"
            )

    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _use_wal(cursor: Any) -> None:
    """Switch the file to WAL (a lasting property of the file: done once, by its first user).

    Switching answers "database is locked" at once, without waiting for ``busy_timeout``,
    while another connection is busy with the file (several processes opening a new database
    at the same moment): retry until the timeout.
    """
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
