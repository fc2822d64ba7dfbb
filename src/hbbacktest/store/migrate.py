"""Alembic, run programmatically: the schema is brought to the newest revision on every open.

The migration scripts ship inside the package (``hbbacktest/store/migrations``), found next to
this file, so an installed wheel migrates its database with no ``alembic.ini`` and no checkout.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from hbbacktest.core.errors import ConfigError
from hbbacktest.store.database import Database

__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "head_revision", "upgrade"]

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
# pg_advisory_xact_lock key for "a process is migrating this database" ('hbbmig' in ASCII).
_PG_LOCK_KEY = 0x6862_626D_6967


def alembic_config(url: str | None = None, *, connection: Connection | None = None) -> Config:
    """An Alembic :class:`~alembic.config.Config` for the packaged migrations.

    Args:
        url: the database, for Alembic commands run by hand (``command.revision``,
            ``command.downgrade``); not needed with ``connection``.
        connection: an open connection to migrate through (what :func:`upgrade` does).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    """The newest revision this hbbacktest knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (``None``: never migrated)."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(db: Database) -> None:
    """Bring ``db`` to the newest revision, in one transaction; a no-op when it is there.

    Two processes opening a new database at once do not both migrate: the transaction holds
    SQLite's write lock (``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock, and the second
    finds the database at the head once it gets its turn.

    Raises:
        ConfigError: the database is at a revision this hbbacktest does not know (written by a
            newer version).
        OutputError: the database could not be written.
    """
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    with db.write() as conn:
        if db.dialect == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        current = current_revision(conn)
        if current == head:
            return
        known = {revision.revision for revision in script.walk_revisions()}
        if current is not None and current not in known:
            raise ConfigError(
                f"the results database {db.url} is at schema revision {current!r}, which this "
                f"version of hbbacktest does not know (newest: {head!r}): it was written by a "
                "newer hbbacktest; upgrade hbbacktest or use another database"
            )
        command.upgrade(alembic_config(connection=conn), "head")
