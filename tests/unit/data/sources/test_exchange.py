"""ExchangeClient against the local replay server (real ccxt, no mocks), and the venue table.

Every venue the server speaks is read the same way: pages tile the window asked, their union is
the source row for row, faults are retried without losing or inventing a candle, and a budget
that runs out says what kept failing and where.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import pytest

from hbbacktest.core.errors import ConfigError, ExchangeError, ExchangeTemporaryError
from hbbacktest.core.time import format_time
from hbbacktest.data.candles import Candles
from hbbacktest.data.coverage import SETTLE_S, merge_ranges
from hbbacktest.data.sources.exchange import (
    ExchangeClient,
    Page,
    RetryPolicy,
    client_for,
    last_complete_open,
    override_urls,
)
from hbbacktest.data.sources.venues import (
    VENUES,
    Venue,
    check_exchange_urls,
    has_venue,
    venue,
)
from tests.kit.exchange_server import (
    ExchangeServer,
    Fault,
    built_candles,
    delay,
    empty_page,
    load_shared,
    rate_limit,
    repeat_previous,
    server_error,
    shared_available,
    truncated_json,
)

STEP = 60
N = 3000
LONG = 12_000  # twelve pages of 1000
SOURCE = built_candles(N, seed=11)
LONG_SOURCE = built_candles(LONG, seed=12)
TS = SOURCE[0]
NOW = int(TS[0]) + 20_000 * STEP  # every candle served has closed
HISTORY_ROW = 1200  # ETH-USDT is listed at this row
NOW_ROW = 2500  # SOL-USDT's clock stands 30 s into this row's candle
SOL_NOW = int(TS[NOW_ROW]) + 30
GAPS = {  # pair → the source rows it lacks
    "CROSS-USDT": slice(950, 1050),  # across the boundary of the first two pages
    "WIDE-USDT": slice(900, 2100),  # longer than a page
    "INNER-USDT": slice(1500, 1510),  # inside one page
}
KEYS = ("binance", "binance_perpetual", "bybit")
KLINE_START = {"binance": "startTime", "binance_perpetual": "startTime", "bybit": "start"}

NAMES = ("ts", "open", "high", "low", "close", "volume")

Columns = tuple[np.ndarray, ...]


def without(source: Columns, rows: slice) -> Columns:
    keep = np.ones(source[0].shape[0], dtype=bool)
    keep[rows] = False
    return tuple(column[keep] for column in source)


def between(source: Columns, first: int, last: int) -> Columns:
    inside = (source[0] >= first) & (source[0] <= last)
    return tuple(column[inside] for column in source)


def union(pages: Sequence[Page]) -> Candles:
    ts, o, h, low, c, v = (
        np.concatenate([getattr(page.candles, name) for page in pages]) for name in NAMES
    )
    return Candles(ts=ts, open=o, high=h, low=low, close=c, volume=v, interval_s=STEP)


def assert_rows(candles: Candles, source: Columns) -> None:
    """The candles are the source, row for row, every value exactly."""
    assert len(candles) == source[0].shape[0]
    for name, expected in zip(NAMES, source, strict=True):
        np.testing.assert_array_equal(getattr(candles, name), expected, err_msg=name)
    assert candles.ts.dtype == np.int64


def assert_tiles(pages: Sequence[Page], first: int, last: int) -> None:
    """Pages cover ``[first, last]`` once, in order, and hold only candles of their range."""
    assert pages, "no page"
    assert pages[0].start == first
    assert pages[-1].end == last
    for before, after in pairwise(pages):
        assert after.start == before.end + STEP, (before.start, before.end, after.start)
    for page in pages:
        assert page.start <= page.end
        assert page.candles.interval_s == STEP
        if len(page.candles):
            assert page.start <= page.candles.ts[0] and page.candles.ts[-1] <= page.end


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    srv = ExchangeServer()
    for key in KEYS:
        srv.add_market(key, "BTC-USDT", *SOURCE)
        srv.add_market(key, "LONG-USDT", *LONG_SOURCE)
        srv.add_market(key, "ETH-USDT", *SOURCE, history_start=int(TS[HISTORY_ROW]))
        srv.add_market(key, "SOL-USDT", *SOURCE, now_s=SOL_NOW)
        for pair, rows in GAPS.items():
            srv.add_market(key, pair, *without(SOURCE, rows))
    with srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def srv(server: ExchangeServer) -> ExchangeServer:
    """The module's server with no queued fault and an empty log."""
    return server.reset()


def make(
    srv: ExchangeServer,
    key: str,
    slept: list[float] | None = None,
    *,
    retry: RetryPolicy | None = None,
    now: float = NOW,
) -> ExchangeClient:
    return ExchangeClient(
        VENUES[key],
        base_url=srv.base_url,
        rate_limit=False,
        retry=retry or RetryPolicy(base_delay_s=0.01),
        sleep=(slept if slept is not None else []).append,
        now=lambda: now,
    )


def fetch_with_faults(
    srv: ExchangeServer, client: ExchangeClient, key: str, faults: Sequence[Fault], **kw: Any
) -> list[Page]:
    """Fetch all of BTC-USDT; ``faults`` hit the requests after the first page."""
    pages = client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1]))
    got = [next(pages)]
    for fault in faults:
        srv.inject(fault, venue=key, **kw)
    got += list(pages)
    return got


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_pages_tile_the_window_and_are_the_source_row_for_row(
    srv: ExchangeServer, key: str
) -> None:
    first, last = int(TS[17]), int(TS[2345])
    pages = list(make(srv, key).fetch("BTC-USDT", "1m", first, last))
    assert_tiles(pages, first, last)
    assert_rows(union(pages), between(SOURCE, first, last))
    kline = srv.kline_requests(key)
    assert len(kline) == 3 and all(r.status == 200 and r.fault is None for r in kline)


@pytest.mark.parametrize("key", KEYS)
def test_unaligned_start_begins_at_the_next_candle(srv: ExchangeServer, key: str) -> None:
    pages = list(make(srv, key).fetch("BTC-USDT", "1m", int(TS[5]) + 1, int(TS[9])))
    assert_tiles(pages, int(TS[6]), int(TS[9]))
    assert_rows(union(pages), between(SOURCE, int(TS[6]), int(TS[9])))


@pytest.mark.parametrize("key", KEYS)
def test_pagination_across_many_pages(srv: ExchangeServer, key: str) -> None:
    first, last = int(LONG_SOURCE[0][0]), int(LONG_SOURCE[0][-1])
    pages = list(make(srv, key).fetch("LONG-USDT", "1m", first, last))
    assert len(pages) == LONG // 1000
    assert [len(p.candles) for p in pages] == [1000] * (LONG // 1000)
    assert_tiles(pages, first, last)
    assert_rows(union(pages), LONG_SOURCE)
    asked = [int(r.params[KLINE_START[key]]) // 1000 for r in srv.kline_requests(key)]
    assert asked == [p.start for p in pages]  # one request per page, none repeated


def test_a_window_of_forming_candles_only_asks_nothing(srv: ExchangeServer) -> None:
    client = make(srv, "binance", now=SOL_NOW)
    assert list(client.fetch("SOL-USDT", "1m", int(TS[NOW_ROW]), int(TS[NOW_ROW]) + 600)) == []
    assert srv.kline_requests() == []


def test_last_complete_open() -> None:
    assert last_complete_open(120, 60) == 60  # the candle opened at 120 is forming
    assert last_complete_open(179.9, 60) == 60
    assert last_complete_open(180, 60) == 120


# --------------------------------------------------------------------------------------------
# Faults
# --------------------------------------------------------------------------------------------

FAULTS: dict[str, list[Fault]] = {
    "rate_limit": [rate_limit(2)],
    "server_errors": [server_error(500), server_error(503), server_error(502)],
    "empty_page": [empty_page()],
    "truncated_json": [truncated_json(keep=0.3)],
    "truncated_json_early_cut": [truncated_json(keep=0.02)],
    "repeat_previous": [repeat_previous()],
    "several_in_a_row": [
        rate_limit(1),
        server_error(502),
        truncated_json(keep=0.2),
        repeat_previous(),  # the truncated body again
        empty_page(),
        server_error(503),  # on the request that confirms the empty answer
    ],
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize("key", KEYS)
def test_faults_mid_fetch_still_give_exactly_the_source(
    srv: ExchangeServer, key: str, faults: list[Fault]
) -> None:
    slept: list[float] = []
    pages = fetch_with_faults(srv, make(srv, key, slept), key, faults)
    assert_tiles(pages, int(TS[0]), int(TS[-1]))
    assert_rows(union(pages), SOURCE)
    assert all(len(p.candles) for p in pages), "a fault became a gap"
    assert srv.pending_faults() == 0
    applied = [r.fault for r in srv.kline_requests(key) if r.fault is not None]
    assert applied == [f.kind for f in faults]
    retried = sum(f.kind in ("rate_limit", "server_error", "truncated_json") for f in faults)
    assert len(slept) >= retried


@pytest.mark.parametrize("key", KEYS)
def test_a_repeated_page_then_an_empty_answer_loses_no_row(srv: ExchangeServer, key: str) -> None:
    pages = fetch_with_faults(srv, make(srv, key), key, [repeat_previous(), empty_page()])
    assert_rows(union(pages), SOURCE)


@pytest.mark.parametrize("key", KEYS)
def test_rate_limit_waits_at_least_retry_after(srv: ExchangeServer, key: str) -> None:
    slept: list[float] = []
    srv.inject(rate_limit(retry_after_s=7), venue=key)
    pages = list(make(srv, key, slept).fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert_rows(union(pages), SOURCE)
    assert slept and slept[0] >= 7
    first = srv.kline_requests(key)[0]
    assert (first.status, first.fault) == (429 if "binance" in key else 403, "rate_limit")


def test_bybit_rate_limit_inside_a_200_answer_is_retried(srv: ExchangeServer) -> None:
    slept: list[float] = []
    srv.inject(rate_limit(retry_after_s=3, status=200), venue="bybit")
    pages = list(make(srv, "bybit", slept).fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert_rows(union(pages), SOURCE)
    assert slept and slept[0] >= 3


@pytest.mark.parametrize("key", KEYS)
def test_a_timeout_is_retried(srv: ExchangeServer, key: str) -> None:
    client = make(srv, key, retry=RetryPolicy(base_delay_s=0.01, timeout_s=0.15))
    pages = fetch_with_faults(srv, client, key, [delay(0.4)])
    assert_rows(union(pages), SOURCE)
    assert [r.fault for r in srv.kline_requests(key)].count("delay") == 1


@pytest.mark.parametrize("key", KEYS)
def test_a_spent_budget_names_connector_pair_interval_and_window(
    srv: ExchangeServer, key: str
) -> None:
    slept: list[float] = []
    client = make(srv, key, slept, retry=RetryPolicy(attempts=3, base_delay_s=0.01))
    srv.inject(server_error(), venue=key, times=100)
    with pytest.raises(ExchangeTemporaryError) as caught:
        list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1])))
    message = str(caught.value)
    assert key in message and "BTC-USDT" in message and " 1m " in message
    assert f"{format_time(int(TS[0]))} – {format_time(int(TS[999]))} UTC" in message
    assert "3 times" in message and "500" in message
    assert len(srv.kline_requests(key)) == 3
    assert slept == [0.01, 0.02]  # no wait after the last try


@pytest.mark.parametrize("key", KEYS)
def test_a_retry_after_beyond_the_total_wait_gives_up_at_once(
    srv: ExchangeServer, key: str
) -> None:
    slept: list[float] = []
    client = make(srv, key, slept, retry=RetryPolicy(base_delay_s=0.01, max_total_wait_s=5))
    srv.inject(rate_limit(retry_after_s=60), venue=key)
    with pytest.raises(ExchangeTemporaryError, match=r"asked to wait 60 s") as caught:
        list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert "5 s retry budget" in str(caught.value) and key in str(caught.value)
    assert slept == []
    assert len(srv.kline_requests(key)) == 1


def test_the_total_wait_is_spent_over_all_requests_of_a_fetch(srv: ExchangeServer) -> None:
    slept: list[float] = []
    client = make(srv, "binance", slept, retry=RetryPolicy(base_delay_s=0.01, max_total_wait_s=5))
    with pytest.raises(ExchangeTemporaryError, match="retry budget"):
        fetch_with_faults(srv, client, "binance", [rate_limit(3), rate_limit(3)])
    assert slept == [3.0]


def test_each_fetch_gets_its_own_wait_budget(srv: ExchangeServer) -> None:
    slept: list[float] = []
    client = make(srv, "binance", slept, retry=RetryPolicy(base_delay_s=0.01, max_total_wait_s=5))
    for _ in range(2):
        srv.inject(rate_limit(3), venue="binance")
        pages = list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[99])))
        assert_rows(union(pages), between(SOURCE, int(TS[0]), int(TS[99])))
    assert slept == [3.0, 3.0]


# --------------------------------------------------------------------------------------------
# Real gaps, short history, the candle in progress
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", ["CROSS-USDT", "WIDE-USDT"])
@pytest.mark.parametrize("key", KEYS)
def test_a_real_gap_is_an_empty_page_covering_exactly_the_gap(
    srv: ExchangeServer, key: str, pair: str
) -> None:
    rows = GAPS[pair]
    pages = list(make(srv, key).fetch(pair, "1m", int(TS[0]), int(TS[-1])))
    assert_tiles(pages, int(TS[0]), int(TS[-1]))
    assert_rows(union(pages), without(SOURCE, rows))  # nothing invented, nothing lost
    empty = [(p.start, p.end) for p in pages if not len(p.candles)]
    assert merge_ranges(empty, STEP) == [(int(TS[rows.start]), int(TS[rows.stop - 1]))]


@pytest.mark.parametrize("key", KEYS)
def test_a_gap_inside_a_page_stays_inside_it(srv: ExchangeServer, key: str) -> None:
    rows = GAPS["INNER-USDT"]
    pages = list(make(srv, key).fetch("INNER-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert_tiles(pages, int(TS[0]), int(TS[-1]))
    assert_rows(union(pages), without(SOURCE, rows))
    assert all(len(p.candles) for p in pages)


@pytest.mark.parametrize("key", KEYS)
def test_a_window_ending_inside_a_gap_ends_with_an_empty_page(
    srv: ExchangeServer, key: str
) -> None:
    pages = list(make(srv, key).fetch("CROSS-USDT", "1m", int(TS[0]), int(TS[1000])))
    assert_tiles(pages, int(TS[0]), int(TS[1000]))
    assert (pages[-1].start, pages[-1].end, len(pages[-1].candles)) == (
        int(TS[950]),
        int(TS[1000]),
        0,
    )
    assert_rows(union(pages), between(SOURCE, int(TS[0]), int(TS[949])))


@pytest.mark.parametrize("key", KEYS)
def test_short_history_gives_empty_pages_before_it_and_the_data_after(
    srv: ExchangeServer, key: str
) -> None:
    pages = list(make(srv, key).fetch("ETH-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert_tiles(pages, int(TS[0]), int(TS[-1]))
    listed = int(TS[HISTORY_ROW])
    empty = [(p.start, p.end) for p in pages if not len(p.candles)]
    assert merge_ranges(empty, STEP) == [(int(TS[0]), listed - STEP)]
    assert all(p.end < listed for p in pages if not len(p.candles))
    assert_rows(union(pages), between(SOURCE, listed, int(TS[-1])))


@pytest.mark.parametrize("key", KEYS)
def test_the_forming_candle_is_never_returned(srv: ExchangeServer, key: str) -> None:
    client = make(srv, key, now=SOL_NOW)
    pages = list(client.fetch("SOL-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert_tiles(pages, int(TS[0]), int(TS[NOW_ROW - 1]))  # cut at the last complete candle
    assert_rows(union(pages), between(SOURCE, int(TS[0]), int(TS[NOW_ROW - 1])))
    # the server does serve the forming candle (partial) to whoever asks for it
    assert any(r.rows for r in srv.kline_requests(key))


# --------------------------------------------------------------------------------------------
# Names: markets, intervals, connectors
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_unknown_pair_is_a_config_error_with_did_you_mean(srv: ExchangeServer, key: str) -> None:
    with pytest.raises(ConfigError, match="did you mean") as caught:
        list(make(srv, key).fetch("BTC-USDX", "1m", int(TS[0]), int(TS[9])))
    message = str(caught.value)
    assert "BTC-USDX" in message and VENUES[key].symbol("BTC-USDT") in message
    assert srv.kline_requests() == []


@pytest.mark.parametrize("key", KEYS)
def test_unsupported_interval_lists_the_intervals(srv: ExchangeServer, key: str) -> None:
    with pytest.raises(ConfigError, match="serves no 7m candles") as caught:
        list(make(srv, key).fetch("BTC-USDT", "7m", int(TS[0]), int(TS[9])))
    assert "1m, 3m, 5m, 15m" in str(caught.value)
    assert srv.kline_requests() == []


def test_markets_are_loaded_once_per_client(srv: ExchangeServer) -> None:
    client = make(srv, "binance")
    for _ in range(2):
        list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[9])))
    assert [r.kind for r in srv.requests] == ["markets", "kline", "kline"]
    assert client.requests == 3


EXPECTED_SYMBOLS = {
    "binance": "BTC/USDT",
    "binance_perpetual": "BTC/USDT:USDT",
    "bitget": "BTC/USDT",
    "bitget_perpetual": "BTC/USDT:USDT",
    "bybit": "BTC/USDT",
    "bybit_perpetual": "BTC/USDT:USDT",
    "coinbase_advanced_trade": "BTC/USDT",
    "gate_io": "BTC/USDT",
    "gate_io_perpetual": "BTC/USDT:USDT",
    "hyperliquid": "BTC/USDT",
    "hyperliquid_perpetual": "BTC/USDT:USDT",
    "kraken": "BTC/USDT",
    "kucoin": "BTC/USDT",
    "kucoin_perpetual": "BTC/USDT:USDT",
    "mexc": "BTC/USDT",
    "okx": "BTC/USDT",
    "okx_perpetual": "BTC/USDT:USDT",
}


def test_every_connector_has_an_expected_symbol() -> None:
    assert sorted(EXPECTED_SYMBOLS) == sorted(VENUES)
    assert list(VENUES) == sorted(VENUES)  # the table is kept sorted


@pytest.mark.parametrize("connector", sorted(VENUES))
def test_venue_symbol(connector: str) -> None:
    found = venue(connector)
    assert found.connector == connector and has_venue(connector)
    assert found.symbol("BTC-USDT") == EXPECTED_SYMBOLS[connector]
    assert found.symbol("btc-usdt") == EXPECTED_SYMBOLS[connector]


def test_hyperliquid_perpetual_quotes_usd_in_usdc() -> None:
    assert venue("hyperliquid_perpetual").symbol("BTC-USD") == "BTC/USDC:USDC"
    assert venue("hyperliquid").symbol("HYPE-USDC") == "HYPE/USDC"


def test_unknown_connector_lists_the_supported_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        venue("binanse")
    message = str(caught.value)
    assert "did you mean 'binance'" in message
    assert all(name in message for name in VENUES)
    assert "--candles-connector" in message and not has_venue("xrpl")


def test_exchange_url_overrides_for_unknown_connectors_are_refused() -> None:
    check_exchange_urls({"binance": "http://127.0.0.1:1", "okx": "http://127.0.0.1:2"})
    with pytest.raises(ConfigError, match=r"'bybitt'.*did you mean 'bybit'"):
        check_exchange_urls({"bybitt": "http://127.0.0.1:1"})


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@pytest.mark.parametrize("connector", sorted(VENUES))
def test_every_venue_builds_its_ccxt_exchange(connector: str) -> None:
    """No network: a wrong ccxt id or option in the table fails here."""
    base = "http://127.0.0.1:9"
    client = ExchangeClient(VENUES[connector], base_url=base + "/", rate_limit=False)
    assert client.page_limit() > 0
    urls = list(_strings(client._exchange.urls["api"]))
    assert urls, "no API URL to override"
    assert [u for u in urls if not (u == base or u.startswith(base + "/"))] == []
    assert client.name == f"{connector} (at {base}/)"


def test_client_for_takes_the_base_url_the_table_names() -> None:
    urls = {"bybit": "http://127.0.0.1:9"}
    assert client_for(VENUES["bybit"], urls=urls).base_url == "http://127.0.0.1:9"
    assert client_for(VENUES["binance"], urls=urls).base_url is None


# --------------------------------------------------------------------------------------------
# override_urls
# --------------------------------------------------------------------------------------------


def test_override_urls_keeps_paths_and_walks_nested_dicts() -> None:
    api = {
        "public": "https://api.binance.com/api/v3",
        "fapi": {"public": "https://fapi.binance.com/fapi/v1", "private": "https://x.io"},
        "weight": 3,
    }
    assert override_urls(api, "http://127.0.0.1:9") == {
        "public": "http://127.0.0.1:9/api/v3",
        "fapi": {"public": "http://127.0.0.1:9/fapi/v1", "private": "http://127.0.0.1:9"},
        "weight": 3,
    }


def test_override_urls_replaces_hostname_templates_whole() -> None:
    api = {"spot": "https://api.{hostname}/v5", "ws": "wss://stream.{hostname}/x?y=z"}
    assert override_urls(api, "http://127.0.0.1:9") == {
        "spot": "http://127.0.0.1:9/v5",
        "ws": "http://127.0.0.1:9/x?y=z",
    }


@pytest.mark.parametrize("base", ["http://127.0.0.1:9", "http://127.0.0.1:9/", "http://h:1//"])
def test_override_urls_ignores_a_trailing_slash(base: str) -> None:
    got = override_urls("https://api.x.com/v1/klines", base)
    assert got == base.rstrip("/") + "/v1/klines"
    assert "//v1" not in got


def test_override_urls_leaves_other_values_alone() -> None:
    assert override_urls(None, "http://h:1") is None
    assert override_urls("relative/path", "http://h:1") == "relative/path"


# --------------------------------------------------------------------------------------------
# Real candles
# --------------------------------------------------------------------------------------------

REAL = "binance_BTC-USDT_1m_20230316_20230501.parquet"  # 80 candles missing after a halt


@pytest.mark.skipif(not shared_available(REAL), reason="../shared/data/candles is absent")
def test_real_candles_come_back_row_for_row_across_the_halt() -> None:
    whole = load_shared(REAL)
    halt = int(np.flatnonzero(np.diff(whole[0]) > STEP)[0])
    # the halt starts right after the first page, so it is a page of its own
    source = tuple(column[halt - 999 : halt + 3001] for column in whole)
    first, last = int(source[0][0]), int(source[0][-1])
    with ExchangeServer() as real:
        for key in KEYS:
            real.add_market(key, "BTC-USDT", *source)
        for key in KEYS:
            client = ExchangeClient(
                VENUES[key],
                base_url=real.base_url,
                rate_limit=False,
                sleep=lambda _: None,
                now=lambda: last + 3600,
            )
            pages = list(client.fetch("BTC-USDT", "1m", first, last))
            assert_tiles(pages, first, last)
            assert_rows(union(pages), source)
            empty = [(p.start, p.end) for p in pages if not len(p.candles)]
            assert empty == [(int(source[0][999]) + STEP, int(source[0][1000]) - STEP)]
        assert real.errors == []


# --------------------------------------------------------------------------------------------
# Review fixes: settled candles, out-of-window answers, short pages, refusals, wait budget
# --------------------------------------------------------------------------------------------


class StubOhlcv:
    """Stands in for ccxt's ``fetch_ohlcv``: the source's candles, a few per call.

    Answers at most ``per_call`` (else ``limit``) candles at or after ``since`` and, unless
    ``ignore_until``, at or before ``params['until']``: the oldest of them, or the newest
    with ``newest`` (as an exchange paging backwards does).
    """

    def __init__(
        self,
        source: Columns,
        *,
        per_call: int | None = None,
        newest: bool = False,
        ignore_until: bool = False,
    ) -> None:
        self.rows = np.column_stack([column.astype(np.float64) for column in source])
        self.per_call = per_call
        self.newest = newest
        self.ignore_until = ignore_until
        self.calls: list[tuple[int, int | None]] = []

    def __call__(
        self,
        symbol: str,
        timeframe: str,
        since: int,
        limit: int,
        params: dict[str, Any] | None = None,
    ) -> list[list[float]]:
        until = (params or {}).get("until")
        self.calls.append((since // 1000, None if until is None else until // 1000))
        ts = self.rows[:, 0] * 1000
        keep = ts >= since
        if until is not None and not self.ignore_until:
            keep &= ts <= until
        picked = self.rows[keep]
        count = min(limit, self.per_call or limit)
        picked = picked[-count:] if self.newest else picked[:count]
        return [[int(row[0]) * 1000, *(float(x) for x in row[1:])] for row in picked]


def client_of(
    srv: ExchangeServer,
    found: Venue,
    slept: list[float] | None = None,
    *,
    retry: RetryPolicy | None = None,
    now: float = NOW,
    stub: StubOhlcv | None = None,
    base_url: str | None = None,
) -> ExchangeClient:
    """A client for any venue row; with ``stub``, candles come from it (markets from srv)."""
    client = ExchangeClient(
        found,
        base_url=base_url or srv.base_url,
        rate_limit=False,
        retry=retry or RetryPolicy(base_delay_s=0.01),
        sleep=(slept if slept is not None else []).append,
        now=lambda: now,
    )
    if stub is not None:
        client._exchange.fetch_ohlcv = stub
    return client


@pytest.mark.parametrize("key", KEYS)
def test_a_candle_is_fetched_only_once_settled(srv: ExchangeServer, key: str) -> None:
    candle = int(TS[100])
    closed = candle + STEP
    assert SETTLE_S == 30
    early = list(make(srv, key, now=closed + 10).fetch("BTC-USDT", "1m", int(TS[0]), candle))
    assert_tiles(early, int(TS[0]), int(TS[99]))  # closed 10 s ago: not final yet
    assert_rows(union(early), between(SOURCE, int(TS[0]), int(TS[99])))
    late = list(make(srv, key, now=closed + 40).fetch("BTC-USDT", "1m", int(TS[0]), candle))
    assert_tiles(late, int(TS[0]), candle)
    assert_rows(union(late), between(SOURCE, int(TS[0]), candle))


@pytest.mark.parametrize("key", KEYS)
def test_the_two_newest_slots_are_never_recorded_as_a_gap(srv: ExchangeServer, key: str) -> None:
    # The clock makes TS[101] the newest settled candle; the exchange has published nothing
    # since TS[96] yet (TS[97] … TS[101] missing).
    now = int(TS[102]) + SETTLE_S  # TS[101] closed SETTLE_S ago
    srv.add_market(key, "RECENT-USDT", *between(SOURCE, int(TS[0]), int(TS[96])))
    pages = list(make(srv, key, now=now).fetch("RECENT-USDT", "1m", int(TS[0]), int(TS[150])))
    assert_tiles(pages, int(TS[0]), int(TS[99]))  # not to TS[101]
    empty = [(p.start, p.end) for p in pages if not len(p.candles)]
    assert empty == [(int(TS[97]), int(TS[99]))]  # older slots are a confirmed gap
    assert_rows(union(pages), between(SOURCE, int(TS[0]), int(TS[96])))
    # The exchange publishes late; asked again later, the two newest slots come back.
    srv.add_market(key, "RECENT-USDT", *SOURCE)
    later = make(srv, key, now=now + 600).fetch("RECENT-USDT", "1m", int(TS[100]), int(TS[101]))
    assert_rows(union(list(later)), between(SOURCE, int(TS[100]), int(TS[101])))


def test_a_venue_not_paging_forwards_answering_after_the_window_is_refused(
    srv: ExchangeServer,
) -> None:
    """Bybit pages backwards: candles after the window are a wrong answer, not "no data"."""
    listed = int(TS[HISTORY_ROW])
    stub = StubOhlcv(between(SOURCE, listed, int(TS[-1])), ignore_until=True)
    slept: list[float] = []
    client = client_of(srv, venue("bybit"), slept, stub=stub)
    assert not venue("bybit").forward_paging
    pages: list[Page] = []
    with pytest.raises(ExchangeError, match="outside that window") as caught:
        pages.extend(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert type(caught.value) is ExchangeError  # not a temporary error: retrying cannot help
    assert "bybit BTC-USDT 1m" in str(caught.value)
    assert pages == []  # no gap recorded before the listing
    assert len(stub.calls) == RetryPolicy().attempts  # retried, then refused
    assert len(slept) == RetryPolicy().attempts - 1


def test_a_forward_paging_venue_with_data_starting_later_records_the_gap_and_continues(
    srv: ExchangeServer,
) -> None:
    listed = int(TS[HISTORY_ROW])
    stub = StubOhlcv(between(SOURCE, listed, int(TS[-1])), ignore_until=True)
    slept: list[float] = []
    client = client_of(srv, venue("binance"), slept, stub=stub)
    pages = list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[1500])))
    assert_tiles(pages, int(TS[0]), int(TS[1500]))
    assert [(p.start, p.end, len(p.candles)) for p in pages] == [
        (int(TS[0]), listed - STEP, 0),
        (listed, int(TS[1500]), 301),
    ]
    assert_rows(union(pages), between(SOURCE, listed, int(TS[1500])))
    assert slept == [] and len(stub.calls) == 3


def test_a_page_limit_above_what_the_exchange_answers_still_gives_every_row(
    srv: ExchangeServer,
) -> None:
    wide = dataclasses.replace(venue("binance"), page_limit=1500)  # ccxt asks for 1000 at most
    first, last = int(LONG_SOURCE[0][0]), int(LONG_SOURCE[0][-1])
    pages = list(client_of(srv, wide).fetch("LONG-USDT", "1m", first, last))
    assert_tiles(pages, first, last)
    assert_rows(union(pages), LONG_SOURCE)
    kline = srv.kline_requests("binance")
    assert {r.params["limit"] for r in kline} == {"1000"}
    assert len(kline) == LONG // 1000  # each short answer continues after its last candle


@pytest.mark.parametrize("key", ["binance", "bybit"])
@pytest.mark.parametrize("per_call", [1, 2])
def test_an_exchange_answering_a_few_rows_per_request_still_gives_every_row(
    srv: ExchangeServer, key: str, per_call: int
) -> None:
    first, last = int(TS[0]), int(TS[59])
    stub = StubOhlcv(SOURCE, per_call=per_call, newest=key == "bybit")
    pages = list(client_of(srv, venue(key), stub=stub).fetch("BTC-USDT", "1m", first, last))
    assert_tiles(pages, first, last)
    assert_rows(union(pages), between(SOURCE, first, last))
    assert len(stub.calls) == 60 // per_call
    assert all(len(p.candles) == per_call for p in pages)


@pytest.mark.parametrize("key", ["binance", "bybit"])
def test_an_exchange_answering_one_row_per_request_hits_the_request_cap(
    srv: ExchangeServer, key: str
) -> None:
    stub = StubOhlcv(SOURCE, per_call=1, newest=key == "bybit")
    client = client_of(srv, venue(key), stub=stub)
    with pytest.raises(ExchangeError, match="page size is smaller than its table entry") as caught:
        list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[-1])))
    assert f"{key} (at {srv.base_url}) answered BTC-USDT 1m candles" in str(caught.value)
    assert 100 < len(stub.calls) < 300  # capped long before 3000 one-row requests


def test_a_wrong_base_url_path_is_an_http_404_at_once(srv: ExchangeServer) -> None:
    slept: list[float] = []
    client = client_of(srv, venue("binance"), slept, base_url=srv.base_url + "/wrong/prefix")
    with pytest.raises(ExchangeError) as caught:
        list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[9])))
    message = str(caught.value)
    assert type(caught.value) is ExchangeError
    assert "HTTP 404" in message and "HBBACKTEST_EXCHANGE_URLS" in message
    assert "/wrong/prefix/api/v3/exchangeInfo" in message
    assert slept == [] and client.requests == 1
    assert [r.path for r in srv.requests] == ["/wrong/prefix/api/v3/exchangeInfo"]


@pytest.mark.parametrize(
    "key, status",
    [("binance", 403), ("binance", 451), ("binance_perpetual", 451), ("bybit", 451)],
)
def test_a_location_refusal_names_proxy_and_import_without_retrying(
    srv: ExchangeServer, key: str, status: int
) -> None:
    slept: list[float] = []
    srv.inject(server_error(status), venue=key, times=10)
    with pytest.raises(ExchangeError) as caught:
        list(make(srv, key, slept).fetch("BTC-USDT", "1m", int(TS[0]), int(TS[9])))
    message = str(caught.value)
    assert type(caught.value) is ExchangeError
    assert f"HTTP {status}" in message
    assert "proxy with HBBACKTEST_EXCHANGE_URLS" in message
    assert "hbbacktest data import" in message
    assert slept == [] and len(srv.kline_requests(key)) == 1


@pytest.mark.parametrize("status", [500, 503, 408])
def test_server_errors_and_request_timeouts_are_still_retried(
    srv: ExchangeServer, status: int
) -> None:
    slept: list[float] = []
    client = make(srv, "binance", slept, retry=RetryPolicy(attempts=3, base_delay_s=0.01))
    srv.inject(server_error(status), venue="binance", times=10)
    with pytest.raises(ExchangeTemporaryError, match="failed 3 times"):
        list(client.fetch("BTC-USDT", "1m", int(TS[0]), int(TS[9])))
    assert slept == [0.01, 0.02] and len(srv.kline_requests("binance")) == 3


@pytest.mark.parametrize("interval", ["1w", "3d"])
def test_intervals_longer_than_a_day_are_refused_before_any_request(
    srv: ExchangeServer, interval: str
) -> None:
    with pytest.raises(ConfigError, match=f"fetching {interval} candles is not supported"):
        list(make(srv, "binance").fetch("BTC-USDT", interval, int(TS[0]), int(TS[-1])))
    assert srv.requests == []


def test_one_wait_budget_over_every_range_of_a_fetch_and_fetch_resets_it(
    srv: ExchangeServer,
) -> None:
    slept: list[float] = []
    client = make(srv, "binance", slept, retry=RetryPolicy(base_delay_s=0.01, max_total_wait_s=5))
    ranges = [(int(TS[0]), int(TS[99])), (int(TS[500]), int(TS[599]))]
    srv.inject(rate_limit(3), venue="binance")
    pages = client.fetch_ranges("BTC-USDT", "1m", ranges)
    first = next(pages)
    assert (first.start, first.end) == ranges[0]
    srv.inject(rate_limit(3), venue="binance")  # the first request of the second range
    with pytest.raises(ExchangeTemporaryError, match="would pass the 5 s retry budget"):
        list(pages)
    assert slept == [3.0]
    # A new fetch starts with the whole budget again.
    srv.inject(rate_limit(3), venue="binance")
    again = list(client.fetch("BTC-USDT", "1m", *ranges[1]))
    assert_rows(union(again), between(SOURCE, *ranges[1]))
    assert slept == [3.0, 3.0]
