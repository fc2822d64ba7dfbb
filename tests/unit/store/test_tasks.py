"""The API's records (store/tasks.py), each test on real SQLite and real PostgreSQL."""

from __future__ import annotations

import gzip

import pytest

from hbbacktest.store import NewRun, Store
from tests.unit.store.conftest import T0, Clock

BODY = {"start_time": 1704672000, "end_time": 1705276800, "config": {"controller_name": "x"}}


def _run(run_id: str, *, pair: str = "BTC-USDT", controller: str = "pmm_simple") -> NewRun:
    request = {
        "config": {
            "controller_name": controller,
            "controller_type": "market_making",
            "connector_name": "binance",
            "trading_pair": pair,
        },
        "start": 1704672000,
        "end": 1705276800,
        "backtesting_resolution": "1m",
        "fill_model": "touch",
    }
    native = b'{"run_id":"' + run_id.encode() + b'"}'
    return NewRun(
        id=run_id,
        config_id="c" * 64,
        request=request,
        results={"net_pnl_quote": 1.5, "total_executors": 3},
        warnings=["a note"],
        seconds=0.25,
        native_gz=gzip.compress(native),
        native_size=len(native),
        upstream_gz=gzip.compress(b'{"executors":[]}'),
        task_id=None,
    )


def test_a_run_is_stored_with_its_metadata_and_both_bodies(store: Store) -> None:
    record = store.add_run(_run("r1"))
    assert (record.controller_name, record.trading_pair, record.fill_model) == (
        "pmm_simple",
        "BTC-USDT",
        "touch",
    )
    got = store.get_run("r1")
    assert got is not None and got.results == {"net_pnl_quote": 1.5, "total_executors": 3}
    assert got.warnings == ["a note"] and got.created_at == T0
    assert gzip.decompress(store.run_body("r1", "native") or b"") == b'{"run_id":"r1"}'
    assert gzip.decompress(store.run_body("r1", "upstream") or b"") == b'{"executors":[]}'
    assert store.get_run("nope") is None and store.run_body("nope", "native") is None
    assert store.delete_run("r1") and not store.delete_run("r1")


def test_runs_are_listed_newest_first_filtered_and_paginated(store: Store) -> None:
    for i in range(5):
        store.add_run(_run(f"r{i}", pair="ETH-USDT" if i % 2 else "BTC-USDT"))
    rows, total = store.list_runs(limit=2)
    assert total == 5 and [r.id for r in rows] == ["r4", "r3"]
    rows, total = store.list_runs(limit=2, offset=4)
    assert [r.id for r in rows] == ["r0"]
    rows, total = store.list_runs(trading_pair="ETH-USDT")
    assert total == 2 and {r.id for r in rows} == {"r1", "r3"}
    rows, total = store.list_runs(since=T0 + 2, until=T0 + 4)
    assert [r.id for r in rows] == ["r3", "r2"]
    assert store.list_runs(controller_name="other") == ([], 0)


def test_a_task_lives_pending_running_completed(store: Store) -> None:
    task = store.create_task("t1", BODY)
    assert task.status == "pending" and task.body == BODY and task.started_at is None
    assert store.start_task("t1") and not store.start_task("t1")  # only a pending one starts
    store.add_run(_run("r1"))
    store.finish_task("t1", "completed", run_id="r1")
    done = store.get_task("t1")
    assert done is not None and done.status == "completed" and done.run_id == "r1"
    assert done.created_at < (done.started_at or 0) < (done.completed_at or 0)
    # Deleting the run keeps the task, without its result.
    store.delete_run("r1")
    after = store.get_task("t1")
    assert after is not None and after.run_id is None and after.status == "completed"


def test_tasks_are_listed_oldest_first_and_deleted(store: Store) -> None:
    for i in range(3):
        store.create_task(f"t{i}", BODY)
    assert [t.id for t in store.list_tasks()] == ["t0", "t1", "t2"]
    assert [t.id for t in store.list_tasks(limit=1)] == ["t0"]
    assert store.delete_task("t1") and not store.delete_task("t1")
    assert store.get_task("t1") is None


def test_recovery_interrupts_running_tasks_and_hands_back_pending_ones(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.create_task(name, BODY)
    store.start_task("b")
    interrupted, pending = store.recover_tasks(note="server stopped")
    assert interrupted == 1 and [t.id for t in pending] == ["a", "c"]
    b = store.get_task("b")
    assert b is not None and b.status == "interrupted" and b.error == "server stopped"
    # A finished task can be queued again, with the same id and body; a pending one cannot.
    again = store.requeue_task("b")
    assert again is not None and again.status == "pending" and again.error is None
    assert again.body == BODY
    with pytest.raises(ValueError, match="pending"):
        store.requeue_task("a")
    assert store.requeue_task("nope") is None


def test_retention_purges_finished_tasks_and_old_runs_only(store: Store, clock: Clock) -> None:
    store.create_task("old", BODY)
    store.finish_task("old", "failed", error="boom", error_kind="ConfigError")
    store.create_task("waiting", BODY)
    store.add_run(_run("old-run"))
    cutoff = clock.now + 0.5
    store.create_task("new", BODY)
    store.finish_task("new", "completed")
    store.add_run(_run("new-run"))
    assert store.purge(cutoff) == (1, 1)
    assert {t.id for t in store.list_tasks()} == {"waiting", "new"}
    assert store.get_run("old-run") is None and store.get_run("new-run") is not None


def test_the_newest_tasks_first(store: Store) -> None:
    for i in range(4):
        store.create_task(f"t{i}", BODY)
    assert [t.id for t in store.list_tasks(limit=2, newest_first=True)] == ["t3", "t2"]
