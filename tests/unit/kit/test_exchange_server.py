"""The exchange replay server, checked with real ccxt (no mocks) on every venue it serves.

Each venue's ccxt client is built exactly as the project builds it (``VENUES``: the ccxt class
and its ``fetchMarkets`` restriction), then pointed at the server by replacing the scheme and
host of every URL in ``exchange.urls['api']``.
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import time
from collections.abc import Iterator
from typing import Any

import ccxt
import numpy as np
import pytest

from hbbacktest.data.sources.venues import VENUES
from tests.kit.exchange_server import (
    VENUE_KEYS,
    ExchangeServer,
    built_candles,
    delay,
    empty_page,
    load_shared,
    loopback_only,
    override_api_urls,
    rate_limit,
    repeat_previous,
    server_error,
    shared_available,
    truncated_json,
)

MIN = 60_000  # one minute in ms
N = 3000
GAP = slice(1500, 1510)  # ten candles missing from the source
HISTORY_FROM = 100  # the ETH-USDT markets start at this row
NOW_ROW = 50  # the SOL-USDT markets' clock stands 30 s into this row's candle

_TS, _O, _H, _L, _C, _V = built_candles(N + GAP.stop - GAP.start, seed=7)
_KEEP = np.ones(_TS.shape[0], dtype=bool)
_KEEP[GAP] = False
SOURCE = tuple(a[_KEEP] for a in (_TS, _O, _H, _L, _C, _V))
TS = SOURCE[0]
NOW_S = int(TS[NOW_ROW]) + 30

KLINE_PATH = {
    "binance": "/api/v3/klines",
    "binance_perpetual": "/fapi/v1/klines",
    "bybit": "/v5/market/kline",
    "bybit_perpetual": "/v5/market/kline",
}
BINANCE = ("binance", "binance_perpetual")
BYBIT = ("bybit", "bybit_perpetual")


def rows_of(lo: int, hi: int, source: tuple[np.ndarray, ...] = SOURCE) -> list[list[float]]:
    """The source rows ``[lo, hi)`` as ccxt returns them."""
    ts, o, h, l, c, v = (a[lo:hi] for a in source)
    return [[int(t) * 1000, *map(float, x)] for t, *x in zip(ts, o, h, l, c, v, strict=True)]


@pytest.fixture(autouse=True)
def _no_internet() -> Iterator[None]:
    with loopback_only():
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    srv = ExchangeServer()
    for key in VENUE_KEYS:
        srv.add_market(key, "BTC-USDT", *SOURCE)
        srv.add_market(key, "ETH-USDT", *SOURCE, history_start=int(TS[HISTORY_FROM]))
        srv.add_market(key, "SOL-USDT", *SOURCE, now_s=NOW_S)
    with srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def srv(server: ExchangeServer) -> ExchangeServer:
    """The module's server with no queued fault and an empty log."""
    return server.reset()


def client(srv: ExchangeServer, key: str, *, timeout_ms: int = 3000) -> Any:
    """A ccxt exchange set up as the project sets it up for this venue, pointed at ``srv``."""
    venue = VENUES[key]
    exchange = getattr(ccxt, venue.ccxt_id)(
        {"enableRateLimit": False, "timeout": timeout_ms, "options": venue.options}
    )
    exchange.urls["api"] = override_api_urls(exchange.urls["api"], srv.base_url)
    return exchange


def loaded(srv: ExchangeServer, key: str, **kwargs: Any) -> tuple[Any, str]:
    exchange = client(srv, key, **kwargs)
    exchange.load_markets()
    srv.clear_requests()
    return exchange, VENUES[key].symbol("BTC-USDT")


def raw_get(srv: ExchangeServer, path: str, **params: Any) -> tuple[int, dict[str, str], bytes]:
    """One plain HTTP GET (to see exactly what the server answers)."""
    host, port = srv.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        conn.request("GET", f"{path}?{query}")
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def kline_params(key: str, **given: Any) -> dict[str, Any]:
    """Raw kline query parameters in the venue's own names (``start``/``end`` in ms)."""
    out: dict[str, Any] = {"symbol": given.pop("symbol", "BTCUSDT")}
    if key in BINANCE:
        out["interval"] = given.pop("interval", "1m")
        names = {"start": "startTime", "end": "endTime"}
    else:
        out["interval"] = given.pop("interval", "1")
        out["category"] = "spot" if key == "bybit" else "linear"
        names = {}
    out.update({names.get(k, k): v for k, v in given.items()})
    return out


# --------------------------------------------------------------------------------------------
# Markets
# --------------------------------------------------------------------------------------------

EXPECTED_MARKET_REQUESTS = {
    "binance": [("/api/v3/exchangeInfo", {})],
    "binance_perpetual": [("/fapi/v1/exchangeInfo", {})],
    "bybit": [("/v5/market/instruments-info", {"category": "spot"})],
    "bybit_perpetual": [
        ("/v5/market/instruments-info", {"category": "linear", "limit": "1000"}),
        (
            "/v5/market/instruments-info",
            {"category": "linear", "limit": "1000", "status": "PreLaunch"},
        ),
    ],
}


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_load_markets_asks_for_one_market_type_and_parses(srv: ExchangeServer, key: str) -> None:
    exchange = client(srv, key)
    markets = exchange.load_markets()
    symbol = VENUES[key].symbol("BTC-USDT")
    assert sorted(markets) == sorted(
        VENUES[key].symbol(p) for p in ("BTC-USDT", "ETH-USDT", "SOL-USDT")
    )
    market = markets[symbol]
    assert market["id"] == "BTCUSDT"
    assert market["active"] is True
    if VENUES[key].kind == "spot":
        assert market["spot"] and market["type"] == "spot"
    else:
        assert market["swap"] and market["linear"] and market["settle"] == "USDT"
        assert market["contractSize"] == 1
    assert market["precision"]["price"] == 0.01  # guessed from the prices' decimals
    assert [(r.path, r.params) for r in srv.requests] == EXPECTED_MARKET_REQUESTS[key]
    assert {r.venue for r in srv.requests} == {key}
    assert all(r.kind == "markets" and r.status == 200 for r in srv.requests)


def test_perpetual_listing_time_is_the_first_served_candle(srv: ExchangeServer) -> None:
    for key in ("binance_perpetual", "bybit_perpetual"):
        markets = client(srv, key).load_markets()
        assert markets["BTC/USDT:USDT"]["created"] == int(TS[0]) * 1000
        assert markets["ETH/USDT:USDT"]["created"] == int(TS[HISTORY_FROM]) * 1000


def test_unrestricted_ccxt_fails_loudly_instead_of_loading_other_market_types(
    srv: ExchangeServer,
) -> None:
    exchange = ccxt.binance({"enableRateLimit": False, "timeout": 3000})
    exchange.urls["api"] = override_api_urls(exchange.urls["api"], srv.base_url)
    with pytest.raises(ccxt.ExchangeNotAvailable, match="404"):
        exchange.load_markets()  # spot + linear + inverse by default: /dapi/v1/... is not served
    assert srv.requests[-1].path == "/dapi/v1/exchangeInfo"
    assert srv.requests[-1].status == 404 and srv.requests[-1].venue is None


def test_bybit_instrument_pages_are_followed_through_the_cursor() -> None:
    with ExchangeServer(instruments_page_size=1) as paged:
        for pair in ("BTC-USDT", "ETH-USDT", "SOL-USDT"):
            paged.add_market("bybit_perpetual", pair, *built_candles(5))
        markets = client(paged, "bybit_perpetual").load_markets()
        assert sorted(markets) == ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
        cursors = [r.params.get("cursor") for r in paged.requests]
        assert cursors == [None, None, "1", "2"]  # first page, PreLaunch, two more pages
        assert paged.errors == []


# --------------------------------------------------------------------------------------------
# Candles
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_fetch_ohlcv_returns_exactly_the_source_rows(srv: ExchangeServer, key: str) -> None:
    exchange, symbol = loaded(srv, key)
    got = exchange.fetch_ohlcv(symbol, "1m", since=int(TS[10]) * 1000, limit=700)
    assert got == rows_of(10, 710)
    (request,) = srv.requests
    assert (request.venue, request.path, request.kind, request.status) == (
        key,
        KLINE_PATH[key],
        "kline",
        200,
    )
    assert request.rows == 700 and request.fault is None
    start = "startTime" if key in BINANCE else "start"
    assert request.params[start] == str(int(TS[10]) * 1000)
    assert request.params["limit"] == "700"
    assert srv.kline_requests(key) == [request]
    assert srv.kline_requests("nowhere") == []


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_start_and_end_are_inclusive_open_time_bounds(srv: ExchangeServer, key: str) -> None:
    exchange, symbol = loaded(srv, key)
    since, until = int(TS[10]) * 1000, int(TS[20]) * 1000
    got = exchange.fetch_ohlcv(symbol, "1m", since=since, limit=1000, params={"until": until})
    assert got == rows_of(10, 21)
    # a start inside a candle: that candle is not answered (it opened before the start)
    got = exchange.fetch_ohlcv(symbol, "1m", since=since + 1, limit=5)
    assert got == rows_of(11, 16)
    # an end alone: the last `limit` candles at or before it
    status, _, body = raw_get(srv, KLINE_PATH[key], **kline_params(key, end=until, limit=5))
    answer = json.loads(body)
    listed = answer if key in BINANCE else answer["result"]["list"]
    assert status == 200
    assert sorted(int(row[0]) for row in listed) == [int(t) * 1000 for t in TS[16:21]]


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_forward_pages_cover_the_source_once_and_keep_its_gap(
    srv: ExchangeServer, key: str
) -> None:
    exchange, symbol = loaded(srv, key)
    got: list[list[float]] = []
    since = int(TS[0]) * 1000
    while page := exchange.fetch_ohlcv(symbol, "1m", since=since, limit=1000):
        got += page
        since = int(page[-1][0]) + MIN
    assert got == rows_of(0, len(TS))
    assert [r.rows for r in srv.kline_requests()] == [1000, 1000, 1000, 0]
    steps = np.diff([row[0] for row in got])
    assert sorted(set(steps.tolist())) == [MIN, (GAP.stop - GAP.start + 1) * MIN]


def test_bybit_answers_newest_first_and_ccxt_sorts_it(srv: ExchangeServer) -> None:
    for key in BYBIT:
        status, _, body = raw_get(
            srv, KLINE_PATH[key], **kline_params(key, start=TS[0] * 1000, limit=3)
        )
        answer = json.loads(body)
        assert status == 200 and answer["retCode"] == 0 and answer["retMsg"] == "OK"
        assert answer["result"]["category"] == ("spot" if key == "bybit" else "linear")
        assert answer["result"]["symbol"] == "BTCUSDT"
        listed = answer["result"]["list"]
        assert [row[0] for row in listed] == [str(int(t) * 1000) for t in TS[2::-1]]
        assert all(isinstance(x, str) for row in listed for x in row) and len(listed[0]) == 7
        exchange, symbol = loaded(srv, key)
        assert exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=3) == rows_of(0, 3)


def test_binance_rows_have_the_twelve_binance_fields(srv: ExchangeServer) -> None:
    for key in BINANCE:
        status, headers, body = raw_get(
            srv, KLINE_PATH[key], **kline_params(key, start=TS[0] * 1000, limit=2)
        )
        assert status == 200 and headers["Content-Type"] == "application/json"
        first = json.loads(body)[0]
        assert len(first) == 12
        assert first[0] == int(TS[0]) * 1000 and first[6] == first[0] + MIN - 1
        assert [float(x) for x in first[1:6]] == [float(a[0]) for a in SOURCE[1:]]
        assert all(isinstance(first[i], str) for i in (1, 2, 3, 4, 5, 7, 9, 10, 11))
        assert isinstance(first[8], int)


def test_limits_above_the_exchange_maximum_are_refused(srv: ExchangeServer) -> None:
    status, _, body = raw_get(srv, "/api/v3/klines", **kline_params("binance", limit=1001))
    assert status == 400 and json.loads(body)["code"] == -1130
    status, _, body = raw_get(
        srv, "/fapi/v1/klines", **kline_params("binance_perpetual", limit=1500)
    )
    assert status == 200 and len(json.loads(body)) == 1500
    status, _, body = raw_get(srv, "/v5/market/kline", **kline_params("bybit", limit=1001))
    assert status == 200 and json.loads(body)["retCode"] == 10001


def test_ccxt_caps_binanceusdm_pages_at_1000_candles(srv: ExchangeServer) -> None:
    """Surprise: ccxt's binance fetch_ohlcv sends at most limit=1000, also for USD-M (max 1500)."""
    exchange, symbol = loaded(srv, "binance_perpetual")
    got = exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=1500)
    assert len(got) == 1000
    assert srv.kline_requests()[-1].params["limit"] == "1000"
    # forcing the request's limit does not help: ccxt then cuts the answer to its default 500
    got = exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, params={"limit": 1500})
    assert srv.kline_requests()[-1].rows == 1500 and len(got) == 500


def test_time_endpoints_tell_the_server_clock() -> None:
    with ExchangeServer(now_s=1_700_000_000) as clocked:
        for key in ("binance", "binance_perpetual", "bybit"):
            assert client(clocked, key).fetch_time() == 1_700_000_000_000
        paths = [(r.venue, r.path, r.kind) for r in clocked.requests]
        assert paths == [
            ("binance", "/api/v3/time", "time"),
            ("binance_perpetual", "/fapi/v1/time", "time"),
            (None, "/v5/market/time", "time"),
        ]


@pytest.mark.parametrize("key", ["binance", "bybit_perpetual"])
def test_coarser_intervals_are_aggregated_and_finer_ones_refused(
    srv: ExchangeServer, key: str
) -> None:
    exchange, symbol = loaded(srv, key)
    got = exchange.fetch_ohlcv(symbol, "5m", since=int(TS[0]) * 1000, limit=4)
    ts, o, h, l, c, v = SOURCE
    expect = []
    for k in range(4):
        m = (ts >= ts[0] + 300 * k) & (ts < ts[0] + 300 * (k + 1))
        first, last = (int(i) for i in np.flatnonzero(m)[[0, -1]])
        prices = [o[first], h[m].max(), l[m].min(), c[last]]
        volume = sum(v[m].tolist())  # left to right, as the server sums
        expect.append([(int(ts[0]) + 300 * k) * 1000, *map(float, prices), volume])
    assert got == expect
    with ExchangeServer() as coarse:
        coarse.add_market(key, "BTC-USDT", *built_candles(10, interval_s=300), interval_s=300)
        exchange, symbol = loaded(coarse, key)
        with pytest.raises(ccxt.BadRequest, match="Invalid"):
            exchange.fetch_ohlcv(symbol, "1m", limit=5)


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_short_history_answers_nothing_before_the_listing(srv: ExchangeServer, key: str) -> None:
    exchange, _ = loaded(srv, key)
    symbol = VENUES[key].symbol("ETH-USDT")
    got = exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=10)
    assert got == rows_of(HISTORY_FROM, HISTORY_FROM + 10)  # forward from the listing
    before = {"until": int(TS[HISTORY_FROM - 1]) * 1000}
    assert (
        exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=10, params=before) == []
    )
    assert srv.kline_requests()[-1].rows == 0


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_the_candle_in_progress_is_answered_partial(srv: ExchangeServer, key: str) -> None:
    exchange, _ = loaded(srv, key)
    symbol = VENUES[key].symbol("SOL-USDT")
    got = exchange.fetch_ohlcv(symbol, "1m", since=int(TS[NOW_ROW - 5]) * 1000, limit=100)
    assert [row[0] for row in got] == [int(t) * 1000 for t in TS[NOW_ROW - 5 : NOW_ROW + 1]]
    assert got[:-1] == rows_of(NOW_ROW - 5, NOW_ROW)  # closed candles: as the source
    forming, final = got[-1], rows_of(NOW_ROW, NOW_ROW + 1)[0]
    assert forming[1] == final[1]  # same open
    assert forming[4] == pytest.approx((final[1] + final[4]) / 2)  # half-way to the close
    assert forming[5] == pytest.approx(final[5] / 2) and forming[5] != final[5]
    latest = exchange.fetch_ohlcv(symbol, "1m", limit=3)  # no since: the newest candles
    assert latest[-1] == forming and latest[:-1] == rows_of(NOW_ROW - 2, NOW_ROW)


# --------------------------------------------------------------------------------------------
# Faults: what ccxt raises for each
# --------------------------------------------------------------------------------------------

RATE_LIMITED = {
    "binance": ccxt.DDoSProtection,  # binance.handle_errors: 418/429 → DDoSProtection
    "binance_perpetual": ccxt.DDoSProtection,
    "bybit": ccxt.RateLimitExceeded,  # bybit's httpExceptions: 403 → RateLimitExceeded
    "bybit_perpetual": ccxt.RateLimitExceeded,
}


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_rate_limit_raises_ddos_protection_on_binance_rate_limit_exceeded_on_bybit(
    srv: ExchangeServer, key: str
) -> None:
    exchange, symbol = loaded(srv, key)
    srv.inject(rate_limit(retry_after_s=2), venue=key)
    with pytest.raises(RATE_LIMITED[key]) as caught:
        exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5)
    assert not isinstance(
        caught.value, ccxt.RateLimitExceeded if key in BINANCE else ccxt.DDoSProtection
    )
    assert isinstance(caught.value, ccxt.NetworkError)
    assert exchange.last_response_headers["Retry-After"] == "2"
    (request,) = srv.kline_requests()
    assert request.status == (429 if key in BINANCE else 403) and request.fault == "rate_limit"
    assert exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5) == rows_of(0, 5)


def test_rate_limit_variants_418_and_bybit_retcode_10006(srv: ExchangeServer) -> None:
    exchange, symbol = loaded(srv, "binance")
    srv.inject(rate_limit(status=418), venue="binance")
    with pytest.raises(ccxt.DDoSProtection, match="418"):
        exchange.fetch_ohlcv(symbol, "1m", limit=5)
    exchange, symbol = loaded(srv, "bybit")
    srv.inject(rate_limit(status=200), venue="bybit")
    with pytest.raises(ccxt.RateLimitExceeded, match="10006"):
        exchange.fetch_ohlcv(symbol, "1m", limit=5)
    assert srv.kline_requests()[-1].status == 200


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_server_error_raises_exchange_not_available(srv: ExchangeServer, key: str) -> None:
    exchange, symbol = loaded(srv, key)
    srv.inject(server_error(), venue=key)
    srv.inject(server_error(503), venue=key)
    for status in (500, 503):
        with pytest.raises(ccxt.ExchangeNotAvailable, match=str(status)):
            exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5)
    assert [r.status for r in srv.kline_requests()] == [500, 503]
    assert srv.pending_faults() == 0


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_truncated_json_is_not_raised_by_ccxt(srv: ExchangeServer, key: str) -> None:
    """Surprise: ccxt swallows the JSON error and hands the raw text to fetch_ohlcv."""
    exchange, symbol = loaded(srv, key)
    srv.inject(truncated_json(), venue=key, times=2)
    assert exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5) == []
    junk = exchange.fetch_ohlcv(symbol, "1m", limit=5)  # no since: nothing filters the junk
    if key in BINANCE:  # one "row" per character of the text, all fields None but the first
        assert junk and all(row[1:] == [None] * 5 for row in junk)
    else:  # no "result" in the text: an empty list
        assert junk == []
    first = srv.kline_requests()[0]
    assert first.fault == "truncated_json" and first.status == 200


def test_truncated_body_is_cut_with_a_matching_content_length(srv: ExchangeServer) -> None:
    params = kline_params("binance", start=TS[0] * 1000, limit=10)
    _, _, whole = raw_get(srv, "/api/v3/klines", **params)
    srv.inject(truncated_json(keep=0.25))
    status, headers, cut = raw_get(srv, "/api/v3/klines", **params)
    assert status == 200 and cut == whole[: len(whole) // 4]
    assert headers["Content-Length"] == str(len(cut))
    with pytest.raises(ValueError):
        json.loads(cut)


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_empty_and_repeated_pages(srv: ExchangeServer, key: str) -> None:
    exchange, symbol = loaded(srv, key)
    srv.inject(empty_page(), venue=key)
    assert exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5) == []
    assert exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5) == rows_of(0, 5)
    srv.inject(repeat_previous(), venue=key)
    # asked for the next page, answered the previous one (ccxt then drops rows before since)
    page = exchange.fetch_ohlcv(symbol, "1m", since=int(TS[5]) * 1000, limit=5)
    assert page == []
    assert exchange.fetch_ohlcv(
        symbol, "1m", limit=5, params={"until": int(TS[4]) * 1000}
    ) == rows_of(0, 5)
    faults = [(r.fault, r.rows) for r in srv.kline_requests()]
    assert faults == [("empty_page", 0), (None, 5), ("repeat_previous", 5), (None, 5)]


@pytest.mark.parametrize("key", VENUE_KEYS)
def test_delay_beyond_the_timeout_raises_request_timeout(srv: ExchangeServer, key: str) -> None:
    exchange, symbol = loaded(srv, key, timeout_ms=150)
    srv.inject(delay(0.4), venue=key)
    with pytest.raises(ccxt.RequestTimeout):
        exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5)
    assert srv.kline_requests()[0].fault == "delay"


def test_short_delay_only_slows_the_answer(srv: ExchangeServer) -> None:
    exchange, symbol = loaded(srv, "bybit")
    srv.inject(delay(0.1))
    began = time.monotonic()
    assert exchange.fetch_ohlcv(symbol, "1m", since=int(TS[0]) * 1000, limit=5) == rows_of(0, 5)
    assert time.monotonic() - began >= 0.1


def test_faults_apply_in_order_to_matching_requests_only(srv: ExchangeServer) -> None:
    binance, binance_btc = loaded(srv, "binance")
    bybit, bybit_btc = loaded(srv, "bybit")
    srv.inject(server_error(), venue="bybit", times=2)
    srv.inject(empty_page(), venue="binance", pair="ETH-USDT")
    srv.inject(rate_limit())  # any venue, any pair
    assert srv.pending_faults() == 4
    since = int(TS[HISTORY_FROM]) * 1000
    expect = rows_of(HISTORY_FROM, HISTORY_FROM + 2)
    with pytest.raises(ccxt.DDoSProtection):  # the first queued fault matching binance BTC
        binance.fetch_ohlcv(binance_btc, "1m", since=since, limit=2)
    for _ in range(2):
        with pytest.raises(ccxt.ExchangeNotAvailable):
            bybit.fetch_ohlcv(bybit_btc, "1m", since=since, limit=2)
    assert bybit.fetch_ohlcv(bybit_btc, "1m", since=since, limit=2) == expect
    assert binance.fetch_ohlcv("ETH/USDT", "1m", since=since, limit=2) == []
    assert binance.fetch_ohlcv("ETH/USDT", "1m", since=since, limit=2) == expect
    assert srv.pending_faults() == 0
    assert [(r.venue, r.params["symbol"], r.fault) for r in srv.kline_requests()] == [
        ("binance", "BTCUSDT", "rate_limit"),
        ("bybit", "BTCUSDT", "server_error"),
        ("bybit", "BTCUSDT", "server_error"),
        ("bybit", "BTCUSDT", None),
        ("binance", "ETHUSDT", "empty_page"),
        ("binance", "ETHUSDT", None),
    ]


def test_client_hanging_up_prints_nothing(
    srv: ExchangeServer, capfd: pytest.CaptureFixture[str]
) -> None:
    exchange, symbol = loaded(srv, "binance", timeout_ms=100)
    srv.inject(delay(0.25))
    with pytest.raises(ccxt.RequestTimeout):
        exchange.fetch_ohlcv(symbol, "1m", limit=5)
    # a client that sends half a request and resets the connection
    host, port = srv.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(b"GET /api/v3/klines?symbol=BTCUSDT HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.05)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.35)  # the delayed answer is written to a closed connection meanwhile
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert srv.errors == []


# --------------------------------------------------------------------------------------------
# Real candles and helpers
# --------------------------------------------------------------------------------------------

REAL = "binance_BTC-USDT_1m_20230316_20230501.parquet"  # 80 candles missing after 2023-03-24 12:39


@pytest.mark.skipif(not shared_available(REAL), reason="../shared/data/candles is absent")
def test_real_candles_replay_exactly_across_the_halt_gap() -> None:
    whole = load_shared(REAL)
    gap_at = int(np.flatnonzero(np.diff(whole[0]) > 60)[0])
    source = tuple(a[gap_at - 2000 : gap_at + 2000] for a in whole)  # around the gap
    ts, gap_at = source[0], 2000
    with ExchangeServer() as real:
        for key in VENUE_KEYS:
            real.add_market(key, "BTC-USDT", *source)
        real.warm()
        for key in VENUE_KEYS:
            exchange, symbol = loaded(real, key)
            got: list[list[float]] = []
            since = int(ts[gap_at - 1500]) * 1000
            for _ in range(3):
                page = exchange.fetch_ohlcv(symbol, "1m", since=since, limit=1000)
                got += page
                since = int(page[-1][0]) + MIN
            assert got == rows_of(gap_at - 1500, gap_at + 1500, source)
        assert real.errors == []


def test_override_api_urls_replaces_scheme_and_host_recursively() -> None:
    urls = {
        "public": "https://api.binance.com/api/v3",
        "nested": {"spot": "https://api.{hostname}/v5", "n": 3},
    }
    assert override_api_urls(urls, "http://127.0.0.1:9") == {
        "public": "http://127.0.0.1:9/api/v3",
        "nested": {"spot": "http://127.0.0.1:9/v5", "n": 3},
    }


def test_built_candles_are_valid_and_deterministic() -> None:
    ts, o, h, l, c, v = built_candles(500, start_ts=1_700_000_030, interval_s=60, seed=3)
    assert ts[0] == 1_700_000_030 - 1_700_000_030 % 60
    assert np.all(np.diff(ts) == 60)
    assert np.all(h >= np.maximum(o, c)) and np.all(l <= np.minimum(o, c)) and np.all(l > 0)
    assert np.all(v > 0)
    again = built_candles(500, start_ts=1_700_000_030, interval_s=60, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip((ts, o, h, l, c, v), again, strict=True))


def test_loopback_only_refuses_the_internet() -> None:
    with pytest.raises(OSError, match="loopback_only"):
        socket.getaddrinfo("api.binance.com", 443)
    with pytest.raises(OSError, match="loopback_only"):
        socket.create_connection(("93.184.216.34", 80), timeout=0.1)


def test_add_market_checks_its_input() -> None:
    srv = ExchangeServer()
    ts, *ohlcv = built_candles(3)
    with pytest.raises(ValueError, match="venue"):
        srv.add_market("kraken", "BTC-USDT", ts, *ohlcv)
    with pytest.raises(ValueError, match="milliseconds"):
        srv.add_market("binance", "BTC-USDT", ts * 1000, *ohlcv)
    with pytest.raises(ValueError, match="increasing"):
        srv.add_market("binance", "BTC-USDT", ts[::-1], *ohlcv)
    with pytest.raises(ValueError, match="multiples"):
        srv.add_market("binance", "BTC-USDT", ts + 1, *ohlcv)
    with pytest.raises(ValueError, match="BASE-QUOTE"):
        srv.add_market("binance", "BTCUSDT", ts, *ohlcv)
    with pytest.raises(RuntimeError, match="not started"):
        _ = srv.base_url
