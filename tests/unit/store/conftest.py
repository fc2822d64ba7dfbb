"""Store fixtures: every database test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL comes from ``HBBACKTEST_TEST_POSTGRES_URL`` (``eval "$(.ci/postgres.sh)"`` starts
a throwaway server and prints it); without it the PostgreSQL cases are skipped. Each test gets
its own fresh schema there (``search_path`` set through the URL), dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from hbbacktest.store import Store

PG_ENV = "HBBACKTEST_TEST_POSTGRES_URL"
T0 = 1_704_067_200.0  # 2024-01-01 00:00 UTC


class Clock:
    """A clock that ticks one second per reading, from 2024-01-01."""

    def __init__(self, start: float = T0) -> None:
        self.now = start - 1.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f'PostgreSQL: set {PG_ENV} (eval "$(.ci/postgres.sh)" starts a server)')
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # set but down: CI misconfigured, say so once, loudly
        engine.dispose()
        pytest.fail(f"{PG_ENV} is set but the server does not answer: {exc}")
    yield engine
    engine.dispose()


def _pg_url(pg_admin: Engine) -> Iterator[str]:
    schema = f"t_{uuid.uuid4().hex[:16]}"
    with pg_admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(os.environ[PG_ENV]).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with pg_admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield Store.default_url(tmp_path / "data")
    else:
        yield from _pg_url(request.getfixturevalue("pg_admin"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[Store]:
    with Store(db_url, clock=clock) as opened:
        yield opened
