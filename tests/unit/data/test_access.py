"""CandleAccess against the local replay server, and the store's coverage record under it.

The store is a fresh temporary folder per test; the exchange is the replay server, reached by
real ccxt through ExchangeClient with no rate limiter and no real sleeping.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hbbacktest.core.errors import (
    ConfigError,
    DataError,
    DataMissingError,
    ExchangeTemporaryError,
)
from hbbacktest.core.time import format_time
from hbbacktest.data.access import CandleAccess, FetchProgress
from hbbacktest.data.candles import Candles
from hbbacktest.data.coverage import SETTLE_S
from hbbacktest.data.sources.demo import DEMO_START
from hbbacktest.data.sources.exchange import ExchangeClient, RetryPolicy
from hbbacktest.data.sources.venues import Venue
from hbbacktest.data.store import CandleStore
from tests.kit.exchange_server import ExchangeServer, built_candles, server_error

STEP = 60
N = 3000
SOURCE = built_candles(N, seed=21)
TS = SOURCE[0]
NOW = int(TS[-1]) + 3600  # an hour after the last candle served
LISTED_ROW = 1500  # ETH-USDT has no candles before this row
GAP_ROWS = (slice(100, 110), slice(200, 203))  # GAP-USDT lacks these rows
NAMES = ("ts", "open", "high", "low", "close", "volume")

Columns = tuple[np.ndarray, ...]


def t(row: int) -> int:
    """Open time of a source row."""
    return int(TS[row])


def rows(first: int, last: int, source: Columns = SOURCE) -> Columns:
    """The source rows with open time in ``[t(first), t(last)]``."""
    inside = (source[0] >= t(first)) & (source[0] <= t(last))
    return tuple(column[inside] for column in source)


def candles(first: int, last: int, **change: float) -> Candles:
    """Source rows as Candles; ``change`` overrides a column's first value."""
    columns = dict(zip(NAMES, (c.copy() for c in rows(first, last)), strict=True))
    for name, value in change.items():
        columns[name][0] = value
    ts, o, h, low, c, v = (columns[name] for name in NAMES)
    return Candles(ts=ts, open=o, high=h, low=low, close=c, volume=v, interval_s=STEP)


def gapped() -> Columns:
    keep = np.ones(N, dtype=bool)
    for gap in GAP_ROWS:
        keep[gap] = False
    return tuple(column[keep] for column in SOURCE)


def assert_rows(candles: Candles, expected: Columns) -> None:
    assert len(candles) == expected[0].shape[0]
    for name, column in zip(NAMES, expected, strict=True):
        np.testing.assert_array_equal(getattr(candles, name), column, err_msg=name)


def when(first: int, last: int) -> str:
    return f"{format_time(first)} – {format_time(last)} UTC"


def asked(srv: ExchangeServer) -> list[tuple[int, int | None]]:
    """``(startTime, endTime)`` in seconds of every Binance kline request."""
    out = []
    for request in srv.kline_requests():
        end = request.params.get("endTime")
        out.append(
            (int(request.params["startTime"]) // 1000, None if end is None else int(end) // 1000)
        )
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    srv = ExchangeServer()
    srv.add_market("binance", "BTC-USDT", *SOURCE)
    srv.add_market("binance", "ETH-USDT", *SOURCE, history_start=t(LISTED_ROW))
    srv.add_market("binance", "GAP-USDT", *gapped())
    srv.add_market("bybit", "BTC-USDT", *SOURCE)
    with srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def srv(server: ExchangeServer) -> ExchangeServer:
    return server.reset()


def factory(srv: ExchangeServer, *, attempts: int = 8) -> Callable[[Venue], ExchangeClient]:
    def build(venue: Venue) -> ExchangeClient:
        return ExchangeClient(
            venue,
            base_url=srv.base_url,
            rate_limit=False,
            retry=RetryPolicy(attempts=attempts, base_delay_s=0.01),
            sleep=lambda _: None,
            now=lambda: NOW,
        )

    return build


def refuse(venue: Venue) -> ExchangeClient:
    raise AssertionError(f"no client should be built (asked for {venue.connector})")


@pytest.fixture
def store(tmp_path: Path) -> CandleStore:
    return CandleStore(tmp_path / "store")


def online(
    store: CandleStore,
    srv: ExchangeServer,
    *,
    attempts: int = 8,
    commit_rows: int = 100_000,
    progress: Callable[[FetchProgress], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> CandleAccess:
    return CandleAccess(
        store,
        client_factory=factory(srv, attempts=attempts),
        progress=progress,
        notify=notify,
        commit_rows=commit_rows,
        now=lambda: NOW,
    )


def offline(store: CandleStore) -> CandleAccess:
    return CandleAccess(store, offline=True, client_factory=refuse, now=lambda: NOW)


# --------------------------------------------------------------------------------------------
# Fetching and caching
# --------------------------------------------------------------------------------------------


def test_first_call_fetches_and_caches_then_a_second_asks_nothing(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = online(store, srv)
    window = access.candles("binance", "BTC-USDT", "1m", t(1000), t(1999))
    assert_rows(window.candles, rows(1000, 1999))
    assert (window.first, window.start, window.end, window.warnings) == (
        t(1000),
        t(1000),
        t(1999),
        (),
    )
    assert window.fetch is not None and window.fetch.asked == ((t(1000), t(1999)),)
    assert window.fetch.rows == 1000 and window.fetch.requests == 2  # markets + one page
    assert window.fetch is not None and window.fetch.requests > 0
    # the result's source is the same whether this run fetched or not (reproducible results)
    assert window.source == f"candle store {store.data_dir.absolute()}"
    # the cached Parquet file is the source, row for row
    table = pq.read_table(store.path("binance", "BTC-USDT", "1m"))
    assert table.column_names == ["timestamp", *NAMES[1:]]
    assert table.schema.field("timestamp").type == pa.int64()
    for name, column in zip(("timestamp", *NAMES[1:]), rows(1000, 1999), strict=True):
        np.testing.assert_array_equal(table.column(name).to_numpy(), column, err_msg=name)
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(1000), t(1999))]

    srv.clear_requests()
    again = access.candles("binance", "BTC-USDT", "1m", t(1000), t(1999))
    assert srv.requests == []
    assert again.fetch is None and again.warnings == ()
    assert again.source == window.source
    assert_rows(again.candles, rows(1000, 1999))


def test_a_wider_window_fetches_only_the_missing_parts(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = online(store, srv)
    access.candles("binance", "BTC-USDT", "1m", t(1000), t(1999))
    srv.clear_requests()
    window = access.candles("binance", "BTC-USDT", "1m", t(500), t(2500))
    assert_rows(window.candles, rows(500, 2500))
    assert window.fetch is not None
    assert window.fetch.asked == ((t(500), t(999)), (t(2000), t(2500)))
    requests = asked(srv)
    assert requests == [(t(500), t(999)), (t(2000), t(2500))]
    for start, end in requests:  # never re-asks the cached range
        assert end is not None and (end < t(1000) or start > t(1999))
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(500), t(2500))]


def test_warmup_bars_fetch_history_before_start(store: CandleStore, srv: ExchangeServer) -> None:
    access = online(store, srv)
    window = access.candles("binance", "BTC-USDT", "1m", t(1000), t(1100), warmup_bars=200)
    assert (window.first, window.start) == (t(800), t(1000))
    assert_rows(window.candles, rows(800, 1100))
    assert window.warnings == ()
    assert asked(srv) == [(t(800), t(1100))]
    srv.clear_requests()
    # a start off the grid begins at the next candle, as the engine's bars do
    inner = access.candles("binance", "BTC-USDT", "1m", t(1000) + 1, t(1100), warmup_bars=3)
    assert inner.first == t(998) and srv.requests == []
    assert_rows(inner.candles, rows(998, 1100))


def test_warmup_bars_must_not_be_negative(store: CandleStore) -> None:
    with pytest.raises(ConfigError, match="warmup_bars"):
        offline(store).candles("binance", "BTC-USDT", "1m", t(0), t(10), warmup_bars=-1)


def test_progress_reports_each_page(store: CandleStore, srv: ExchangeServer) -> None:
    seen: list[FetchProgress] = []
    access = online(store, srv, progress=seen.append)
    access.candles("binance", "BTC-USDT", "1m", t(0), t(2499))
    assert [(p.rows, p.done_s, p.total_s) for p in seen] == [
        (1000, 1000 * STEP, 2500 * STEP),
        (2000, 2000 * STEP, 2500 * STEP),
        (2500, 2500 * STEP, 2500 * STEP),
    ]
    assert seen[-1].requests == 4 and seen[0].connector == "binance"


def test_a_finer_stored_interval_is_resampled_not_fetched(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = online(store, srv)
    access.candles("binance", "BTC-USDT", "1m", t(0), t(599))
    srv.clear_requests()
    window = access.candles("binance", "BTC-USDT", "5m", t(0), t(595))
    assert srv.requests == [] and len(window.candles) == 120
    assert window.candles.interval_s == 300
    assert window.candles.high[0] == SOURCE[2][:5].max()


# --------------------------------------------------------------------------------------------
# Offline, and connectors without an exchange
# --------------------------------------------------------------------------------------------


def test_offline_with_a_hole_names_it_and_the_fetch_command(
    store: CandleStore, srv: ExchangeServer
) -> None:
    online(store, srv).candles("binance", "BTC-USDT", "1m", t(1000), t(1999))
    srv.clear_requests()
    with pytest.raises(DataMissingError) as caught:
        offline(store).candles("binance", "BTC-USDT", "1m", t(500), t(2500))
    message = str(caught.value)
    assert when(t(500), t(999)) in message and when(t(2000), t(2500)) in message
    assert (
        "hbbacktest data fetch --connector binance --pair BTC-USDT --interval 1m "
        "--start 2024-01-01T08:20:00Z --end 2024-01-02T17:40:00Z"
    ) in message
    assert srv.requests == []


def test_offline_with_nothing_stored_names_the_fetch_command(store: CandleStore) -> None:
    with pytest.raises(DataMissingError, match="hbbacktest data fetch --connector okx"):
        offline(store).candles("okx", "BTC-USDT", "1m", t(0), t(10))


def test_offline_with_everything_cached_asks_nothing(
    store: CandleStore, srv: ExchangeServer
) -> None:
    online(store, srv).candles("binance", "BTC-USDT", "1m", t(0), t(2999))
    srv.clear_requests()
    window = offline(store).candles("binance", "BTC-USDT", "1m", t(500), t(2500), warmup_bars=5)
    assert_rows(window.candles, rows(495, 2500))
    assert window.fetch is None and window.warnings == ()
    assert "fetched" not in window.source and str(store.data_dir.absolute()) in window.source
    assert srv.requests == []


@pytest.mark.parametrize("is_offline", [True, False])
def test_a_connector_without_a_venue_and_nothing_stored(
    store: CandleStore, is_offline: bool
) -> None:
    access = CandleAccess(store, offline=is_offline, client_factory=refuse, now=lambda: NOW)
    with pytest.raises(DataMissingError) as caught:
        access.candles("xrpl", "XRP-USD", "1m", t(0), t(10))
    message = str(caught.value)
    assert "no exchange source" in message
    assert "hbbacktest data import FILE --connector xrpl --pair XRP-USD --interval 1m" in message
    assert "--candles-connector" in message


def test_a_connector_without_a_venue_reads_imported_candles(store: CandleStore) -> None:
    store.write("xrpl", "XRP-USD", "1m", candles(0, N - 1).to_frame())
    access = CandleAccess(store, client_factory=refuse, now=lambda: NOW)
    window = access.candles("xrpl", "XRP-USD", "1m", t(10), t(20))
    assert_rows(window.candles, rows(10, 20))
    assert window.fetch is None and "fetched" not in window.source


def test_fill_refuses_offline_and_unknown_connectors(store: CandleStore) -> None:
    with pytest.raises(DataError, match="offline"):
        offline(store).fill("binance", "BTC-USDT", "1m", t(0), t(10))
    with pytest.raises(ConfigError, match="no exchange source for connector 'xrpl'"):
        CandleAccess(store, client_factory=refuse).fill("xrpl", "XRP-USD", "1m", t(0), t(10))


def test_demo_works_offline_and_writes_nothing(tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "store")
    window = CandleAccess(store, offline=True).candles(
        "demo", "BTC-USDT", "1m", DEMO_START, DEMO_START + 3600
    )
    assert len(window.candles) == 61 and window.candles.ts[0] == DEMO_START
    assert window.warnings == () and "demo connector" in window.source
    assert not store.data_dir.exists()
    with pytest.raises(DataMissingError, match="demo connector"):
        CandleAccess(store, offline=True).candles("demo", "BTC-USDT", "1m", 0, 3600)


# --------------------------------------------------------------------------------------------
# Nothing there, honest-window warnings
# --------------------------------------------------------------------------------------------


def test_a_window_where_the_exchange_has_nothing_says_it_answered_none(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = online(store, srv)
    access.candles("binance", "ETH-USDT", "1m", t(LISTED_ROW), t(LISTED_ROW + 100))
    srv.clear_requests()
    with pytest.raises(DataMissingError, match="asked and answered none") as caught:
        access.candles("binance", "ETH-USDT", "1m", t(0), t(100))
    assert when(t(0), t(100)) in str(caught.value)
    assert srv.kline_requests()  # it was asked
    srv.clear_requests()
    with pytest.raises(DataMissingError, match="asked and answered none"):
        access.candles("binance", "ETH-USDT", "1m", t(0), t(100))
    assert srv.requests == []  # the answer is remembered


def test_nothing_there_on_a_new_dataset_says_it_answered_none_and_remembers(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = online(store, srv)
    with pytest.raises(DataMissingError, match="asked and answered none"):
        access.candles("binance", "ETH-USDT", "1m", t(0), t(100))
    srv.clear_requests()
    for again in (access, offline(store)):  # remembered: not asked again, also offline
        with pytest.raises(DataMissingError, match="asked and answered none"):
            again.candles("binance", "ETH-USDT", "1m", t(0), t(100))
    assert srv.requests == []
    (entry,) = store.series()
    assert (entry.rows, entry.coverage, entry.problem) == (0, ((t(0), t(100)),), None)
    assert store.verify(entry) is None


def test_data_starting_later_warns_with_both_ranges(
    store: CandleStore, srv: ExchangeServer
) -> None:
    window = online(store, srv).candles("binance", "ETH-USDT", "1m", t(1400), t(1600))
    assert_rows(window.candles, rows(LISTED_ROW, 1600))
    (note,) = window.warnings
    assert f"start at {format_time(t(LISTED_ROW))} UTC, later than asked" in note
    assert f"asked {when(t(1400), t(1600))}" in note
    assert f"got {when(t(LISTED_ROW), t(1600))}" in note


def test_data_ending_earlier_warns_with_both_ranges(
    store: CandleStore, srv: ExchangeServer
) -> None:
    end = t(N - 1) + 600
    window = online(store, srv).candles("binance", "BTC-USDT", "1m", t(2900), end)
    assert_rows(window.candles, rows(2900, N - 1))
    (note,) = window.warnings
    assert f"end at {format_time(t(N - 1))} UTC, earlier than asked" in note
    assert f"asked {when(t(2900), end)}" in note and f"got {when(t(2900), t(N - 1))}" in note
    # the exchange confirmed it has nothing after its last candle: not asked again
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(2900), end)]


def test_gaps_inside_the_window_warn_with_count_missing_and_longest(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = online(store, srv)
    window = access.candles("binance", "GAP-USDT", "1m", t(50), t(300))
    assert_rows(window.candles, rows(50, 300, gapped()))
    (note,) = window.warnings
    assert "2 gap(s) in the window, 13 candle(s) missing" in note
    assert f"the longest: 10 candle(s) from {format_time(t(100))} UTC" in note
    # a gap in the warm-up only is not a gap of the window
    window = access.candles("binance", "GAP-USDT", "1m", t(150), t(300), warmup_bars=100)
    (note,) = window.warnings
    assert "1 gap(s) in the window, 3 candle(s) missing" in note
    assert f"from {format_time(t(200))} UTC" in note


# --------------------------------------------------------------------------------------------
# A corrupt cache, a failing exchange
# --------------------------------------------------------------------------------------------


def test_a_corrupt_cached_file_is_set_aside_and_rebuilt(
    store: CandleStore, srv: ExchangeServer
) -> None:
    notes: list[str] = []
    access = online(store, srv, notify=notes.append)
    access.candles("binance", "BTC-USDT", "1m", t(0), t(999))
    target = store.path("binance", "BTC-USDT", "1m")
    target.write_bytes(b"\x00garbage, not Parquet\xff" * 20)
    window = access.candles("binance", "BTC-USDT", "1m", t(0), t(999))
    assert_rows(window.candles, rows(0, 999))
    (aside,) = target.parent.glob("BTC-USDT_1m.parquet.corrupt-*")
    assert aside.read_bytes().startswith(b"\x00garbage")
    assert window.warnings == ()  # an operational note, not part of the result
    (note,) = notes
    assert "corrupt" in note and str(aside) in note and "fetched again" in note
    assert store.leftovers() == [aside.absolute()]
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(0), t(999))]


def test_a_corrupt_cached_file_offline_is_a_data_error_naming_the_fix(
    store: CandleStore, srv: ExchangeServer
) -> None:
    online(store, srv).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    target = store.path("binance", "BTC-USDT", "1m")
    target.write_bytes(b"garbage")
    with pytest.raises(DataError, match="--replace") as caught:
        offline(store).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    assert str(target.absolute()) in str(caught.value)
    assert target.read_bytes() == b"garbage"  # offline never moves it


def test_a_failure_mid_fetch_keeps_the_pages_before_it(
    store: CandleStore, srv: ExchangeServer
) -> None:
    on_disk: list[list[tuple[int, int]] | None] = []

    def progress(report: FetchProgress) -> None:
        on_disk.append(store.coverage("bybit", "BTC-USDT", "1m"))
        if report.rows == 2000:  # from the third page on, the exchange fails for good
            srv.inject(server_error(), venue="bybit", times=100)

    access = online(store, srv, attempts=3, commit_rows=500, progress=progress)
    with pytest.raises(ExchangeTemporaryError, match="bybit BTC-USDT 1m"):
        access.candles("bybit", "BTC-USDT", "1m", t(0), t(N - 1))
    assert on_disk == [[(t(0), t(999))], [(t(0), t(1999))]]  # committed as they came
    assert store.coverage("bybit", "BTC-USDT", "1m") == [(t(0), t(1999))]
    assert_rows(store.load("bybit", "BTC-USDT", "1m"), rows(0, 1999))
    (entry,) = store.series()
    assert store.verify(entry) is None

    srv.clear_faults()
    srv.clear_requests()
    window = online(store, srv).candles("bybit", "BTC-USDT", "1m", t(0), t(N - 1))
    assert window.fetch is not None and window.fetch.asked == ((t(2000), t(N - 1)),)
    assert [int(r.params["start"]) // 1000 for r in srv.kline_requests()] == [t(2000)]
    assert_rows(window.candles, SOURCE)


# --------------------------------------------------------------------------------------------
# The store's coverage record
# --------------------------------------------------------------------------------------------


def write_parquet(path: Path, source: Columns, coverage: bytes | None) -> None:
    """A dataset file as another writer might leave it (``coverage`` None: no record)."""
    table = pa.table(
        {
            "timestamp": pa.array(source[0], type=pa.int64()),
            **{
                n: pa.array(c, type=pa.float64())
                for n, c in zip(NAMES[1:], source[1:], strict=True)
            },
        }
    )
    if coverage is not None:
        table = table.replace_schema_metadata({b"hbbacktest.coverage": coverage})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def test_coverage_of_absent_imported_and_legacy_files(store: CandleStore) -> None:
    assert store.coverage("binance", "BTC-USDT", "1m") is None
    store.write("binance", "BTC-USDT", "1m", candles(10, 20).to_frame())
    store.write("binance", "BTC-USDT", "1m", candles(40, 50).to_frame())
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(10), t(20)), (t(40), t(50))]
    legacy = store.path("binance", "ETH-USDT", "1m")
    write_parquet(legacy, rows(0, 99), None)  # written before coverage was recorded
    assert store.coverage("binance", "ETH-USDT", "1m") == [(t(0), t(99))]


def test_coverage_is_merged_on_read(store: CandleStore) -> None:
    record = json.dumps([[t(50), t(99)], [t(0), t(49)], [t(200), t(300)]]).encode()
    write_parquet(store.path("binance", "BTC-USDT", "1m"), rows(0, 99), record)
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(0), t(99)), (t(200), t(300))]


@pytest.mark.parametrize("record", [b"not json", b'{"a": 1}', b"[[3, 1]]", b"[[1.5, 2]]"])
def test_an_unreadable_coverage_record_is_a_data_error(store: CandleStore, record: bytes) -> None:
    target = store.path("binance", "BTC-USDT", "1m")
    write_parquet(target, rows(0, 9), record)
    with pytest.raises(DataError, match=r"its coverage record .* is unreadable") as caught:
        store.coverage("binance", "BTC-USDT", "1m")
    assert "--replace" in str(caught.value) and str(target.absolute()) in str(caught.value)
    (entry,) = store.series()
    assert entry.corrupt and store.verify(entry) == entry.problem


def test_verify_a_healthy_fetched_file(store: CandleStore, srv: ExchangeServer) -> None:
    online(store, srv).candles("binance", "GAP-USDT", "1m", t(0), t(999))
    (entry,) = store.series()
    assert entry.coverage == ((t(0), t(999)),)
    assert store.verify(entry) is None


def test_verify_finds_a_candle_outside_the_coverage(store: CandleStore) -> None:
    record = json.dumps([[t(0), t(98)]]).encode()
    write_parquet(store.path("binance", "BTC-USDT", "1m"), rows(0, 99), record)
    (entry,) = store.series()
    assert entry.problem is None
    assert store.verify(entry) == "1 candle(s) lie outside the recorded coverage"


# --------------------------------------------------------------------------------------------
# DatasetUpdate
# --------------------------------------------------------------------------------------------


def test_update_add_and_commit(store: CandleStore) -> None:
    with store.updating("binance", "BTC-USDT", "1m") as update:
        assert (update.coverage, len(update.candles), update.set_aside) == ([], 0, None)
        update.add(candles(0, 9), (t(0), t(9)))
        update.add(Candles.empty(STEP), (t(10), t(19)))  # asked, nothing there
        update.add(candles(20, 29), (t(20), t(29)))
        assert update.pending_rows == 20
        assert not update.path.exists()  # nothing written before the commit
        update.commit()
        assert update.pending_rows == 0 and update.coverage == [(t(0), t(29))]
        update.commit()  # nothing added since: a no-op
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(0), t(29))]
    loaded = store.load("binance", "BTC-USDT", "1m")
    assert loaded.ts.tolist() == [t(i) for i in (*range(10), *range(20, 30))]


def test_update_a_later_page_wins_at_the_same_time(store: CandleStore) -> None:
    with store.updating("binance", "BTC-USDT", "1m") as update:
        update.add(candles(0, 9), (t(0), t(9)))
        update.commit()
    with store.updating("binance", "BTC-USDT", "1m") as update:
        assert update.coverage == [(t(0), t(9))] and len(update.candles) == 10
        update.add(candles(5, 14, volume=123.0), (t(5), t(14)))
        update.commit()
    loaded = store.load("binance", "BTC-USDT", "1m")
    assert len(loaded) == 15 and loaded.volume[5] == 123.0
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(0), t(14))]


@pytest.mark.parametrize(
    "page, asked_range, message",
    [
        (lambda: candles(0, 9, high=1.0), (0, 9), "high < max"),
        (lambda: candles(0, 9, close=float("nan")), (0, 9), "NaN"),
        (lambda: candles(0, 9), (1, 9), "outside the range they answer"),
        (lambda: candles(0, 9), (0, 8), "outside the range they answer"),
    ],
    ids=["bad-high", "nan", "before-asked", "after-asked"],
)
def test_update_add_refuses_bad_pages_and_queues_nothing(
    store: CandleStore, page: Callable[[], Candles], asked_range: tuple[int, int], message: str
) -> None:
    with store.updating("binance", "BTC-USDT", "1m") as update:
        with pytest.raises(DataError, match=message):
            update.add(page(), (t(asked_range[0]), t(asked_range[1])))
        assert update.pending_rows == 0
        update.commit()
    assert not store.path("binance", "BTC-USDT", "1m").exists()


def test_update_commit_refuses_candles_off_the_grid_and_writes_nothing(
    store: CandleStore,
) -> None:
    with store.updating("binance", "BTC-USDT", "1m") as update:
        update.add(candles(0, 9), (t(0), t(9)))
        update.commit()
    target = store.path("binance", "BTC-USDT", "1m")
    before = target.read_bytes()
    off = candles(10, 12)
    shifted = Candles(off.ts + 30, off.open, off.high, off.low, off.close, off.volume, STEP)
    with store.updating("binance", "BTC-USDT", "1m") as update:
        update.add(shifted, (t(10), t(13)))
        with pytest.raises(DataError, match="not multiples of 1m"):
            update.commit()
    assert target.read_bytes() == before
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(0), t(9))]


def test_update_records_an_empty_answer_on_a_new_dataset(store: CandleStore) -> None:
    with store.updating("binance", "BTC-USDT", "1m") as update:
        update.add(Candles.empty(STEP), (t(0), t(99)))
        update.commit()
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(0), t(99))]
    assert len(store.load("binance", "BTC-USDT", "1m")) == 0
    with store.updating("binance", "BTC-USDT", "1m") as update:
        assert update.coverage == [(t(0), t(99))] and update.set_aside is None


# --------------------------------------------------------------------------------------------
# Review fixes: settled candles, reproducible results, corrupt values, pickling, refetch,
# sparse markets, resampling
# --------------------------------------------------------------------------------------------


def fixed_now() -> float:
    return NOW


def no_sleep(_: float) -> None:
    pass


def replay_client(base_url: str, venue: Venue) -> ExchangeClient:
    """A picklable client factory (with functools.partial): no lambdas, no closures."""
    return ExchangeClient(
        venue,
        base_url=base_url,
        rate_limit=False,
        retry=RetryPolicy(base_delay_s=0.01),
        sleep=no_sleep,
        now=fixed_now,
    )


def test_the_two_newest_slots_are_not_recorded_and_are_fetched_later(
    store: CandleStore, srv: ExchangeServer
) -> None:
    clock = [t(102) + SETTLE_S]  # t(101) is the newest settled candle

    def build(venue: Venue) -> ExchangeClient:
        return ExchangeClient(
            venue, base_url=srv.base_url, rate_limit=False, sleep=no_sleep, now=lambda: clock[0]
        )

    access = CandleAccess(store, client_factory=build, now=lambda: clock[0])
    srv.add_market("binance", "LATE-USDT", *rows(0, 96))  # nothing published after t(96) yet
    window = access.candles("binance", "LATE-USDT", "1m", t(0), t(120))
    assert_rows(window.candles, rows(0, 96))
    # t(97) … t(99) are a confirmed gap; t(100) and t(101), the newest slots, are not recorded
    assert store.coverage("binance", "LATE-USDT", "1m") == [(t(0), t(99))]

    srv.add_market("binance", "LATE-USDT", *SOURCE)  # the exchange published them since
    clock[0] = t(130) + SETTLE_S
    srv.clear_requests()
    later = access.candles("binance", "LATE-USDT", "1m", t(0), t(120))
    assert later.fetch is not None and later.fetch.asked == ((t(100), t(120)),)
    expected = rows(0, 120)
    keep = (expected[0] < t(97)) | (expected[0] > t(99))
    assert_rows(later.candles, tuple(column[keep] for column in expected))
    assert store.coverage("binance", "LATE-USDT", "1m") == [(t(0), t(120))]


def test_the_source_is_the_same_whether_the_run_fetched_or_not(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = CandleAccess(
        store,
        exchange_urls={"binance": srv.base_url},
        client_factory=factory(srv),
        now=fixed_now,
    )
    fetched = access.candles("binance", "BTC-USDT", "1m", t(0), t(99))
    assert fetched.fetch is not None and fetched.fetch.requests > 0
    cached = offline(store).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    assert fetched.source == cached.source == f"candle store {store.data_dir.absolute()}"
    assert srv.base_url not in fetched.source


def spoil_values(store: CandleStore, first: int, last: int) -> Path:
    """Rewrite the cached file with one high below its low, under a valid coverage record."""
    target = store.path("binance", "BTC-USDT", "1m")
    bad = [column.copy() for column in rows(first, last)]
    bad[2][5] = bad[3][5] - 1.0  # high < low, still a positive price
    write_parquet(target, tuple(bad), json.dumps([[t(first), t(last)]]).encode())
    assert store.coverage("binance", "BTC-USDT", "1m") == [(t(first), t(last))]
    return target


def test_corrupt_values_under_a_valid_record_are_set_aside_and_rebuilt_online(
    store: CandleStore, srv: ExchangeServer
) -> None:
    notes: list[str] = []
    access = online(store, srv, notify=notes.append)
    access.candles("binance", "BTC-USDT", "1m", t(0), t(99))
    target = spoil_values(store, 0, 99)
    srv.clear_requests()
    window = access.candles("binance", "BTC-USDT", "1m", t(0), t(99))
    assert_rows(window.candles, rows(0, 99))
    assert window.warnings == ()  # the note is operational, not part of the result
    (aside,) = target.parent.glob("BTC-USDT_1m.parquet.corrupt-*")
    (note,) = notes
    assert "corrupt" in note and str(aside) in note and "fetched again" in note
    assert asked(srv) == [(t(0), t(99))]
    assert_rows(store.load("binance", "BTC-USDT", "1m"), rows(0, 99))


def test_corrupt_values_offline_name_the_fetch_command_with_iso_times(
    store: CandleStore, srv: ExchangeServer
) -> None:
    online(store, srv).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    target = spoil_values(store, 0, 99)
    before = target.read_bytes()
    with pytest.raises(DataError) as caught:
        offline(store).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    message = str(caught.value)
    assert not isinstance(caught.value, DataMissingError)
    assert str(target.absolute()) in message
    assert (
        "hbbacktest data fetch --connector binance --pair BTC-USDT --interval 1m "
        "--start 2024-01-01T00:00:00Z --end 2024-01-01T01:39:00Z"
    ) in message
    assert target.read_bytes() == before and store.leftovers() == []


def too_many_open_files(*args: object, **kwargs: object) -> None:
    raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))


@pytest.mark.parametrize("is_offline", [False, True])
def test_an_os_error_reading_the_cache_is_a_data_error_and_the_file_stays(
    store: CandleStore, srv: ExchangeServer, monkeypatch: pytest.MonkeyPatch, is_offline: bool
) -> None:
    online(store, srv).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    target = store.path("binance", "BTC-USDT", "1m")
    before = target.read_bytes()
    srv.clear_requests()
    monkeypatch.setattr(pq, "ParquetFile", too_many_open_files)
    access = offline(store) if is_offline else online(store, srv)
    with pytest.raises(DataError, match="Too many open files"):
        access.candles("binance", "BTC-USDT", "1m", t(0), t(99))
    assert target.read_bytes() == before and store.leftovers() == []  # not moved aside
    assert srv.kline_requests() == []
    monkeypatch.undo()
    assert_rows(
        offline(store).candles("binance", "BTC-USDT", "1m", t(0), t(99)).candles, rows(0, 99)
    )


def test_an_os_error_offline_does_not_call_the_file_corrupt(
    store: CandleStore, srv: ExchangeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    online(store, srv).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    monkeypatch.setattr(pq, "ParquetFile", too_many_open_files)
    with pytest.raises(DataError) as caught:
        offline(store).candles("binance", "BTC-USDT", "1m", t(0), t(99))
    message = str(caught.value)
    assert "--replace" not in message and "sets such a file aside" not in message


def test_an_access_pickles_without_its_clients_and_still_fetches(
    store: CandleStore, srv: ExchangeServer
) -> None:
    access = CandleAccess(
        store, client_factory=functools.partial(replay_client, srv.base_url), now=fixed_now
    )
    access.candles("binance", "BTC-USDT", "1m", t(0), t(99))
    assert access._clients  # a live ccxt client (sessions, locks): not picklable itself
    copy = pickle.loads(pickle.dumps(access))
    assert copy._clients == {} and access._clients
    assert copy.store.data_dir == store.data_dir
    srv.clear_requests()
    window = copy.candles("binance", "BTC-USDT", "1m", t(0), t(199))
    assert window.fetch is not None and window.fetch.asked == ((t(100), t(199)),)
    assert_rows(window.candles, rows(0, 199))
    assert [r.kind for r in srv.requests] == ["markets", "kline"]  # its own new client
    # A forked child (another pid) builds its own client too.
    old = access._clients["binance"]
    access._pid = -1
    access.candles("binance", "BTC-USDT", "1m", t(0), t(299))
    assert access._clients["binance"] is not old


def test_fill_refetch_asks_the_whole_window_again_and_replaces_changed_candles(
    store: CandleStore, srv: ExchangeServer
) -> None:
    srv.add_market("binance", "EDIT-USDT", *SOURCE)
    access = online(store, srv)
    access.candles("binance", "EDIT-USDT", "1m", t(0), t(199))
    corrected = [column.copy() for column in SOURCE]
    for column in corrected[1:5]:
        column[50:60] *= 1.01  # the exchange corrected ten candles
    srv.add_market("binance", "EDIT-USDT", *corrected)
    srv.clear_requests()
    assert access.fill("binance", "EDIT-USDT", "1m", t(0), t(199)).requests == 0
    assert_rows(store.load("binance", "EDIT-USDT", "1m"), rows(0, 199))
    report = access.fill("binance", "EDIT-USDT", "1m", t(0), t(199), refetch=True)
    assert report.asked == ((t(0), t(199)),) and report.rows == 200
    assert asked(srv) == [(t(0), t(199))]
    assert_rows(store.load("binance", "EDIT-USDT", "1m"), rows(0, 199, tuple(corrected)))
    assert store.coverage("binance", "EDIT-USDT", "1m") == [(t(0), t(199))]


def test_a_sparse_market_is_fetched_and_cached_then_read_without_requests(
    store: CandleStore, srv: ExchangeServer
) -> None:
    thin = tuple(column[:1000:2] for column in SOURCE)  # every other minute without trades
    srv.add_market("binance", "THIN-USDT", *thin)
    access = online(store, srv)
    window = access.candles("binance", "THIN-USDT", "1m", t(0), t(998))
    assert_rows(window.candles, thin)
    assert_rows(store.load("binance", "THIN-USDT", "1m"), thin)
    assert store.coverage("binance", "THIN-USDT", "1m") == [(t(0), t(998))]
    (note,) = window.warnings
    assert "499 gap(s) in the window, 499 candle(s) missing" in note
    srv.clear_requests()
    again = access.candles("binance", "THIN-USDT", "1m", t(0), t(998))
    assert srv.requests == [] and again.fetch is None
    assert_rows(again.candles, thin)


def test_resampling_needs_the_finer_candles_up_to_the_last_buckets_close(
    store: CandleStore,
) -> None:
    store.write("binance", "BTC-USDT", "1m", candles(0, 600).to_frame())  # 00:00 … 10:00
    with pytest.raises(DataMissingError) as caught:
        offline(store).candles("binance", "BTC-USDT", "1h", t(0), t(600))
    message = str(caught.value)
    # only the last hour lacks its fine candles, and only it is named
    assert "offline: the cache lacks binance BTC-USDT 1h candles" in message
    assert when(t(600), t(600)) in message and "--interval 1h" in message

    store.write("binance", "BTC-USDT", "1m", candles(601, 659).to_frame())  # … 10:59
    window = offline(store).candles("binance", "BTC-USDT", "1h", t(0), t(600))
    hours = window.candles
    assert hours.interval_s == 3600 and len(hours) == 11
    assert hours.ts.tolist() == [t(60 * h) for h in range(11)]
    last = rows(600, 659)
    assert (hours.open[-1], hours.close[-1]) == (last[1][0], last[4][-1])
    assert (hours.high[-1], hours.low[-1]) == (last[2].max(), last[3].min())
    assert hours.volume[-1] == pytest.approx(last[5].sum())
    assert window.warnings == ()


def test_resampling_a_window_ending_off_the_coarse_grid(store: CandleStore) -> None:
    store.write("binance", "BTC-USDT", "1m", candles(0, 599).to_frame())  # 00:00 … 09:59
    window = offline(store).candles("binance", "BTC-USDT", "3m", t(0), t(599))
    assert len(window.candles) == 200 and window.candles.ts[-1] == t(597)


def test_resampling_with_the_warm_up_missing_offline_is_a_warning(store: CandleStore) -> None:
    store.write("binance", "BTC-USDT", "1m", candles(60, 599).to_frame())  # 01:00 … 09:59
    window = offline(store).candles("binance", "BTC-USDT", "3m", t(60), t(597), warmup_bars=30)
    assert window.candles.ts[0] == t(60) and window.candles.ts[-1] == t(597)
    (note,) = window.warnings
    assert "later than asked" in note


def test_a_dataset_under_an_old_interval_name_is_found_by_a_run(store: CandleStore) -> None:
    old = store.data_dir / "candles" / "binance" / "BTC-USDT_60s.parquet"
    write_parquet(old, rows(0, 99), json.dumps([[t(0), t(99)]]).encode())
    assert store.path("binance", "BTC-USDT", "60s") == old  # the store alone finds it
    window = offline(store).candles("binance", "BTC-USDT", "60s", t(0), t(99))
    assert_rows(window.candles, rows(0, 99))
