"""The test PostgreSQL: one admin connection and a fresh schema per test.

``HBBACKTEST_TEST_POSTGRES_URL`` names the server (``eval "$(.ci/postgres.sh)"`` starts a
throwaway one; ``.ci/run`` always does). Without it the PostgreSQL cases skip; set but down,
they fail loudly: CI is misconfigured.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

PG_ENV = "HBBACKTEST_TEST_POSTGRES_URL"
SKIP_REASON = f'PostgreSQL: set {PG_ENV} (eval "$(.ci/postgres.sh)" starts a server)'


@contextmanager
def postgres_admin() -> Iterator[Engine]:
    """An autocommit engine on the test server (skips without one, fails if it is down)."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(SKIP_REASON)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # set but down: say so once, loudly
            pytest.fail(f"{PG_ENV} is set but the server does not answer: {exc}")
        yield engine
    finally:
        engine.dispose()


@contextmanager
def fresh_schema(admin: Engine, *, prefix: str = "t") -> Iterator[str]:
    """The URL of a new, empty schema (``search_path`` set through the URL), dropped after."""
    schema = f"{prefix}_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(os.environ[PG_ENV]).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
