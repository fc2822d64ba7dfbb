"""Sweeps in real processes: ``hbbacktest sweep run --workers 2`` killed with SIGKILL, resumed.

The sweep (40 configs on the demo connector) runs a small user controller whose
``compute_features`` sleeps 0.1 s: every item then takes ~0.13 s, long enough that the runner
really starts its worker processes (it keeps sweeps that would finish within ~3 s in-process)
and that a kill lands mid-sweep. What must hold: whatever had finished before the kill is
kept unchanged, the resumed sweep does each config exactly once, and 2 workers store what
1 worker stores.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from hbbacktest.config.settings import Settings
from hbbacktest.service.controllers import build_registry
from hbbacktest.store import Store
from hbbacktest.sweep import expand, load_spec
from hbbacktest.sweep.runner import run_sweep
from tests.kit.server import group_members

ITEMS = 40
SLOW_CONTROLLER = '''\
"""A market maker on the close whose features take 0.1 s (tests only)."""

import time

import numpy as np

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.controllers.base import FeatureTable, MarketData, MarketMakingControllerBase


class SlowMMConfig(MarketMakingControllerConfigBase):
    controller_name: str = "slow_mm"
    delay_s: float = 0.1


class SlowMMController(MarketMakingControllerBase[SlowMMConfig]):
    def compute_features(self, data: MarketData) -> FeatureTable:
        time.sleep(self.config.delay_s)
        bars = data.bars
        columns = {"reference_price": bars.close, "spread_multiplier": np.ones(len(bars))}
        return FeatureTable(ts=bars.ts, interval_s=bars.interval_s, columns=columns)
'''
SPEC: dict[str, Any] = {
    "name": "slow_grid",
    "base": {
        "controller_name": "slow_mm",
        "controller_type": "market_making",
        "connector_name": "demo",
        "trading_pair": "BTC-USDT",
        "total_amount_quote": 1000,
        "buy_spreads": "0.001,0.002",
        "sell_spreads": "0.001,0.002",
    },
    "grid": {
        "take_profit": {"start": 0.001, "stop": 0.008, "step": 0.001},  # 8 values
        "stop_loss": [0.002, 0.004, 0.01, 0.02, 0.05],
    },
    "start": "2024-01-08",
    "end": "2024-01-09",
}


@dataclass(frozen=True)
class Setup:
    folder: Path
    spec: Path
    controllers: Path
    keys: frozenset[str]

    def command(self, database: Path, workers: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "hbbacktest",
            "sweep",
            "run",
            str(self.spec),
            "--workers",
            str(workers),
            "--controllers-dir",
            str(self.controllers),
            "--database",
            f"sqlite:///{database}",
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "HBBACKTEST_DATA_DIR": str(self.folder / "data")}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    folder = tmp_path_factory.mktemp("sweep")
    controllers = folder / "controllers"
    (controllers / "market_making").mkdir(parents=True)
    (controllers / "market_making" / "slow_mm.py").write_text(SLOW_CONTROLLER)
    spec = folder / "spec.yml"
    spec.write_text(yaml.safe_dump(SPEC, sort_keys=False))
    settings = Settings(data_dir=folder / "data", controllers_dirs=(controllers,), offline=True)
    items = expand(load_spec(spec), registry=build_registry(settings))
    assert len(items) == ITEMS
    return Setup(folder, spec, controllers, frozenset(item.key for item in items))


@pytest.fixture(scope="module")
def one_worker(setup: Setup) -> dict[str, Any]:
    """Metrics by key of the same sweep run in one process (``--workers 1``)."""
    settings = Settings(
        data_dir=setup.folder / "data", controllers_dirs=(setup.controllers,), offline=True
    )
    spec = load_spec(setup.spec)
    items = list(expand(spec, registry=build_registry(settings)))
    with Store(Store.default_url(setup.folder / "one")) as store:
        report = run_sweep(
            spec.name,
            items,
            spec=spec.model_dump(mode="json"),
            store=store,
            settings=settings,
            workers=1,
        )
        assert (report.done, report.failed, report.workers) == (ITEMS, 0, 1)
        rows = store.results(spec.name)
    metrics = {row.key: row.metrics for row in rows}
    assert len({orjson.dumps(m, option=orjson.OPT_SORT_KEYS) for m in metrics.values()}) > 10
    return metrics


def read_items(database: Path) -> list[tuple[str, str, Any, bytes | None, str | None]]:
    """(key, status, metrics, summary, finished_at) of every stored item, read with sqlite3."""
    with sqlite3.connect(database, timeout=30) as conn:
        found = conn.execute(
            "SELECT key, status, metrics, summary, finished_at FROM sweep_item ORDER BY id"
        ).fetchall()
    conn.close()
    return [
        (key, status, None if metrics is None else orjson.loads(metrics), summary, finished)
        for key, status, metrics, summary, finished in found
    ]


def done_count(database: Path) -> int:
    if not database.exists():
        return 0
    try:
        with sqlite3.connect(database, timeout=30) as conn:
            count = conn.execute("SELECT count(*) FROM sweep_item WHERE status = 'done'")
            value = int(count.fetchone()[0])
        conn.close()
        return value
    except sqlite3.OperationalError:  # not migrated yet
        return 0


@pytest.fixture
def killer() -> Iterator[list[int]]:
    """Process groups to SIGKILL at the end, whatever the test did."""
    groups: list[int] = []
    yield groups
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_kill_9_mid_sweep_then_resume_does_every_config_exactly_once(
    setup: Setup, one_worker: dict[str, Any], tmp_path: Path, killer: list[int]
) -> None:
    database = tmp_path / "results.db"
    log = tmp_path / "killed.log"
    with open(log, "wb") as output:
        child = subprocess.Popen(
            setup.command(database, workers=2),
            env=setup.env(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    killer.append(child.pid)
    deadline = time.monotonic() + 60
    while done_count(database) < 5:
        assert child.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the sweep finished no 5 configs within 60 s"
        time.sleep(0.01)
    members = group_members(child.pid)
    os.killpg(child.pid, signal.SIGKILL)
    assert child.wait(timeout=30) == -signal.SIGKILL
    # the parent, its fork server and the 2 workers were all running, and all died
    assert len(members) >= 4, members
    deadline = time.monotonic() + 10
    while group_members(child.pid):
        assert time.monotonic() < deadline, f"still alive: {group_members(child.pid)}"
        time.sleep(0.02)
    assert "configs;" not in log.read_text()  # it never got to its report

    # What the kill left: a sound database, every item once, the finished ones complete.
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    killed = read_items(database)
    assert len(killed) == ITEMS and {row[0] for row in killed} == setup.keys
    before = {row[0]: row for row in killed if row[1] == "done"}
    assert 5 <= len(before) < ITEMS, f"{len(before)} done at the kill: not mid-sweep"
    assert {row[1] for row in killed} <= {"done", "pending"}
    for key, _, metrics, summary, finished in before.values():
        assert metrics == one_worker[key] and summary and finished

    # The same command again: it does exactly the rest.
    resumed = subprocess.run(
        setup.command(database, workers=2),
        env=setup.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rest = ITEMS - len(before)
    assert (
        f"sweep 'slow_grid': {ITEMS} configs; {rest} done and 0 failed in this run"
        in resumed.stdout
    ), resumed.stdout
    assert f"{len(before)} already done before" in resumed.stdout
    assert "2 worker(s)" in resumed.stdout  # the rest ran in worker processes again

    final = read_items(database)
    keys = [row[0] for row in final]
    assert len(final) == ITEMS and len(set(keys)) == ITEMS and set(keys) == setup.keys
    assert all(row[1] == "done" for row in final)
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM sweep").fetchone() == (1,)
        assert conn.execute("SELECT count(*), count(DISTINCT key) FROM sweep_item").fetchone() == (
            ITEMS,
            ITEMS,
        )
    conn.close()
    for row in final:
        if row[0] in before:  # done before the kill: untouched (metrics, summary, time)
            assert row == before[row[0]]
    assert {key: metrics for key, _, metrics, *_ in final} == one_worker


def test_two_workers_store_what_one_worker_stores(
    setup: Setup, one_worker: dict[str, Any], tmp_path: Path
) -> None:
    database = tmp_path / "two.db"
    result = subprocess.run(
        setup.command(database, workers=2),
        env=setup.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{ITEMS} done and 0 failed in this run" in result.stdout
    assert "2 worker(s)" in result.stdout, result.stdout
    final = read_items(database)
    assert [row[1] for row in final] == ["done"] * ITEMS
    assert {key: metrics for key, _, metrics, *_ in final} == one_worker


CRASHING_CONTROLLER = '''\
"""A market maker that kills its own process on one config (tests only)."""

import os

import numpy as np

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.controllers.base import FeatureTable, MarketData, MarketMakingControllerBase


class CrashMMConfig(MarketMakingControllerConfigBase):
    controller_name: str = "crash_mm"
    crash: bool = False


class CrashMMController(MarketMakingControllerBase[CrashMMConfig]):
    def compute_features(self, data: MarketData) -> FeatureTable:
        if self.config.crash:
            os._exit(9)  # as a segfault or the OOM killer would: no exception, no cleanup
        bars = data.bars
        columns = {"reference_price": bars.close, "spread_multiplier": np.ones(len(bars))}
        return FeatureTable(ts=bars.ts, interval_s=bars.interval_s, columns=columns)
'''


def test_a_config_that_kills_the_process_is_recorded_failed_on_the_next_run(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "controllers" / "market_making"
    folder.mkdir(parents=True)
    (folder / "crash_mm.py").write_text(CRASHING_CONTROLLER)
    spec = tmp_path / "crash.yml"
    spec.write_text(
        yaml.safe_dump(
            {
                "name": "crashing",
                "base": {
                    "controller_name": "crash_mm",
                    "controller_type": "market_making",
                    "connector_name": "demo",
                    "trading_pair": "BTC-USDT",
                    "total_amount_quote": 1000,
                    "buy_spreads": "0.01",
                    "sell_spreads": "0.01",
                },
                "grid": {"crash": [True, False], "take_profit": [0.01, 0.02]},
                "start": "2024-01-08",
                "end": "2024-01-08T12:00:00",
            }
        )
    )
    command = [
        sys.executable, "-m", "hbbacktest", "sweep", "run", str(spec), "--workers", "1",
        "--controllers-dir", str(tmp_path / "controllers"),
    ]  # fmt: skip
    env = {**os.environ, "HBBACKTEST_DATA_DIR": str(tmp_path / "data")}
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert first.returncode == 9  # the crash took the sweep down, before anything was stored
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 9  # the next crashing config (each one is met once)
    third = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "4 configs; 2 done and 2 failed in this run" in third.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "hbbacktest", "sweep", "results", "crashing", "--failed"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert listed.stdout.count("the sweep process died while running this config") == 2
