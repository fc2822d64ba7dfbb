"""The results database on SQLite and PostgreSQL: schema, sweeps, queries, durability, errors."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import multiprocessing
import os
import signal
import socket
import threading
import zlib
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from hbbacktest.core.errors import ConfigError, InternalError, OutputError
from hbbacktest.store import (
    Condition,
    NewItem,
    PendingItem,
    Store,
    SweepSummary,
    parse_condition,
)
from hbbacktest.store.migrate import alembic_config, current_revision, head_revision
from hbbacktest.store.tables import metadata, sweep_item

from .conftest import T0, Clock


def key(i: int) -> str:
    return hashlib.sha256(f"request-{i}".encode()).hexdigest()


def item(i: int, **params: Any) -> NewItem:
    params = params or {"take_profit": 0.001 * i}
    return NewItem(key(i), i, params, {"config": {"id": i}, "start": 0, "end": 60})


def done(store: Store, sweep_id: int, i: int, **metrics: Any) -> None:
    store.record_done(
        sweep_id,
        key(i),
        metrics=metrics or {"sharpe_ratio": float(i)},
        summary=zlib.compress(json.dumps({"i": i}).encode()),
        seconds=0.5,
        warnings=[f"w{i}"],
    )


# -- schema and migrations ----------------------------------------------------------------------


def test_migrations_build_the_schema_and_reopening_is_a_no_op(db_url: str) -> None:
    with Store(db_url) as store:
        engine = store.database.engine
        tables = set(inspect(engine).get_table_names())
        assert {"sweep", "sweep_item", "alembic_version"} <= tables
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision() == "0002"
            # tables.py and the migration agree, constraint names, types and all
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        record = store.open_sweep("kept", {"a": 1})
        store.add_items(record.id, [item(1)])

    with Store(db_url) as again:
        with again.database.engine.connect() as conn:
            assert current_revision(conn) == "0002"
        assert [s.name for s in again.list_sweeps()] == ["kept"]
        assert [p.key for p in again.pending(record.id)] == [key(1)]


def test_migration_is_reversible(db_url: str) -> None:
    Store(db_url).close()
    config = alembic_config(db_url)
    command.downgrade(config, "base")
    with Store(db_url) as store:
        assert set(inspect(store.database.engine).get_table_names()) >= {"sweep", "sweep_item"}
        # downgrade dropped everything, the next open rebuilt it
        assert store.list_sweeps() == []


def test_stores_opened_at_once_on_a_new_database_migrate_once(db_url: str) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            barrier.wait()
            Store(db_url).close()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(db_url) as store, store.database.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1


def test_a_database_from_a_newer_hbbacktest_is_refused(db_url: str) -> None:
    with Store(db_url) as store, store.database.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ConfigError, match=r"revision '9999'.*newer hbbacktest"):
        Store(db_url)


def test_sqlite_pragmas(tmp_path: Path) -> None:
    with Store(Store.default_url(tmp_path)) as store, store.database.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


def test_default_url_is_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert Store.default_url(Path("data")) == f"sqlite:///{tmp_path}/data/hbbacktest.db"
    with Store(Store.default_url(Path("deep/er"))) as store:
        assert store.list_sweeps() == []
    assert (tmp_path / "deep" / "er" / "hbbacktest.db").is_file()


# -- sweeps ---------------------------------------------------------------------------------------


def test_open_sweep_gets_or_creates_and_keeps_the_latest_spec(store: Store) -> None:
    first = store.open_sweep("pmm_grid", {"grid": {"take_profit": [0.1]}})
    assert (first.name, first.spec, first.created_at, first.updated_at) == (
        "pmm_grid",
        {"grid": {"take_profit": [0.1]}},
        T0,
        T0,
    )
    again = store.open_sweep("pmm_grid", {"grid": {"take_profit": [0.2]}})
    assert again.id == first.id
    assert again.spec == {"grid": {"take_profit": [0.2]}}
    assert again.created_at == T0 and again.updated_at > T0
    other = store.open_sweep("other", {}, created_at=T0 - 3600.5)
    assert other.id != first.id and other.created_at == T0 - 3600.5
    with pytest.raises(ConfigError, match="sweep name"):
        store.open_sweep("", {})


def test_add_items_inserts_or_ignores_and_counts_the_new(store: Store) -> None:
    sweep_id = store.open_sweep("s", {}).id
    assert store.add_items(sweep_id, [item(0), item(1), item(2)]) == 3
    assert store.add_items(sweep_id, [item(2), item(3), item(4)]) == 2
    assert store.add_items(sweep_id, [item(5), item(5)]) == 1
    assert store.add_items(sweep_id, []) == 0
    # many at once (several INSERT statements), one transaction
    assert store.add_items(sweep_id, [item(i) for i in range(1, 1201)]) == 1195
    assert len(store.pending(sweep_id)) == 1201
    # the same keys in another sweep are other items
    assert store.add_items(store.open_sweep("t", {}).id, [item(0)]) == 1
    with pytest.raises(InternalError, match="no sweep with id"):
        store.add_items(9999, [item(0)])
    with pytest.raises(InternalError, match="sha256"):
        store.add_items(sweep_id, [NewItem("x" * 65, 0, {}, {})])


def test_pending_lists_items_not_done_in_index_order(store: Store) -> None:
    sweep_id = store.open_sweep("s", {}).id
    store.add_items(
        sweep_id, [item(i, take_profit=0.1 * i, buy_spreads="0.1,0.2") for i in (3, 1, 2, 0)]
    )
    done(store, sweep_id, 1)
    store.record_failed(sweep_id, key(2), error="boom", seconds=0.1)
    pending = store.pending(sweep_id)
    assert [p.index for p in pending] == [0, 2, 3]
    assert pending[1] == PendingItem(
        key=key(2),
        index=2,
        params={"take_profit": 0.2, "buy_spreads": "0.1,0.2"},
        request={"config": {"id": 2}, "start": 0, "end": 60},
        status="failed",
    )
    assert [p.status for p in pending] == ["pending", "failed", "pending"]
    # JSON keys keep their order (parameters in the spec's order)
    assert list(pending[0].params) == ["take_profit", "buy_spreads"]


def test_record_done_is_idempotent_and_the_first_result_wins(store: Store, clock: Clock) -> None:
    sweep_id = store.open_sweep("s", {}).id
    store.add_items(sweep_id, [item(0), item(1)])
    done(store, sweep_id, 0, sharpe_ratio=1.5, net_pnl_quote=None)
    finished = clock.now
    done(store, sweep_id, 0, sharpe_ratio=-9.0)  # a second record of the same key: no-op
    store.record_failed(sweep_id, key(0), error="late failure", seconds=1.0)  # never over done
    (row,) = store.results("s")
    assert row.key == key(0) and row.status == "done" and row.error is None
    assert row.metrics == {"sharpe_ratio": 1.5, "net_pnl_quote": None}
    assert (row.seconds, row.finished_at, row.warnings) == (0.5, finished, ["w0"])
    with store.database.engine.connect() as conn:
        count = select(sweep_item.c.id).where(sweep_item.c.key == key(0))
        assert len(conn.execute(count).all()) == 1
    with pytest.raises(InternalError, match="no item"):
        done(store, sweep_id, 7)


def test_a_failed_item_is_retried_and_then_done(store: Store) -> None:
    sweep_id = store.open_sweep("s", {}).id
    store.add_items(sweep_id, [item(0)])
    store.record_failed(sweep_id, key(0), error="ValueError: first", seconds=0.2)
    store.record_failed(sweep_id, key(0), error="ValueError: second", seconds=0.3)
    (failed,) = store.results("s", include_failed=True)
    assert (failed.status, failed.error, failed.seconds, failed.metrics) == (
        "failed",
        "ValueError: second",
        0.3,
        {},
    )
    assert store.results("s") == []
    assert [p.status for p in store.pending(sweep_id)] == ["failed"]
    done(store, sweep_id, 0)
    (row,) = store.results("s", include_failed=True)
    assert (row.status, row.error, row.metrics) == ("done", None, {"sharpe_ratio": 0.0})
    assert store.pending(sweep_id) == []


def test_list_sweeps_counts_items_by_status(store: Store) -> None:
    a = store.open_sweep("a", {}).id
    store.open_sweep("empty", {})
    store.add_items(a, [item(i) for i in range(5)])
    done(store, a, 0)
    done(store, a, 1)
    store.record_failed(a, key(2), error="x", seconds=0.0)
    listed = store.list_sweeps()
    assert [s.name for s in listed] == ["a", "empty"]
    first = listed[0]
    assert (first.items, first.done, first.failed, first.pending) == (5, 2, 1, 2)
    assert first.created_at == T0 and first.updated_at > first.created_at
    assert listed[1] == SweepSummary(listed[1].id, "empty", T0 + 1, T0 + 1, 0, 0, 0, 0)


# -- results queries --------------------------------------------------------------------------------


@pytest.fixture
def grid(store: Store) -> Store:
    """Nine items: take_profit (a number) × buy_spreads (a decimal string), one failed, one
    pending, one with a None Sharpe, one with a comma list."""
    sweep_id = store.open_sweep("grid", {}).id
    items = []
    for i in range(9):
        spreads = "0.1,0.2" if i == 8 else f"{0.001 * (1 + i % 3):.3f}"
        items.append(
            item(
                i,
                take_profit=0.001 * (1 + i // 3),
                buy_spreads=spreads,
                pair="BTC-USDT",
                use_natr=i % 2 == 0,
            )
        )
    store.add_items(sweep_id, items)
    for i in range(7):
        sharpe = None if i == 4 else 1.0 - 0.25 * i
        done(store, sweep_id, i, sharpe_ratio=sharpe, net_pnl_quote=10.0 * i, close_types={"TP": i})
    store.record_failed(sweep_id, key(7), error="boom", seconds=0.1)
    return store


def indexes(rows: list[Any]) -> list[int]:
    return [r.index for r in rows]


def test_results_sort_by_a_metric_numerically_none_last(grid: Store) -> None:
    # sharpe: 1, .75, .5, .25, None, -.25, -.5 for items 0..6
    assert indexes(grid.results("grid", sort="sharpe_ratio")) == [0, 1, 2, 3, 5, 6, 4]
    assert indexes(grid.results("grid", sort="sharpe_ratio", descending=False)) == [
        6,
        5,
        3,
        2,
        1,
        0,
        4,
    ]
    assert indexes(grid.results("grid", sort="sharpe_ratio", top=2)) == [0, 1]
    assert indexes(grid.results("grid", sort="net_pnl_quote", top=3)) == [6, 5, 4]
    # failed items have no metrics: last
    assert indexes(grid.results("grid", sort="net_pnl_quote", include_failed=True)) == [
        6, 5, 4, 3, 2, 1, 0, 7,
    ]  # fmt: skip
    # no sort: index order
    assert indexes(grid.results("grid")) == list(range(7))
    # a dict-valued metric is no number: every row ties, index order
    assert indexes(grid.results("grid", sort="close_types")) == list(range(7))


def test_results_filter_and_sort_on_parameters(grid: Store) -> None:
    tp = parse_condition("take_profit>0.002")  # items 6, 7, 8 have 0.003; 7 failed, 8 pending
    assert indexes(grid.results("grid", where=[tp])) == [6]
    assert indexes(grid.results("grid", where=[tp], include_failed=True)) == [6, 7]
    # decimal strings compare as numbers; the comma list is no number
    spreads = Condition("buy_spreads", ">=", 0.002)
    assert indexes(grid.results("grid", where=[spreads])) == [1, 2, 4, 5]
    assert indexes(grid.results("grid", where=[spreads, parse_condition("take_profit<=0.002")])) == [
        1, 2, 4, 5,
    ]  # fmt: skip
    assert indexes(grid.results("grid", where=[parse_condition("buy_spreads==0.003")])) == [2, 5]
    assert indexes(grid.results("grid", where=[parse_condition("buy_spreads!=0.003")])) == [
        0, 1, 3, 4, 6,
    ]  # fmt: skip
    assert indexes(
        grid.results("grid", sort="buy_spreads", descending=False, where=[tp], include_failed=True)
    ) == [6, 7]
    assert indexes(grid.results("grid", sort="buy_spreads", descending=False)) == [
        0, 3, 6, 1, 4, 2, 5,
    ]  # fmt: skip
    # text conditions
    assert len(grid.results("grid", where=[parse_condition("pair==BTC-USDT")])) == 7
    assert grid.results("grid", where=[parse_condition("pair!='BTC-USDT'")]) == []
    assert indexes(grid.results("grid", where=[parse_condition("use_natr==true")])) == [0, 2, 4, 6]
    assert indexes(grid.results("grid", where=[parse_condition("use_natr!=true")])) == [1, 3, 5]
    # a metric and a parameter together
    both = [parse_condition("sharpe_ratio>0"), parse_condition("take_profit>=0.002")]
    assert indexes(grid.results("grid", where=both, sort="sharpe_ratio")) == [3]


def test_results_names_are_checked_with_did_you_mean(grid: Store) -> None:
    with pytest.raises(
        ConfigError, match=r"'sharp_ratio' \(did you mean 'sharpe_ratio'\?\)"
    ) as info:
        grid.results("grid", sort="sharp_ratio")
    assert "parameters: buy_spreads, pair, take_profit, use_natr" in str(info.value)
    assert "metrics: close_types, net_pnl_quote, sharpe_ratio" in str(info.value)
    with pytest.raises(ConfigError, match="did you mean 'take_profit'"):
        grid.results("grid", where=[parse_condition("take_proft>1")])
    with pytest.raises(ConfigError, match=r"no sweep named 'gird' \(did you mean 'grid'\?\)"):
        grid.results("gird")
    with pytest.raises(ConfigError, match="top must be at least 1"):
        grid.results("grid", top=0)


def test_results_of_a_sweep_with_nothing_done(store: Store) -> None:
    sweep_id = store.open_sweep("new", {}).id
    assert store.results("new", sort="sharpe_ratio") == []
    store.add_items(sweep_id, [item(0)])
    assert store.results("new", sort="sharpe_ratio", where=[parse_condition("take_profit>0")]) == []


def test_parse_condition() -> None:
    assert parse_condition("take_profit>0.002") == Condition("take_profit", ">", 0.002)
    assert parse_condition(" sharpe_ratio >= -1e-3 ") == Condition("sharpe_ratio", ">=", -0.001)
    assert parse_condition("n=3") == Condition("n", "==", 3.0)
    assert parse_condition("pair != 'BTC-USDT'") == Condition("pair", "!=", "BTC-USDT")
    assert parse_condition("spreads==0.1,0.2") == Condition("spreads", "==", "0.1,0.2")
    assert str(parse_condition("take_profit<=0.002")) == "take_profit<=0.002"
    assert str(Condition("n", "==", 3.0)) == "n==3"
    assert str(Condition("x", ">", 1.234567890123e-7)) == "x>1.234567890123e-07"
    for bad in ("take_profit", "take_profit>", ">3", "a>>3", "a=>3"):
        with pytest.raises(ConfigError, match=r"e\.g\. 'take_profit>0\.002'"):
            parse_condition(bad)
    with pytest.raises(ConfigError, match="only be compared with == or !="):
        parse_condition("pair>BTC")
    with pytest.raises(ConfigError, match="not finite"):
        parse_condition("x<inf")
    with pytest.raises(ConfigError, match="unknown operator"):
        Condition("x", "~", 1.0)  # type: ignore[arg-type]


# -- summaries ----------------------------------------------------------------------------------


def test_summary_is_stored_compressed_as_given(store: Store) -> None:
    sweep_id = store.open_sweep("s", {}).id
    store.add_items(sweep_id, [item(0), item(1)])
    document = {"results": {"net_pnl_quote": 1.5}, "position_holds": [0.0] * 2000}
    blob = zlib.compress(json.dumps(document).encode(), 6)
    store.record_done(sweep_id, key(0), metrics={}, summary=blob, seconds=1.0, warnings=[])
    stored = store.summary("s", key(0))
    assert stored == blob and len(blob) < 200  # compressed, byte for byte
    assert stored is not None and json.loads(zlib.decompress(stored)) == document
    assert store.summary("s", key(1)) is None  # pending
    assert store.summary("s", "0" * 64) is None  # no such item
    assert store.request("s", key(1)) == {"config": {"id": 1}, "start": 0, "end": 60}
    with pytest.raises(ConfigError, match="no sweep named"):
        store.summary("nope", key(0))
    with pytest.raises(InternalError, match="zlib-compressed"):
        store.record_done(
            sweep_id, key(1), metrics={}, summary=b'{"raw": 1}', seconds=0.0, warnings=[]
        )
    assert store.summary("s", key(1)) is None


# -- durability and concurrency --------------------------------------------------------------------

N_KILLED = 300


def _summary(i: int) -> bytes:
    return zlib.compress(json.dumps({"i": i, "pad": [i] * 500}).encode())


def _write_all(url: str, progress: Connection) -> None:
    """The killed process: records every pending item, one by one, reporting each."""
    store = Store(url)
    sweep_id = store.open_sweep("killed", {"n": N_KILLED}).id
    items = [NewItem(f"{i:064x}", i, {"i": i}, {"i": i}) for i in range(N_KILLED)]
    store.add_items(sweep_id, items)
    progress.send("ready")
    for pending_item in store.pending(sweep_id):
        i = pending_item.index
        store.record_done(
            sweep_id,
            pending_item.key,
            metrics={"i": i, "square": i * i},
            summary=_summary(i),
            seconds=float(i),
            warnings=[str(i)],
        )
        progress.send(pending_item.key)


def _check_consistent(store: Store, n: int) -> tuple[set[str], int]:
    rows = store.results("killed")
    with store.database.engine.connect() as conn:
        query = select(sweep_item.c.key, sweep_item.c.summary).where(sweep_item.c.status == "done")
        summaries = {k: v for k, v in conn.execute(query)}
    assert set(summaries) == {row.key for row in rows}
    for row in rows:
        i = row.index
        assert row.key == f"{i:064x}"
        assert row.metrics == {"i": i, "square": i * i}
        assert (row.seconds, row.warnings) == (float(i), [str(i)])
        assert summaries[row.key] == _summary(i)
    (summary,) = store.list_sweeps()
    assert summary.items == n and summary.done == len(rows) and summary.failed == 0
    return {row.key for row in rows}, summary.pending


def test_kill_9_while_recording_loses_nothing_and_stores_nothing_twice(db_url: str) -> None:
    n = N_KILLED
    recorded: set[str] = set()
    fork = multiprocessing.get_context("fork")
    for after in (3, 17, 41):
        receiver, sender = fork.Pipe(duplex=False)
        child = fork.Process(target=_write_all, args=(db_url, sender))
        child.start()
        sender.close()
        assert receiver.recv() == "ready"
        for _ in range(after):
            recorded.add(receiver.recv())
        os.kill(child.pid or 0, signal.SIGKILL)  # mid-write, at some point of some transaction
        child.join()
        receiver.close()
        assert child.exitcode == -signal.SIGKILL
        with Store(db_url) as store:
            done_keys, pending = _check_consistent(store, n)
        assert recorded <= done_keys  # every record that finished is there
        assert pending == n - len(done_keys)
    # resuming finishes the rest: every item done exactly once
    with Store(db_url) as store:
        sweep_id = store.open_sweep("killed", {"n": n}).id
        assert store.add_items(sweep_id, [NewItem(f"{i:064x}", i, {}, {}) for i in range(n)]) == 0
        for pending_item in store.pending(sweep_id):
            i = pending_item.index
            store.record_done(
                sweep_id,
                pending_item.key,
                metrics={"i": i, "square": i * i},
                summary=_summary(i),
                seconds=float(i),
                warnings=[str(i)],
            )
        done_keys, pending = _check_consistent(store, n)
        assert len(done_keys) == n and pending == 0


def test_two_runs_of_one_sweep_at_once_stay_consistent(db_url: str) -> None:
    n = 60
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(writer: str) -> None:
        try:
            with Store(db_url) as store:
                barrier.wait()
                sweep_id = store.open_sweep("twice", {"writer": writer}).id
                store.add_items(sweep_id, [item(i) for i in range(n)])
                for pending_item in store.pending(sweep_id):
                    store.record_done(
                        sweep_id,
                        pending_item.key,
                        metrics={"writer": writer},
                        summary=zlib.compress(writer.encode()),
                        seconds=0.0,
                        warnings=[],
                    )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(db_url) as store:
        rows = store.results("twice")
        assert sorted(r.index for r in rows) == list(range(n))
        for row in rows:  # each item's metrics and summary come from one and the same writer
            blob = store.summary("twice", row.key)
            assert blob is not None and zlib.decompress(blob) == row.metrics["writer"].encode()
        (summary,) = store.list_sweeps()
        assert (summary.items, summary.done) == (n, n)


# -- errors ------------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://me:s3cret@127.0.0.1/db", "'mysql' is not supported"),
        ("postgresql+asyncpg://me:s3cret@127.0.0.1/db", "asyncio driver"),
        ("postgresql+psycopg2://me:s3cret@127.0.0.1/db", "driver is not installed"),
        ("postgresql+nodriver://me:s3cret@127.0.0.1/db", "no driver 'postgresql.nodriver'"),
        ("postgresql://me:s3cret@127.0.0.1", "names no database"),
        ("postgresql://me:s3cret@127.0.0.1:notaport/db", "is not a database URL"),
    ],
)
def test_bad_urls_are_config_errors_without_the_password(url: str, message: str) -> None:
    if "psycopg2" in url and importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed here")
    with pytest.raises(ConfigError, match=message) as info:
        Store(url)
    assert "s3cret" not in str(info.value)


def test_an_unreachable_server_is_a_config_error_without_the_password() -> None:
    url = f"postgresql://me:s3cret@127.0.0.1:{_closed_port()}/db"
    with pytest.raises(ConfigError, match="cannot connect to the results database") as info:
        Store(url)
    text_ = str(info.value)
    assert "s3cret" not in text_ and "postgresql+psycopg://me:***@127.0.0.1" in text_
    assert "Is the server running" in text_


def test_a_wrong_password_is_a_config_error(pg_admin: Any) -> None:
    url = pg_admin.url.set(password="wr0ng-pass").render_as_string(hide_password=False)
    with pytest.raises(ConfigError, match="cannot connect") as info:
        Store(url)
    assert "wr0ng-pass" not in str(info.value)


def test_sqlite_files_that_cannot_be_used(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(OutputError, match="cannot create the folder"):
        Store(f"sqlite:///{blocker}/sub/hbbacktest.db")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not an sqlite file" * 100)
    with pytest.raises(ConfigError, match="not a usable SQLite database"):
        Store(f"sqlite:///{garbage}")
    with pytest.raises(ConfigError, match="is a folder"):
        Store(f"sqlite:///{tmp_path}")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        # root ignores permissions, but cannot create files in /proc either
        where = locked if not os.access(locked, os.W_OK) else Path("/proc")
        with pytest.raises(OutputError, match="cannot open or create"):
            Store(f"sqlite:///{where}/hbbacktest.db")
    finally:
        locked.chmod(0o700)
