"""Store fixtures: every database test runs on a real SQLite file and a real PostgreSQL.

PostgreSQL comes from ``HBBACKTEST_TEST_POSTGRES_URL`` (``eval "$(.ci/postgres.sh)"`` starts
a throwaway server and prints it); without it the PostgreSQL cases are skipped. Each test gets
its own fresh schema there (``search_path`` set through the URL), dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from hbbacktest.store import Store
from tests.kit.postgres import fresh_schema, postgres_admin

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
    with postgres_admin() as engine:
        yield engine


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield Store.default_url(tmp_path / "data")
    else:
        with fresh_schema(request.getfixturevalue("pg_admin")) as url:
            yield url


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(db_url: str, clock: Clock) -> Iterator[Store]:
    with Store(db_url, clock=clock) as opened:
        yield opened
