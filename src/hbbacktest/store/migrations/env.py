"""Alembic environment of the results database.

hbbacktest runs it through :func:`hbbacktest.store.migrate.upgrade`, which hands over an open
connection (``config.attributes["connection"]``) already inside a transaction that holds the
database's write lock (SQLite) or an advisory lock (PostgreSQL): a migration and its version
stamp commit together, and two processes starting at once never migrate twice.

For writing a new revision, use :func:`hbbacktest.store.migrate.alembic_config`, e.g.::

    from alembic import command
    from hbbacktest.store.migrate import alembic_config

    command.revision(alembic_config("sqlite:////tmp/dev.db"), "add task", autogenerate=True)

then rename the file to ``NNNN_<date>_<slug>.py`` and set ``revision = "NNNN"``.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from hbbacktest.store.database import open_database
from hbbacktest.store.tables import metadata

config = context.config


def _configure(**options: Any) -> None:
    # SQLite cannot ALTER most things in place: autogenerate writes batch operations.
    context.configure(target_metadata=metadata, render_as_batch=True, compare_type=True, **options)


def _run_offline() -> None:
    _configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # hbbacktest.store.migrate.upgrade: inside its transaction
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    db = open_database(config.get_main_option("sqlalchemy.url") or "")
    try:
        with db.write() as own:
            _configure(connection=own)
            context.run_migrations()
    finally:
        db.close()


if context.is_offline_mode():
    _run_offline()
else:
    _run_online()
