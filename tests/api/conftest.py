"""API fixtures: apps on SQLite and PostgreSQL, an authenticated app, an online app.

Every app is ``create_app(settings)`` under a ``TestClient``: its lifespan opens the results
database and starts a worker process (a second or two), so apps are shared. ``client``
(SQLite, offline) serves the whole session, ``db_client`` a module on each database,
``auth_client`` (HTTP Basic on) and ``online_client`` (candles from the local replay server,
``exchange``) the session. Tests on a shared app use names of their own (saved configs,
pairs) and compare before and after, never absolute state. Tests that need other settings
build their own app with ``make_settings`` and ``running_app``.

PostgreSQL comes from ``HBBACKTEST_TEST_POSTGRES_URL`` (``eval "$(.ci/postgres.sh)"`` starts a
server); without it the PostgreSQL cases are skipped. Each app gets a fresh schema, dropped
afterwards.

Slow jobs come from the user controller ``pmm_gated`` (written into a temporary controllers
dir): its ``compute_features`` waits while its ``gate`` file exists, so a test keeps a
backtest running exactly as long as it needs, and removing the file lets it finish at once.
With ``fail: true`` it raises instead (a controller error).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from hbbacktest.api import create_app
from hbbacktest.config.settings import Settings
from hbbacktest.service.defaults import DEFAULT_CONFIG
from tests.kit.exchange_server import ExchangeServer, built_candles
from tests.kit.postgres import fresh_schema, postgres_admin

T0 = 1_704_672_000  # 2024-01-08 00:00 UTC, inside the demo connector's coverage
DAY = 86_400
CREDENTIALS = ("hb-tester", "a long and secret test password")
FINISHED = ("completed", "failed", "cancelled", "interrupted")

# The replay server's markets: two days of 1m candles from 2024-01-01 for each pair. Each test
# on the shared online app takes pairs of its own (a fetched range is cached for good).
EXCHANGE_T0 = 1_704_067_200  # 2024-01-01 00:00 UTC
EXCHANGE_PAIRS = ("BTC-USDT", "ETH-USDT", "SOL-USDT", "XRP-USDT", "ADA-USDT", "DOT-USDT")

GATED_CONTROLLER = '''\
"""pmm_simple on plain closes whose compute_features waits while a gate file exists."""

import time
from pathlib import Path

import numpy as np
from pydantic import Field

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.controllers.base import FeatureTable, MarketData, MarketMakingControllerBase


class PMMGatedConfig(MarketMakingControllerConfigBase):
    controller_name: str = "pmm_gated"
    gate: str = Field(default="", description="Wait while this file exists (at most 60 s).")
    fail: bool = Field(default=False, description="Raise in compute_features.")


class PMMGatedController(MarketMakingControllerBase[PMMGatedConfig]):
    def compute_features(self, data: MarketData) -> FeatureTable:
        if self.config.fail:
            raise ValueError("pmm_gated was told to fail")
        gate = Path(self.config.gate) if self.config.gate else None
        deadline = time.monotonic() + 60
        while gate is not None and gate.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        bars = data.bars
        return FeatureTable(
            ts=bars.ts,
            interval_s=bars.interval_s,
            columns={"reference_price": bars.close, "spread_multiplier": np.ones(len(bars))},
        )
'''


# ------------------------------------------------------------------------------------------
# Builders


def body(
    config: dict[str, Any] | str | None = None,
    *,
    start: int = T0,
    end: int = T0 + DAY,
    **extra: Any,
) -> dict[str, Any]:
    """A hummingbot-api backtest body: the demo pmm_simple over one day by default."""
    return {
        "start_time": start,
        "end_time": end,
        "config": DEFAULT_CONFIG if config is None else config,
        **extra,
    }


def gated(gate: Path | None = None, **fields: Any) -> dict[str, Any]:
    """A ``pmm_gated`` config on the demo connector, held while ``gate`` exists."""
    return {
        "controller_name": "pmm_gated",
        "controller_type": "market_making",
        "connector_name": "demo",
        "trading_pair": "BTC-USDT",
        "gate": "" if gate is None else str(gate),
        **fields,
    }


def strict_json(raw: bytes | str) -> Any:
    """Parse JSON, failing on ``NaN``, ``Infinity`` and ``-Infinity``."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"not strict JSON: {constant} in the answer")

    return json.loads(raw, parse_constant=refuse)


def wait_task(
    client: TestClient,
    task_id: str,
    statuses: tuple[str, ...] = FINISHED,
    *,
    timeout_s: float = 60.0,
) -> dict[str, Any]:
    """Poll a task until its status is one of ``statuses``; its JSON."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/backtesting/tasks/{task_id}")
        assert answer.status_code == 200, answer.text
        task: dict[str, Any] = answer.json()
        if task["status"] in statuses:
            return task
        assert time.monotonic() < deadline, f"task {task_id} is still {task['status']}"
        time.sleep(0.02)


def wait_health(client: TestClient, *, timeout_s: float = 10.0, **expected: int) -> dict[str, Any]:
    """``/health`` once its counts are ``expected`` (``running=1`` …).

    A task's status is written a moment before the runner counts it as running or free.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get("/health")
        assert answer.status_code == 200, answer.text
        health: dict[str, Any] = answer.json()
        if all(health[key] == value for key, value in expected.items()):
            return health
        assert time.monotonic() < deadline, f"/health is {health}, expected {expected}"
        time.sleep(0.01)


def stored(
    client: TestClient, run_id: str, format: str = "native", *, timeout_s: float = 30.0
) -> bytes:
    """A stored result's body, once stored (``/run`` answers a moment before it is)."""
    deadline = time.monotonic() + timeout_s
    while True:
        answer = client.get(f"/results/{run_id}", params={"format": format})
        if answer.status_code == 200:
            return answer.content
        assert answer.status_code == 404, answer.text
        assert time.monotonic() < deadline, f"run {run_id} was never stored"
        time.sleep(0.01)


def write_controllers(folder: Path) -> Path:
    """A controllers dir holding ``market_making/pmm_gated.py``."""
    (folder / "market_making").mkdir(parents=True, exist_ok=True)
    (folder / "market_making" / "pmm_gated.py").write_text(GATED_CONTROLLER, encoding="utf-8")
    return folder


def make_settings(folder: Path, controllers: Path, **overrides: Any) -> Settings:
    """Offline settings with their data (and SQLite database) under ``folder``."""
    values: dict[str, Any] = {
        "data_dir": folder / "data",
        "offline": True,
        "controllers_dirs": (controllers,),
    }
    values.update(overrides)
    return Settings(**values)


def start_app(settings: Settings, *, workers: int = 1) -> TestClient:
    """A started app (lifespan run): stop it with :func:`stop_app`."""
    client = TestClient(create_app(settings, workers=workers))
    client.__enter__()
    return client


def stop_app(client: TestClient) -> BaseException | None:
    """Stop an app; what its shutdown raised, if anything (its database is closed anyway)."""
    try:
        client.__exit__(None, None, None)
    except Exception as exc:
        state = getattr(client.app.state, "hb", None)  # type: ignore[attr-defined]
        if state is not None:
            state.store.close()
        return exc
    return None


@contextmanager
def running_app(settings: Settings, *, workers: int = 1) -> Iterator[TestClient]:
    """An app for the block; its shutdown must be clean."""
    client = start_app(settings, workers=workers)
    try:
        yield client
    finally:
        problem = stop_app(client)
    if problem is not None:
        raise AssertionError(f"the app's shutdown raised {problem!r}") from problem


# ------------------------------------------------------------------------------------------
# Databases


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An admin connection to the test PostgreSQL (skips without one)."""
    with postgres_admin() as engine:
        yield engine


@contextmanager
def database_url(request: pytest.FixtureRequest, backend: str) -> Iterator[str | None]:
    """``Settings.database_url`` for a backend: None (SQLite in the data dir) or PostgreSQL."""
    if backend == "sqlite":
        yield None
        return
    with fresh_schema(request.getfixturevalue("pg_admin"), prefix="api") as url:
        yield url


BACKENDS = ["sqlite", "postgresql"]


# ------------------------------------------------------------------------------------------
# Apps


@pytest.fixture(scope="session")
def controllers_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """User controllers of every app: ``pmm_gated``."""
    return write_controllers(tmp_path_factory.mktemp("controllers"))


@pytest.fixture(scope="session")
def client_settings(tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path) -> Settings:
    """The settings of :func:`client`."""
    return make_settings(tmp_path_factory.mktemp("api"), controllers_dir)


# Package scope: its worker process ends with tests/api, before other packages run.
@pytest.fixture(scope="package")
def client(client_settings: Settings) -> Iterator[TestClient]:
    """The session's app: SQLite, offline, one worker."""
    with running_app(client_settings) as started:
        yield started


@pytest.fixture(scope="module", params=BACKENDS)
def db_client(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path
) -> Iterator[TestClient]:
    """A fresh app of the module on SQLite, then on PostgreSQL."""
    folder = tmp_path_factory.mktemp(f"api_{request.param}")
    with database_url(request, request.param) as url:
        settings = make_settings(folder, controllers_dir, database_url=url)
        with running_app(settings) as started:
            yield started


# Package scope: its worker process ends with tests/api, before other packages run.
@pytest.fixture(scope="package")
def auth_client(
    tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path
) -> Iterator[TestClient]:
    """An app with HTTP Basic on (:data:`CREDENTIALS`); the client sends none by itself."""
    settings = make_settings(
        tmp_path_factory.mktemp("api_auth"),
        controllers_dir,
        api_username=CREDENTIALS[0],
        api_password=CREDENTIALS[1],
    )
    with running_app(settings) as started:
        yield started


# Package scope: its worker process ends with tests/api, before other packages run.
@pytest.fixture(scope="package")
def exchange() -> Iterator[ExchangeServer]:
    """The local replay server: binance markets of :data:`EXCHANGE_PAIRS`."""
    server = ExchangeServer()
    for seed, pair in enumerate(EXCHANGE_PAIRS):
        server.add_market(
            "binance", pair, *built_candles(2 * 1440, start_ts=EXCHANGE_T0, seed=seed)
        )
    with server:
        yield server
    assert server.errors == []


# Package scope: its worker process ends with tests/api, before other packages run.
@pytest.fixture(scope="package")
def online_client(
    tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path, exchange: ExchangeServer
) -> Iterator[TestClient]:
    """An online app whose binance and binance_perpetual are the replay server."""
    urls = {"binance": exchange.base_url, "binance_perpetual": exchange.base_url}
    settings = make_settings(
        tmp_path_factory.mktemp("api_online"), controllers_dir, offline=False, exchange_urls=urls
    )
    with running_app(settings) as started:
        yield started


@pytest.fixture
def gate(tmp_path: Path) -> Iterator[Path]:
    """A gate file for ``pmm_gated``: present during the test, removed after it."""
    path = tmp_path / f"gate-{uuid.uuid4().hex[:8]}"
    path.touch()
    yield path
    path.unlink(missing_ok=True)


@pytest.fixture
def settings_for(tmp_path: Path, controllers_dir: Path) -> Callable[..., Settings]:
    """Offline settings under this test's folder, with overrides."""

    def build(**overrides: Any) -> Settings:
        return make_settings(tmp_path, controllers_dir, **overrides)

    return build
