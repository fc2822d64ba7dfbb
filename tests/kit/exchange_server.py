"""A local exchange replay server: the real exchange paths, our candles, injectable faults.

Tests point ccxt at it by replacing the scheme and host of every URL in
``exchange.urls['api']`` with :attr:`ExchangeServer.base_url` (see :func:`override_api_urls`);
the paths stay, so the server answers the paths ccxt really requests:

==================  ==========================================  ===========================
venue key           markets (``load_markets``)                  candles (``fetch_ohlcv``)
==================  ==========================================  ===========================
``binance``         ``GET /api/v3/exchangeInfo``                ``GET /api/v3/klines``
``binance_perpetual`` ``GET /fapi/v1/exchangeInfo``             ``GET /fapi/v1/klines``
``bybit``           ``GET /v5/market/instruments-info`` spot    ``GET /v5/market/kline`` spot
``bybit_perpetual`` ``GET /v5/market/instruments-info`` linear  ``GET /v5/market/kline`` linear
==================  ==========================================  ===========================

plus ``/api/v3/time``, ``/api/v3/ping``, ``/fapi/v1/time``, ``/fapi/v1/ping`` and
``/v5/market/time``. Anything else is a 404 (ccxt: ``ExchangeNotAvailable``), so a ccxt set-up
that asks for more than the one market type it needs fails loudly instead of quietly.

Kline selection, as the real APIs (candles are identified by their open time, ms):

* ``startTime``/``start`` and ``endTime``/``end`` are both inclusive bounds on the open time.
* With a start, the answer is the first ``limit`` candles at or after it (forward paging);
  without one, the last ``limit`` candles at or before the end (default: now).
* Binance answers oldest first, rows ``[openTime, "o", "h", "l", "c", "v", closeTime,
  "quoteVolume", trades, "takerBase", "takerQuote", "0"]``; limit default 500, max 1000
  (spot) or 1500 (USD-M). Bybit answers NEWEST first, rows ``["openTime", "o", "h", "l", "c",
  "volume", "turnover"]`` inside ``{"retCode":0,"retMsg":"OK","result":{"category",
  "symbol","list"},"retExtInfo":{},"time"}``; limit default 200, max 1000.
* A limit out of range is an error here (Binance ``-1130``, Bybit ``10001``), on purpose:
  a client should never send one.
* Other intervals than the market's own are served when they are a whole multiple of it
  (epoch-aligned buckets, as the exchanges align intervals up to a day); finer ones are an
  "invalid interval" error.

Numbers are written with Python's shortest round-trip ``repr``, so a parsed value equals the
source float exactly.

Market options: ``history_start`` (no candles before it, as an exchange before a listing:
a window wholly before it is an empty list), ``now_s`` (the server's clock: candles not closed
by then are dropped, except the one in progress, which is answered with partial values, as a
live exchange does). Gaps in the data are simply not answered.

Faults (:meth:`ExchangeServer.inject`) apply to kline requests only, in FIFO order. What
ccxt 4.5 raises for each (checked in ``tests/unit/kit/test_exchange_server.py``):

==========================  ====================================  ==========================
fault                       Binance answer → ccxt                 Bybit answer → ccxt
==========================  ====================================  ==========================
``rate_limit()``            429 + ``Retry-After``, code ``-1003``  403 text + ``Retry-After``
                            → ``DDoSProtection`` (418 too)         → ``RateLimitExceeded``;
                                                                   ``status=200``: retCode
                                                                   10006 → ``RateLimitExceeded``
``server_error(500)``       HTML 500 → ``ExchangeNotAvailable``   same (502, 503 too; 504 →
                                                                   ``RequestTimeout``)
``truncated_json()``        200, cut body: NO exception; ``[]``   same: NO exception, ``[]``
                            with ``since``, else junk rows
                            ``[n, None, None, None, None, None]``
``empty_page()``            ``[]``                                ``"list":[]``
``repeat_previous()``       the previous answer's body again      same
``delay(s)``                answers after ``s`` seconds; beyond ccxt's ``timeout``
                            → ``RequestTimeout``
==========================  ====================================  ==========================

Note ccxt's ``RateLimitExceeded`` is not a ``DDoSProtection``: both are ``NetworkError``.
Note too that ccxt's binance ``fetch_ohlcv`` never asks for more than 1000 candles, also on
USD-M where the server (as Binance) allows 1500.
A truncated body is not raised by ccxt at all (its JSON parse failure is swallowed and the raw
text is returned; ``fetch_ohlcv`` then yields ``[]`` or junk rows), so a fetcher must check
what it gets.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

import numpy as np

try:
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - orjson is a project dependency
    import json

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode()


__all__ = [
    "SHARED_CANDLES",
    "VENUE_KEYS",
    "ExchangeServer",
    "Fault",
    "Request",
    "built_candles",
    "delay",
    "empty_page",
    "load_shared",
    "loopback_only",
    "override_api_urls",
    "rate_limit",
    "repeat_previous",
    "server_error",
    "shared_available",
    "truncated_json",
]

_DEFAULT_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles"
#: The real candles (``../shared/data/candles``; ``HBBACKTEST_SHARED_CANDLES`` overrides).
SHARED_CANDLES = Path(os.environ.get("HBBACKTEST_SHARED_CANDLES", _DEFAULT_SHARED))

Candles = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]

# --------------------------------------------------------------------------------------------
# Venues
# --------------------------------------------------------------------------------------------

_BINANCE_INTERVALS = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
}
_BYBIT_INTERVALS = {
    "1": 60,
    "3": 180,
    "5": 300,
    "15": 900,
    "30": 1800,
    "60": 3600,
    "120": 7200,
    "240": 14400,
    "360": 21600,
    "720": 43200,
    "D": 86400,
}


@dataclass(frozen=True)
class _Venue:
    key: str
    family: Literal["binance", "bybit"]
    kind: Literal["spot", "perpetual"]
    kline_path: str
    default_limit: int
    max_limit: int
    intervals: Mapping[str, int]


_VENUES: dict[str, _Venue] = {
    v.key: v
    for v in (
        _Venue(
            "binance",
            "binance",
            "spot",
            "/api/v3/klines",
            500,
            1000,
            {"1s": 1} | _BINANCE_INTERVALS,
        ),
        _Venue(
            "binance_perpetual",
            "binance",
            "perpetual",
            "/fapi/v1/klines",
            500,
            1500,
            _BINANCE_INTERVALS,
        ),
        _Venue("bybit", "bybit", "spot", "/v5/market/kline", 200, 1000, _BYBIT_INTERVALS),
        _Venue(
            "bybit_perpetual",
            "bybit",
            "perpetual",
            "/v5/market/kline",
            200,
            1000,
            _BYBIT_INTERVALS,
        ),
    )
}
#: The venue keys :meth:`ExchangeServer.add_market` takes (Hummingbot connector names).
VENUE_KEYS = tuple(_VENUES)
_BYBIT_CATEGORY = {"spot": "bybit", "linear": "bybit_perpetual"}
_BINANCE_INFO = {"/api/v3/exchangeInfo": "binance", "/fapi/v1/exchangeInfo": "binance_perpetual"}
_BINANCE_KLINES = {v.kline_path: v.key for v in _VENUES.values() if v.family == "binance"}
_BINANCE_TIME = {"/api/v3/time": "binance", "/fapi/v1/time": "binance_perpetual"}
_BINANCE_PING = {"/api/v3/ping": "binance", "/fapi/v1/ping": "binance_perpetual"}

# --------------------------------------------------------------------------------------------
# Faults and the request log
# --------------------------------------------------------------------------------------------

FaultKind = Literal[
    "rate_limit", "server_error", "empty_page", "truncated_json", "repeat_previous", "delay"
]


@dataclass(frozen=True)
class Fault:
    """One misbehaviour of the exchange; build it with the functions below.

    Attributes:
        kind: what goes wrong.
        status: HTTP status for ``rate_limit`` (None: the venue's usual one) and
            ``server_error``.
        retry_after_s: the ``Retry-After`` header of ``rate_limit``.
        seconds: how long ``delay`` holds the answer.
        keep: the share of the body ``truncated_json`` sends.
    """

    kind: FaultKind
    status: int | None = None
    retry_after_s: float = 0.0
    seconds: float = 0.0
    keep: float = 0.5


def rate_limit(retry_after_s: float = 1, *, status: int | None = None) -> Fault:
    """Too many requests, with a ``Retry-After`` header.

    Binance: HTTP 429 (or ``status=418``, its IP ban) with ``{"code":-1003,...}``; ccxt raises
    ``DDoSProtection`` for both. Bybit: HTTP 403 "access too frequent" (its IP limit, what
    unauthenticated calls hit), or with ``status=200`` the ``retCode`` 10006 envelope (its
    per-account limit); ccxt raises ``RateLimitExceeded`` for both.
    """
    return Fault("rate_limit", status=status, retry_after_s=float(retry_after_s))


def server_error(status: int = 500) -> Fault:
    """An HTML error page with this status (ccxt: ``ExchangeNotAvailable`` for 500/502/503)."""
    return Fault("server_error", status=status)


def empty_page() -> Fault:
    """A valid answer with no candles."""
    return Fault("empty_page")


def truncated_json(keep: float = 0.5) -> Fault:
    """HTTP 200 with the body cut after ``keep`` of its bytes (Content-Length matches the cut)."""
    if not 0.0 <= keep < 1.0:
        raise ValueError(f"keep must be in [0, 1), got {keep}")
    return Fault("truncated_json", keep=keep)


def repeat_previous() -> Fault:
    """The body of the previous kline answer for the same venue and symbol, again."""
    return Fault("repeat_previous")


def delay(seconds: float) -> Fault:
    """The normal answer, ``seconds`` late (beyond the client's timeout: a timeout)."""
    if seconds < 0:
        raise ValueError(f"seconds must be >= 0, got {seconds}")
    return Fault("delay", seconds=float(seconds))


@dataclass(frozen=True)
class Request:
    """One request the server answered.

    Attributes:
        venue: the venue key it was for (None when the path or category is unknown).
        path: the URL path, e.g. ``/api/v3/klines``.
        params: the query parameters (last value wins).
        status: the HTTP status answered.
        kind: ``kline``, ``markets``, ``time``, ``ping`` or ``unknown``.
        fault: the injected fault applied, or None.
        rows: candles in the answer (kline answers that carry rows), else None.
        at: ``time.monotonic()`` when the request was read.
    """

    venue: str | None
    path: str
    params: dict[str, str]
    status: int
    kind: str
    fault: FaultKind | None = None
    rows: int | None = None
    at: float = 0.0


@dataclass
class _Queued:
    fault: Fault
    venue: str | None
    symbol: str | None
    left: int


@dataclass
class _Reply:
    status: int
    body: bytes
    kind: str
    venue: str | None = None
    ctype: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    fault: FaultKind | None = None
    rows: int | None = None
    hold_s: float = 0.0


# --------------------------------------------------------------------------------------------
# Markets
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Series:
    """What a market serves at one interval in one venue family: open times and row JSON."""

    t_ms: np.ndarray
    rows: list[bytes]


def _decimals(x: np.ndarray, most: int = 10) -> int:
    """The fewest decimals that write every value of a sample exactly (a tick-size guess)."""
    sample = x[:5000]
    sample = sample[np.isfinite(sample)]
    for d in range(most + 1):
        if np.all(np.abs(np.round(sample, d) - sample) <= 1e-9 * np.maximum(np.abs(sample), 1)):
            return d
    return most


def _step_text(decimals: int) -> str:
    return "1" if decimals == 0 else f"{10.0**-decimals:.{decimals}f}"


@dataclass
class _Market:
    venue: str
    base: str
    quote: str
    interval_s: int
    ts: np.ndarray
    cols: dict[str, np.ndarray]
    history_start: int | None
    now_s: int | None
    tick: str
    step: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: dict[tuple[int, str], _Series] = field(default_factory=dict)

    @property
    def symbol(self) -> str:
        return self.base + self.quote

    @property
    def listed_ms(self) -> int:
        """The first open time served (the "onboard"/"launch" time of the market)."""
        kept = self.ts if self.history_start is None else self.ts[self.ts >= self.history_start]
        if kept.size:
            return int(kept[0]) * 1000
        return int(self.history_start or self.now_s or time.time()) * 1000

    def series(self, step_s: int, family: str) -> _Series | None:
        """The candles served at ``step_s`` seconds (None: not derivable from our interval)."""
        if step_s < self.interval_s or step_s % self.interval_s:
            return None
        key = (step_s, family)
        with self.lock:
            found = self.cache.get(key)
            if found is None:
                found = self.cache[key] = self._build(step_s, family)
            return found

    def _build(self, step_s: int, family: str) -> _Series:
        ts, cols = self._as_of_now()
        if step_s != self.interval_s and ts.size:
            ts, cols = _aggregate(ts, cols, step_s)
        t_ms = ts * 1000
        c = {k: v.tolist() for k, v in cols.items()}
        t_list = t_ms.tolist()
        if family == "binance":
            last = step_s * 1000 - 1
            rows = [
                f'[{t},"{o!r}","{h!r}","{lo!r}","{cl!r}","{v!r}",{t + last},"{qv!r}",{int(n)},'
                f'"{tb!r}","{tq!r}","0"]'.encode()
                for t, o, h, lo, cl, v, qv, n, tb, tq in zip(
                    t_list,
                    c["open"],
                    c["high"],
                    c["low"],
                    c["close"],
                    c["volume"],
                    c["quote_volume"],
                    c["n_trades"],
                    c["taker_buy_base"],
                    c["taker_buy_quote"],
                    strict=True,
                )
            ]
        else:
            rows = [
                f'["{t}","{o!r}","{h!r}","{lo!r}","{cl!r}","{v!r}","{qv!r}"]'.encode()
                for t, o, h, lo, cl, v, qv in zip(
                    t_list,
                    c["open"],
                    c["high"],
                    c["low"],
                    c["close"],
                    c["volume"],
                    c["quote_volume"],
                    strict=True,
                )
            ]
        return _Series(t_ms, rows)

    def _as_of_now(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Our candles after ``history_start`` and up to ``now_s``, the last one partial."""
        keep = np.ones(self.ts.shape[0], dtype=bool)
        if self.history_start is not None:
            keep &= self.ts >= self.history_start
        if self.now_s is not None:
            keep &= self.ts <= self.now_s
        ts = self.ts[keep]
        cols = {k: v[keep].copy() for k, v in self.cols.items()}
        if self.now_s is not None and ts.size and ts[-1] + self.interval_s > self.now_s:
            # The candle in progress: as if it had traded a share f of its volume along a
            # straight line from the open towards the final close.
            f = (self.now_s - int(ts[-1])) / self.interval_s
            o = cols["open"][-1]
            close = o + (cols["close"][-1] - o) * f
            cols["close"][-1] = close
            cols["high"][-1] = max(o, close)
            cols["low"][-1] = min(o, close)
            for name in ("volume", "quote_volume", "taker_buy_base", "taker_buy_quote"):
                cols[name][-1] *= f
            cols["n_trades"][-1] = np.floor(cols["n_trades"][-1] * f)
        return ts, cols

    def instrument_binance(self) -> dict[str, Any]:
        price_filter = {
            "filterType": "PRICE_FILTER",
            "minPrice": self.tick,
            "maxPrice": "1000000",
            "tickSize": self.tick,
        }
        lot = {
            "filterType": "LOT_SIZE",
            "minQty": self.step,
            "maxQty": "9000",
            "stepSize": self.step,
        }
        common = {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": 8,
            "quoteAsset": self.quote,
            "quotePrecision": 8,
            "orderTypes": ["LIMIT", "MARKET"],
        }
        if _VENUES[self.venue].kind == "spot":
            return common | {
                "quoteAssetPrecision": 8,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    price_filter,
                    lot,
                    {"filterType": "NOTIONAL", "minNotional": "5", "applyMinToMarket": True},
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
            }
        return common | {
            "pair": self.symbol,
            "contractType": "PERPETUAL",
            "deliveryDate": 4133404800000,
            "onboardDate": self.listed_ms,
            "marginAsset": self.quote,
            "underlyingType": "COIN",
            "pricePrecision": len(self.tick.partition(".")[2]),
            "quantityPrecision": len(self.step.partition(".")[2]),
            "filters": [
                price_filter,
                lot,
                {"filterType": "MARKET_LOT_SIZE", **{k: lot[k] for k in ("minQty", "maxQty")}}
                | {"stepSize": self.step},
                {"filterType": "MIN_NOTIONAL", "notional": "5"},
            ],
            "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
        }

    def instrument_bybit(self) -> dict[str, Any]:
        if _VENUES[self.venue].kind == "spot":
            return {
                "symbol": self.symbol,
                "baseCoin": self.base,
                "quoteCoin": self.quote,
                "innovation": "0",
                "status": "Trading",
                "marginTrading": "none",
                "lotSizeFilter": {
                    "basePrecision": self.step,
                    "quotePrecision": "0.00000001",
                    "minOrderQty": self.step,
                    "maxOrderQty": "9000",
                    "minOrderAmt": "1",
                    "maxOrderAmt": "2000000",
                },
                "priceFilter": {"tickSize": self.tick},
            }
        return {
            "symbol": self.symbol,
            "contractType": "LinearPerpetual",
            "status": "Trading",
            "baseCoin": self.base,
            "quoteCoin": self.quote,
            "settleCoin": self.quote,
            "launchTime": str(self.listed_ms),
            "deliveryTime": "0",
            "deliveryFeeRate": "",
            "priceScale": str(len(self.tick.partition(".")[2])),
            "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
            "priceFilter": {"minPrice": self.tick, "maxPrice": "1000000", "tickSize": self.tick},
            "lotSizeFilter": {
                "maxOrderQty": "9000",
                "minOrderQty": self.step,
                "qtyStep": self.step,
                "maxMktOrderQty": "9000",
                "minNotionalValue": "5",
            },
            "unifiedMarginTrade": True,
            "fundingInterval": 480,
            "copyTrading": "none",
        }


def _aggregate(
    ts: np.ndarray, cols: dict[str, np.ndarray], step_s: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Epoch-aligned ``step_s`` candles from finer ones (gaps stay gaps)."""
    bucket = ts - ts % step_s
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], ts.shape[0]] - 1
    out = {
        "open": cols["open"][starts],
        "high": np.maximum.reduceat(cols["high"], starts),
        "low": np.minimum.reduceat(cols["low"], starts),
        "close": cols["close"][ends],
    }
    for name in ("volume", "quote_volume", "n_trades", "taker_buy_base", "taker_buy_quote"):
        out[name] = np.add.reduceat(cols[name], starts)
    return bucket[starts], out


def _select(t_ms: np.ndarray, start: int | None, end: int | None, limit: int) -> tuple[int, int]:
    """Row range ``[lo, hi)``: open times in ``[start, end]``, the first (with a start) or the
    last ``limit`` of them."""
    lo = 0 if start is None else int(np.searchsorted(t_ms, start, "left"))
    hi = t_ms.shape[0] if end is None else int(np.searchsorted(t_ms, end, "right"))
    if hi <= lo:
        return lo, lo
    if start is not None:
        return lo, min(hi, lo + limit)
    return max(lo, hi - limit), hi


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    replay: ExchangeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that hangs up is no error; anything else is recorded."""
        exc = sys.exc_info()[1]
        if exc is not None and not isinstance(exc, OSError):
            self.replay._record_error(exc)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: ccxt's requests session reuses connections
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.replay._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.replay._track(self.connection, add=False)

    def do_GET(self) -> None:
        self.server.replay._serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""


def _html_page(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    return f"<html><body><h1>{status} {phrase}</h1></body></html>".encode()


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------


class ExchangeServer:
    """A threaded HTTP server on 127.0.0.1 replaying candles as Binance and Bybit do.

    Args:
        now_s: the server's clock (epoch s) for markets that do not set their own, and the
            time its answers carry; None: the wall clock, with no candle in progress.
        instruments_page_size: at most this many instruments per Bybit linear
            ``instruments-info`` page (None: as the ``limit`` asked, as Bybit does), to make
            ccxt follow ``nextPageCursor``.

    Example:
        >>> server = ExchangeServer()
        >>> server.add_market("binance", "BTC-USDT", *built_candles(10))
        >>> with server:
        ...     server.base_url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(self, *, now_s: int | None = None, instruments_page_size: int | None = None):
        self.now_s = now_s
        self.instruments_page_size = instruments_page_size
        self._markets: dict[tuple[str, str], _Market] = {}
        self._lock = threading.Lock()
        self._log: list[Request] = []
        self._errors: list[BaseException] = []
        self._faults: list[_Queued] = []
        self._previous: dict[tuple[str, str], tuple[bytes, int | None]] = {}
        self._connections: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- set-up ---------------------------------------------------------------------------

    def add_market(
        self,
        venue: str,
        pair: str,
        ts: Sequence[int] | np.ndarray,
        open: Sequence[float] | np.ndarray,
        high: Sequence[float] | np.ndarray,
        low: Sequence[float] | np.ndarray,
        close: Sequence[float] | np.ndarray,
        volume: Sequence[float] | np.ndarray,
        *,
        interval_s: int = 60,
        history_start: int | None = None,
        now_s: int | None = None,
        quote_volume: Sequence[float] | np.ndarray | None = None,
        n_trades: Sequence[float] | np.ndarray | None = None,
        taker_buy_base: Sequence[float] | np.ndarray | None = None,
        taker_buy_quote: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        """Serve a pair's candles on a venue (replaces an earlier market of that pair).

        Args:
            venue: one of :data:`VENUE_KEYS` (``binance``, ``binance_perpetual``, ``bybit``,
                ``bybit_perpetual``).
            pair: Hummingbot's ``BASE-QUOTE``; the exchange symbol is ``BASEQUOTE`` and ccxt's
                ``BASE/QUOTE`` (spot) or ``BASE/QUOTE:QUOTE`` (perpetual).
            ts: candle open times, epoch seconds, strictly increasing multiples of
                ``interval_s`` (gaps allowed).
            open: open prices (likewise ``high``, ``low``, ``close``, ``volume``).
            high: high prices.
            low: low prices.
            close: close prices.
            volume: base volumes.
            interval_s: the candles' interval; coarser multiples are served aggregated.
            history_start: no candles before this time (epoch s): "short history".
            now_s: this market's clock (default: the server's).
            quote_volume: quote volumes (default ``volume * close``).
            n_trades: trade counts (default 0).
            taker_buy_base: Binance's taker-buy base volume (default 0).
            taker_buy_quote: Binance's taker-buy quote volume (default 0).
        """
        if venue not in _VENUES:
            raise ValueError(f"unknown venue {venue!r}; known: {', '.join(_VENUES)}")
        base, sep, quote = pair.upper().partition("-")
        if not (sep and base.isalnum() and quote.isalnum()):
            raise ValueError(f"pair must be BASE-QUOTE, got {pair!r}")
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        t = np.asarray(ts)
        if t.ndim != 1:
            raise ValueError(f"ts must be one-dimensional, got shape {t.shape}")
        if t.size and not np.issubdtype(t.dtype, np.integer) and np.any(t != np.floor(t)):
            raise ValueError("ts must be whole epoch seconds")
        t = t.astype(np.int64)
        n = t.shape[0]
        if n and t.max() > 100_000_000_000:
            raise ValueError("ts look like milliseconds; give epoch seconds")
        if n > 1 and np.any(np.diff(t) <= 0):
            raise ValueError("ts must be strictly increasing")
        if np.any(t % interval_s):
            raise ValueError(f"ts must be multiples of interval_s={interval_s}")

        def column(x: Any, default: np.ndarray | float) -> np.ndarray:
            out = np.broadcast_to(default, (n,)) if x is None else np.asarray(x)
            out = np.array(out, dtype=np.float64)
            if out.shape != (n,):
                raise ValueError(f"every column must have {n} values, got shape {out.shape}")
            return out

        cols = {
            "open": column(open, 0.0),
            "high": column(high, 0.0),
            "low": column(low, 0.0),
            "close": column(close, 0.0),
            "volume": column(volume, 0.0),
        }
        cols["quote_volume"] = column(quote_volume, cols["volume"] * cols["close"])
        cols["n_trades"] = column(n_trades, 0.0)
        cols["taker_buy_base"] = column(taker_buy_base, 0.0)
        cols["taker_buy_quote"] = column(taker_buy_quote, 0.0)
        market = _Market(
            venue=venue,
            base=base,
            quote=quote,
            interval_s=int(interval_s),
            ts=t,
            cols=cols,
            history_start=history_start,
            now_s=now_s if now_s is not None else self.now_s,
            tick=_step_text(_decimals(np.concatenate([cols["open"], cols["close"]]))),
            step=_step_text(min(_decimals(cols["volume"]), 8)),
        )
        with self._lock:
            self._markets[(venue, market.symbol)] = market

    def warm(self) -> None:
        """Build every market's answers at its own interval now (otherwise the first request
        for each builds them: about 0.3 s per 100,000 candles), e.g. before timing."""
        with self._lock:
            markets = list(self._markets.values())
        for market in markets:
            market.series(market.interval_s, _VENUES[market.venue].family)

    def inject(
        self, fault: Fault, *, venue: str | None = None, pair: str | None = None, times: int = 1
    ) -> None:
        """Queue ``fault`` for the next ``times`` kline requests of ``venue`` (None: any) and
        ``pair`` (``BASE-QUOTE``; None: any). Queued faults apply in FIFO order, one per
        request."""
        if venue is not None and venue not in _VENUES:
            raise ValueError(f"unknown venue {venue!r}; known: {', '.join(_VENUES)}")
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        symbol = None if pair is None else pair.upper().replace("-", "")
        with self._lock:
            self._faults.append(_Queued(fault, venue, symbol, times))

    def pending_faults(self) -> int:
        """How many injected faults are still to be applied (counting ``times``)."""
        with self._lock:
            return sum(q.left for q in self._faults)

    def clear_faults(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()

    # -- life -----------------------------------------------------------------------------

    def start(self) -> ExchangeServer:
        """Listen on 127.0.0.1 (a free port) and serve in a daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        httpd.replay = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, hang up open connections and wake delayed answers."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> ExchangeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` while started."""
        if self._httpd is None:
            raise RuntimeError("the exchange server is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- the log ----------------------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """Every request answered so far, oldest first (a copy)."""
        with self._lock:
            return list(self._log)

    def kline_requests(self, venue: str | None = None) -> list[Request]:
        """The kline requests, of one venue or all."""
        return [
            r for r in self.requests if r.kind == "kline" and (venue is None or r.venue == venue)
        ]

    def clear_requests(self) -> None:
        """Forget the request log."""
        with self._lock:
            self._log.clear()

    def reset(self) -> ExchangeServer:
        """Drop queued faults and the request log (a module-scoped server between tests)."""
        self.clear_faults()
        self.clear_requests()
        return self

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised inside the server (bugs of this kit; a client hanging up is none)."""
        with self._lock:
            return list(self._errors)

    # -- internals --------------------------------------------------------------------------

    def _record_error(self, exc: BaseException) -> None:
        with self._lock:
            self._errors.append(exc)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _now_ms(self) -> int:
        return int(self.now_s * 1000) if self.now_s is not None else int(time.time() * 1000)

    def _take_fault(self, venue: str, symbol: str | None) -> Fault | None:
        with self._lock:
            for i, queued in enumerate(self._faults):
                if queued.venue not in (None, venue) or queued.symbol not in (None, symbol):
                    continue
                queued.left -= 1
                if queued.left == 0:
                    del self._faults[i]
                return queued.fault
        return None

    def _market(self, venue: str, symbol: str) -> _Market | None:
        with self._lock:
            return self._markets.get((venue, symbol))

    def _markets_of(self, venue: str) -> list[_Market]:
        with self._lock:
            found = [m for (v, _), m in self._markets.items() if v == venue]
        return sorted(found, key=lambda m: m.symbol)

    def _serve(self, handler: _Handler) -> None:
        at = time.monotonic()
        split = urlsplit(handler.path)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        try:
            reply = self._route(split.path, params)
        except Exception as exc:
            self._record_error(exc)
            reply = _Reply(500, f"replay server bug: {exc!r}".encode(), "bug", ctype="text/plain")
        record = Request(
            reply.venue, split.path, params, reply.status, reply.kind, reply.fault, reply.rows, at
        )
        with self._lock:
            self._log.append(record)
        if reply.hold_s > 0:
            self._stopping.wait(reply.hold_s)
        try:
            phrase = HTTPStatus(reply.status).phrase
        except ValueError:
            phrase = ""
        head = [
            f"HTTP/1.1 {reply.status} {phrase}",
            f"Content-Type: {reply.ctype}",
            f"Content-Length: {len(reply.body)}",
            "Server: hbbacktest-replay",
            *(f"{k}: {v}" for k, v in reply.headers),
        ]
        try:
            handler.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        except OSError:
            handler.close_connection = True

    def _route(self, path: str, params: dict[str, str]) -> _Reply:
        if path in _BINANCE_KLINES:
            return self._kline(_BINANCE_KLINES[path], params)
        if path == "/v5/market/kline":
            venue = _BYBIT_CATEGORY.get(params.get("category", "linear"))
            if venue is None:
                return self._bybit_error(10001, "Illegal category", "kline", None)
            return self._kline(venue, params)
        if path in _BINANCE_INFO:
            return self._binance_info(_BINANCE_INFO[path], params)
        if path == "/v5/market/instruments-info":
            return self._bybit_info(params)
        if path in _BINANCE_TIME:
            return _Reply(200, _dumps({"serverTime": self._now_ms()}), "time", _BINANCE_TIME[path])
        if path in _BINANCE_PING:
            return _Reply(200, b"{}", "ping", _BINANCE_PING[path])
        if path == "/v5/market/time":
            now = self._now_ms()
            result = {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}
            return _Reply(200, self._bybit_envelope(result), "time")
        return _Reply(404, _html_page(404), "unknown", ctype="text/html")

    # markets

    def _binance_info(self, venue: str, params: dict[str, str]) -> _Reply:
        now = self._now_ms()
        markets = self._markets_of(venue)
        if "symbol" in params:
            markets = [m for m in markets if m.symbol == params["symbol"]]
            if not markets:
                return self._binance_error(400, -1121, "Invalid symbol.", "markets", venue)
        body = {
            "timezone": "UTC",
            "serverTime": now,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000 if venue == "binance" else 2400,
                }
            ],
            "exchangeFilters": [],
            "symbols": [m.instrument_binance() for m in markets],
        }
        return _Reply(200, _dumps(body), "markets", venue)

    def _bybit_info(self, params: dict[str, str]) -> _Reply:
        category = params.get("category", "")
        venue = _BYBIT_CATEGORY.get(category)
        if venue is None:
            return self._bybit_error(10001, "Illegal category", "markets", None)
        markets = self._markets_of(venue)
        if "symbol" in params:
            markets = [m for m in markets if m.symbol == params["symbol"]]
        if params.get("status", "Trading") != "Trading":
            markets = []
        result: dict[str, Any] = {"category": category}
        if venue == "bybit_perpetual":  # spot answers everything at once, without a cursor
            try:
                limit = int(params.get("limit", "500"))
                offset = int(params.get("cursor") or "0")
            except ValueError:
                return self._bybit_error(10001, "params error", "markets", venue)
            if not 1 <= limit <= 1000:
                return self._bybit_error(10001, "params error: limit", "markets", venue)
            if self.instruments_page_size is not None:
                limit = min(limit, self.instruments_page_size)
            page = markets[offset : offset + limit]
            more = offset + limit < len(markets)
            result["nextPageCursor"] = str(offset + limit) if more else ""
            markets = page
        result["list"] = [m.instrument_bybit() for m in markets]
        return _Reply(200, self._bybit_envelope(result), "markets", venue)

    # candles

    def _kline(self, venue: str, params: dict[str, str]) -> _Reply:
        spec = _VENUES[venue]
        fault = self._take_fault(venue, params.get("symbol"))
        if fault is not None and fault.kind in ("rate_limit", "server_error"):
            return self._fault_reply(spec, fault)
        reply = self._kline_answer(spec, params)
        if reply.status != 200 or reply.rows is None:
            if fault is not None:
                reply.fault = fault.kind
            return reply
        key = (venue, params.get("symbol", ""))
        if fault is not None:
            reply.fault = fault.kind
            if fault.kind == "empty_page":
                reply.body, reply.rows = self._kline_body(spec, params, [], 0)
            elif fault.kind == "repeat_previous":
                with self._lock:
                    previous = self._previous.get(key)
                if previous is not None:
                    reply.body, reply.rows = previous
            elif fault.kind == "truncated_json":
                reply.body = reply.body[: int(len(reply.body) * fault.keep)]
            elif fault.kind == "delay":
                reply.hold_s = fault.seconds
        with self._lock:
            self._previous[key] = (reply.body, reply.rows)
        return reply

    def _kline_answer(self, spec: _Venue, params: dict[str, str]) -> _Reply:
        def error(code: int, message: str) -> _Reply:
            if spec.family == "binance":
                return self._binance_error(400, code, message, "kline", spec.key)
            return self._bybit_error(10001, message, "kline", spec.key)

        symbol = params.get("symbol", "")
        interval = params.get("interval", "")
        if not symbol or not interval:
            missing = "symbol" if not symbol else "interval"
            return error(
                -1102,
                f"Mandatory parameter '{missing}' was not sent, was empty/null, or malformed.",
            )
        numbers: dict[str, int | None] = {}
        names = (
            ("startTime", "endTime", "limit")
            if spec.family == "binance"
            else ("start", "end", "limit")
        )
        for name in names:
            raw = params.get(name)
            try:
                numbers[name] = None if raw is None else int(raw)
            except ValueError:
                return error(-1100, f"Illegal characters found in parameter '{name}'.")
        start, end, limit = (numbers[n] for n in names)
        limit = spec.default_limit if limit is None else limit
        if not 1 <= limit <= spec.max_limit:
            return error(-1130, "Data sent for parameter 'limit' is not valid.")
        market = self._market(spec.key, symbol)
        if market is None:
            if spec.family == "binance":
                return error(-1121, "Invalid symbol.")
            return error(10001, "Not supported symbols")
        step_s = spec.intervals.get(interval)
        if step_s is None:
            return error(
                -1120, "Invalid interval." if spec.family == "binance" else "Invalid period!"
            )
        series = market.series(step_s, spec.family)
        if series is None:
            return error(
                -1120,
                f"Invalid interval. (replay: {symbol} has {market.interval_s}s candles only)",
            )
        if start is not None and end is not None and start > end:
            if spec.family == "binance":
                return error(-1023, "Start time is greater than end time.")
            lo = hi = 0
        else:
            lo, hi = _select(series.t_ms, start, end, limit)
        body, count = self._kline_body(spec, params, series.rows[lo:hi], hi - lo)
        return _Reply(200, body, "kline", spec.key, rows=count)

    def _kline_body(
        self, spec: _Venue, params: dict[str, str], rows: list[bytes], count: int
    ) -> tuple[bytes, int]:
        if spec.family == "binance":
            return b"[" + b",".join(rows) + b"]", count
        head = _dumps(
            {"category": params.get("category", "linear"), "symbol": params.get("symbol", "")}
        )
        listing = b'"list":[' + b",".join(reversed(rows)) + b"]}"
        tail = b',"retExtInfo":{},"time":' + str(self._now_ms()).encode() + b"}"
        return b'{"retCode":0,"retMsg":"OK","result":' + head[:-1] + b"," + listing + tail, count

    def _fault_reply(self, spec: _Venue, fault: Fault) -> _Reply:
        if fault.kind == "server_error":
            status = fault.status or 500
            body = _html_page(status)
            return _Reply(status, body, "kline", spec.key, ctype="text/html", fault=fault.kind)
        retry = fault.retry_after_s
        retry_text = str(int(retry)) if retry == int(retry) else repr(retry)
        headers: tuple[tuple[str, str], ...] = (("Retry-After", retry_text),)
        if spec.family == "binance":
            status = fault.status or 429
            message = (
                "Too many requests; current limit of IP(127.0.0.1) is 6000 requests per minute. "
                "Please use the websocket for live updates to avoid polling the API."
            )
            body = _dumps({"code": -1003, "msg": message})
            return _Reply(status, body, "kline", spec.key, headers=headers, fault=fault.kind)
        status = fault.status or 403
        if status == 200:
            reset = self._now_ms() + int(retry * 1000)
            headers += (
                ("X-Bapi-Limit", "600"),
                ("X-Bapi-Limit-Status", "0"),
                ("X-Bapi-Limit-Reset-Timestamp", str(reset)),
            )
            reply = self._bybit_error(
                10006, "Too many visits. Exceeded the API Rate Limit.", "kline", spec.key
            )
            reply.headers, reply.fault = headers, fault.kind
            return reply
        return _Reply(
            status,
            b"access too frequent",
            "kline",
            spec.key,
            ctype="text/plain",
            headers=headers,
            fault=fault.kind,
        )

    # envelopes

    def _bybit_envelope(self, result: Any, code: int = 0, message: str = "OK") -> bytes:
        return _dumps(
            {
                "retCode": code,
                "retMsg": message,
                "result": result,
                "retExtInfo": {},
                "time": self._now_ms(),
            }
        )

    def _bybit_error(self, code: int, message: str, kind: str, venue: str | None) -> _Reply:
        return _Reply(200, self._bybit_envelope({}, code, message), kind, venue)

    def _binance_error(
        self, status: int, code: int, message: str, kind: str, venue: str | None
    ) -> _Reply:
        return _Reply(status, _dumps({"code": code, "msg": message}), kind, venue)


# --------------------------------------------------------------------------------------------
# Pointing ccxt at the server, and keeping tests off the internet
# --------------------------------------------------------------------------------------------

_SCHEME_HOST = re.compile(r"^[a-z]+://[^/]+")


def override_api_urls(urls: Any, base_url: str) -> Any:
    """``urls`` (ccxt's ``exchange.urls['api']``) with the scheme and host of every string
    replaced by ``base_url``, recursively; paths are kept.

    Example:
        >>> override_api_urls({"public": "https://api.binance.com/api/v3"}, "http://h:1")
        {'public': 'http://h:1/api/v3'}
    """
    if isinstance(urls, str):
        return _SCHEME_HOST.sub(base_url, urls)
    if isinstance(urls, dict):
        return {k: override_api_urls(v, base_url) for k, v in urls.items()}
    return urls


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@contextmanager
def loopback_only() -> Iterator[None]:
    """Within the block, name lookups and connections to anything but loopback raise
    ``OSError`` (so a URL the override missed fails instead of reaching the internet)."""
    real_getaddrinfo: Callable[..., Any] = socket.getaddrinfo
    real_connect: Callable[..., Any] = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name not in _LOOPBACK:
            raise OSError(f"loopback_only: lookup of {name!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in _LOOPBACK:
            raise OSError(f"loopback_only: connection to {address!r} refused")
        return real_connect(sock, address)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = connect  # type: ignore[method-assign]
    try:
        yield
    finally:
        socket.getaddrinfo = real_getaddrinfo  # type: ignore[assignment]
        socket.socket.connect = real_connect  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------
# Candles to serve
# --------------------------------------------------------------------------------------------


def shared_available(file_name: str | None = None) -> bool:
    """True when the shared candles (or that one file) are on this machine."""
    return (SHARED_CANDLES / file_name).is_file() if file_name else SHARED_CANDLES.is_dir()


def load_shared(file_name: str) -> Candles:
    """``(ts, open, high, low, close, volume)`` of a file in :data:`SHARED_CANDLES`
    (ts int64 epoch seconds, the rest float64)."""
    import pyarrow.parquet as pq

    names = ["timestamp", "open", "high", "low", "close", "volume"]
    table = pq.read_table(SHARED_CANDLES / file_name, columns=names)
    ts = table.column("timestamp").to_numpy().astype(np.int64)
    o, h, lo, c, v = (table.column(n).to_numpy().astype(np.float64) for n in names[1:])
    return ts, o, h, lo, c, v


def built_candles(
    n: int, start_ts: int = 1_704_067_200, interval_s: int = 60, seed: int = 0
) -> Candles:
    """``n`` valid, deterministic candles (a random walk near 100, prices on a 0.01 tick)."""
    rng = np.random.default_rng(seed)
    close = np.round(100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.002, n))), 2)
    open_ = np.round(np.r_[100.0, close[:-1]], 2)[:n]
    wick = np.round(np.abs(rng.normal(0.0, 0.05, (2, n))), 2)
    high = np.round(np.maximum(open_, close) + wick[0], 2)
    low = np.round(np.minimum(open_, close) - wick[1], 2)
    volume = np.round(rng.uniform(0.1, 10.0, n), 4)
    ts = start_ts - start_ts % interval_s + interval_s * np.arange(n, dtype=np.int64)
    return ts, open_, high, low, close, volume
