"""Candles from exchanges through ccxt: the only module that imports ccxt.

:class:`ExchangeClient` turns a (pair, interval, window) into a stream of :class:`Page` s, each
the answer for one window of at most ``page_limit`` candles. A page covers exactly the time
range it asked for, so the cache can record what was asked and tell a real exchange gap (asked,
nothing there) from a hole (never asked).

Rules, each for a failure seen in the field:

* **Pages are windows, not cursors.** Each request asks for ``[since, until]`` holding at most
  ``page_limit`` candles. Exchanges that page backwards (Bybit, OKX answer the *newest* rows of
  a window) and forwards (Binance) are read the same way, and a page never skips rows.
* **Every answer is checked.** Rows outside the asked window are dropped; an answer that holds
  only rows *before* the window (a repeated page, an ignored ``since``) is retried; rows must be
  aligned on the interval and hold finite, positive prices. Exchanges that return ``None`` or
  a malformed body (Hummingbot's ``'NoneType'`` and ``IndexError`` reports) get a clear
  ExchangeError naming the exchange, pair, interval and window, never a crash downstream.
* **An empty answer is confirmed before it becomes a gap.** A forward-paging exchange is asked
  once more without ``until`` (its first rows after ``since`` also tell where the data resumes,
  which skips long empty stretches in one request); others are asked the same window again.
* **The still-forming candle is never returned**: the window ends at the last complete candle.
* **Retries are bounded.** 429/418 (waiting what ``Retry-After`` says), 5xx, timeouts, network
  errors and malformed answers are retried with exponential backoff; the total wait over a
  fetch is capped, then :class:`ExchangeTemporaryError` says what kept failing.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbbacktest.core.errors import (
    ConfigError,
    ExchangeError,
    ExchangeTemporaryError,
    did_you_mean,
)
from hbbacktest.core.time import format_time, interval_to_seconds
from hbbacktest.data.candles import Candles
from hbbacktest.data.coverage import SETTLE_S, last_complete_open
from hbbacktest.data.sources.venues import Venue

_HOST = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/]+")
_DEFAULT_PAGE_LIMIT = 500
_MAX_PAGE_LIMIT = 5000
#: Longest interval fetched: longer candles (weeks, months) do not open on the epoch grid.
MAX_FETCH_STEP_S = 86_400
#: Requests one page's worth of candles may take (retries, re-asks, short answers) before
#: the exchange is declared to page differently from its table entry.
_MAX_REQUESTS_PER_PAGE = 40


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to retry a failing exchange.

    Attributes:
        attempts: tries per request before giving up (default 8).
        base_delay_s: first backoff; doubled after each failure (default 0.5 s).
        max_delay_s: longest single backoff, unless ``Retry-After`` asks for more (30 s).
        max_total_wait_s: the most one fetch may spend waiting, over all requests (300 s).
        timeout_s: HTTP timeout of one request (30 s).
    """

    attempts: int = 8
    base_delay_s: float = 0.5
    max_delay_s: float = 30.0
    max_total_wait_s: float = 300.0
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Page:
    """The exchange's answer for one window of candle open times ``[start, end]`` (epoch s).

    ``candles`` holds every candle the exchange has in the window (possibly none: a real gap).
    """

    start: int
    end: int
    candles: Candles


def override_urls(api: Any, base_url: str) -> Any:
    """Point every URL of a ccxt ``urls['api']`` entry at ``base_url``, keeping the paths.

    ``https://api.binance.com/api/v3`` with ``http://127.0.0.1:8080`` becomes
    ``http://127.0.0.1:8080/api/v3``; nested dicts are walked; templates such as
    ``https://api.{hostname}`` are replaced whole.

    Example:
        >>> override_urls({"public": "https://api.x.com/v1"}, "http://127.0.0.1:9/")
        {'public': 'http://127.0.0.1:9/v1'}
    """
    base = base_url.rstrip("/")
    if isinstance(api, str):
        return _HOST.sub(lambda _: base, api, count=1)
    if isinstance(api, dict):
        return {key: override_urls(value, base_url) for key, value in api.items()}
    return api


class ExchangeClient:
    """One exchange's public candle endpoint, through ccxt.

    Args:
        venue: the connector's row of :data:`hbbacktest.data.sources.venues.VENUES`.
        base_url: send requests there instead of the exchange (a proxy, testnet or local
            replay server); paths are kept.
        retry: the retry policy.
        rate_limit: use ccxt's rate limiter (default on; tests against a local server may
            turn it off).
        now: the clock (epoch s) deciding which candle is still forming.
        sleep: how to wait between retries.

    Raises:
        ConfigError: ccxt is not installed (names the package to install).
    """

    def __init__(
        self,
        venue: Venue,
        *,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        rate_limit: bool = True,
        now: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.venue = venue
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self._now = now
        self._sleep = sleep
        self._waited_s = 0.0
        self.requests = 0
        try:
            import ccxt
        except ImportError as exc:  # pragma: no cover - ccxt is a dependency
            raise ConfigError("fetching candles needs the ccxt package: pip install ccxt") from exc
        self._ccxt = ccxt
        factory = getattr(ccxt, venue.ccxt_id)
        self._exchange = factory(
            {
                "enableRateLimit": rate_limit,
                "timeout": int(self.retry.timeout_s * 1000),
                "options": dict(venue.options),
            }
        )
        if base_url:
            self._exchange.urls["api"] = override_urls(self._exchange.urls["api"], base_url)
        self._markets_loaded = False

    # --- public ----------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The connector name, with the base URL when overridden (for messages)."""
        return self.venue.connector + (f" (at {self.base_url})" if self.base_url else "")

    def page_limit(self) -> int:
        """Candles per request: the venue table's figure, else ccxt's, else 500."""
        if self.venue.page_limit:
            return self.venue.page_limit
        features = self._exchange.features or {}
        kind = features.get("spot" if self.venue.kind == "spot" else "swap") or {}
        if self.venue.kind == "perpetual":
            kind = kind.get("linear") or {}
        limit = (kind.get("fetchOHLCV") or {}).get("limit")
        if isinstance(limit, int) and limit > 0:
            return min(limit, _MAX_PAGE_LIMIT)
        return _DEFAULT_PAGE_LIMIT

    def check_market(self, trading_pair: str, interval: str) -> str:
        """Load the exchange's markets and return the ccxt symbol of the pair.

        Raises:
            ConfigError: the exchange lists no such market, or does not serve the interval
                (with the closest symbols and the intervals it serves).
            ExchangeError / ExchangeTemporaryError: the market list could not be loaded.
        """
        symbol = self.venue.symbol(trading_pair)
        if not self._markets_loaded:
            self._call(self._exchange.load_markets, what="the market list")
            self._markets_loaded = True
        markets = self._exchange.markets or {}
        if symbol not in markets:
            raise ConfigError(
                f"{self.name} has no market {trading_pair} (ccxt symbol {symbol})"
                f"{did_you_mean(symbol, markets)}; check --pair (Hummingbot's BASE-QUOTE)"
            )
        timeframes = self._exchange.timeframes or {}
        if interval not in timeframes:
            raise ConfigError(
                f"{self.name} serves no {interval} candles; its intervals: {', '.join(timeframes)}"
            )
        return symbol

    def fetch(self, trading_pair: str, interval: str, start: int, end: int) -> Iterator[Page]:
        """Every page of candles with open time in ``[start, end]`` (epoch s), in time order.

        One fetch of one range; see :meth:`fetch_ranges`.
        """
        return self.fetch_ranges(trading_pair, interval, [(start, end)])

    def fetch_ranges(
        self, trading_pair: str, interval: str, ranges: Sequence[tuple[int, int]]
    ) -> Iterator[Page]:
        """Every page of candles for several ranges of open times, in order; one wait budget.

        Ranges are cut at the last settled candle (closed at least ``SETTLE_S`` ago); pages
        never overlap, and an empty page is a range the exchange confirmed it has nothing
        for. The newest two candle slots are never recorded as a gap: an exchange may publish
        a candle a little late.

        Raises:
            ConfigError: unknown market, or an interval the exchange does not serve or that
                does not open on the epoch grid (weeks, months).
            ExchangeError: the exchange refused the request or keeps answering nonsense.
            ExchangeTemporaryError: retries ran out (rate limits, 5xx, network).
        """
        step = interval_to_seconds(interval)
        if step > MAX_FETCH_STEP_S:
            raise ConfigError(
                f"fetching {interval} candles is not supported: candles longer than a day do not "
                "open on the epoch grid (weekly ones open on Mondays); fetch 1d and let the "
                "controller resample, or import the candles"
            )
        symbol = self.check_market(trading_pair, interval)
        self._waited_s = 0.0  # one budget for the whole fetch
        newest = last_complete_open(self._now() - SETTLE_S, step)
        for start, end in ranges:
            first = -(-start // step) * step
            last = (min(end, newest) // step) * step
            if first <= last:
                yield from self._range(symbol, trading_pair, interval, step, first, last, newest)

    def _range(
        self,
        symbol: str,
        pair: str,
        interval: str,
        step: int,
        start: int,
        end: int,
        newest: int,
    ) -> Iterator[Page]:
        """Pages for ``[start, end]``; a page's range is only what its answer proves.

        A page with candles covers its first to last candle. The stretch before its first
        candle is asked again on its own (a backward-paging exchange that cut the window
        short answers its newest rows), and the next page starts after its last candle (a
        forward-paging one that cut it short answers its oldest). A range becomes a gap only
        once an answer for it alone came back empty and was confirmed. Work is a stack, not
        recursion: an exchange answering one row at a time cannot exhaust Python's stack.
        """
        limit = self.page_limit()
        budget = _MAX_REQUESTS_PER_PAGE * (-(-(end - start + step) // (limit * step)) + 1)
        sent = self.requests
        fresh = newest - step  # the two newest slots are never recorded as empty
        todo: list[tuple[int, int] | Page] = [(start, end)]
        while todo:
            item = todo.pop()
            if isinstance(item, Page):
                yield item
                continue
            cursor, stop = item
            if cursor > stop:
                continue
            if self.requests - sent > budget:
                raise ExchangeError(
                    f"{self.name} answered {pair} {interval} candles {format_time(start)} – "
                    f"{format_time(end)} UTC with so few rows per request that {budget} requests "
                    "did not cover it; the exchange's page size is smaller than its table entry"
                )
            page_end = min(stop, cursor + (limit - 1) * step)
            where = (
                f"{self.venue.connector} {pair} {interval} candles "
                f"{format_time(cursor)} – {format_time(page_end)} UTC"
            )
            rows = self._page(symbol, interval, step, cursor, page_end, limit, where)
            if rows is None:
                # Nothing in the window: confirm, and learn where the data resumes if we can.
                resume = self._confirm_empty(symbol, interval, step, cursor, page_end, limit, where)
                if not isinstance(resume, np.ndarray):
                    gap_end = page_end if resume is None else min(stop, resume - step)
                    todo.append((gap_end + step, stop))
                    recorded_end = min(gap_end, fresh - step)
                    if recorded_end >= cursor:
                        todo.append(Page(cursor, recorded_end, Candles.empty(step)))
                    continue
                rows = resume
            first, last = int(rows[0, 0]), int(rows[-1, 0])
            # Pushed in reverse: the stretch before the page, the page, then what follows.
            todo.append((last + step, stop))
            todo.append(Page(first, last, _to_candles(rows, step)))
            if first > cursor:
                todo.append((cursor, first - step))

    # --- one request ------------------------------------------------------------------------

    def _page(
        self,
        symbol: str,
        interval: str,
        step: int,
        since: int,
        until: int,
        limit: int,
        where: str,
    ) -> np.ndarray | None:
        """Rows inside ``[since, until]`` (None when none); retries answers that make no sense."""
        for attempt in range(self.retry.attempts):
            rows = self._ask(symbol, interval, step, since, limit, where, until=until)
            if not len(rows):
                return None
            inside = rows[(rows[:, 0] >= since) & (rows[:, 0] <= until)]
            if len(inside):
                return inside
            if rows[0, 0] > until and self._pages_forward:
                return None  # the exchange's data starts later; _confirm_empty finds where
            # Rows only outside the window: a repeated page, or an ignored start or end time.
            self._backoff(attempt, where, "answered with candles outside the window asked")
        raise self._ignores_window(where)

    def _ignores_window(self, where: str) -> ExchangeError:
        return ExchangeError(
            f"{self.name} keeps answering {where} with candles outside that window "
            f"({self.retry.attempts} tries); the exchange ignores the requested times"
        )

    @property
    def _pages_forward(self) -> bool:
        """The exchange answers a start time with its oldest candles from there on."""
        return self.venue.forward_paging or self.venue.history_limit is not None

    def _confirm_empty(
        self,
        symbol: str,
        interval: str,
        step: int,
        since: int,
        until: int,
        limit: int,
        where: str,
    ) -> np.ndarray | int | None:
        """Ask again: rows of the window, the open time where data resumes, or None (a gap).

        Only an exchange that pages forwards is asked without an end time: its first rows after
        ``since`` say where its data resumes. Any other is asked the same window again.
        """
        forward = self._pages_forward
        for attempt in range(self.retry.attempts):
            rows = self._ask(
                symbol, interval, step, since, limit, where, until=None if forward else until
            )
            if not len(rows):
                return None
            later = rows[rows[:, 0] >= since]
            inside = later[later[:, 0] <= until]
            if len(inside):
                return inside
            if len(later) and forward:
                return int(later[0, 0])
            # Only rows outside the window: a repeated page, not an answer about it.
            self._backoff(attempt, where, "answered with candles outside the window asked")
        raise self._ignores_window(where)

    def _ask(
        self,
        symbol: str,
        interval: str,
        step: int,
        since: int,
        limit: int,
        where: str,
        *,
        until: int | None,
    ) -> np.ndarray:
        """One request's checked rows; a malformed answer is asked again, then an error."""
        params = {} if until is None else {"until": until * 1000}
        problem = ""
        for attempt in range(self.retry.attempts):
            raw = self._call(
                lambda: self._exchange.fetch_ohlcv(symbol, interval, since * 1000, limit, params),
                what=where,
            )
            try:
                rows = _parse_rows(raw, step)
                if not len(rows):
                    _check_empty_body(self._exchange.last_http_response)
                return rows
            except _BadAnswer as exc:
                problem = str(exc)
                self._backoff(attempt, where, f"answered {problem}")
        raise ExchangeTemporaryError(
            f"{self.name} answered {problem} for {where}, {self.retry.attempts} times in a row; "
            "what was fetched before is cached, run the same command again later"
        )

    def _call(self, fn: Callable[[], Any], *, what: str) -> Any:
        """Run one ccxt call with the retry policy; ccxt errors become ours here."""
        ccxt = self._ccxt
        last = ""
        for attempt in range(self.retry.attempts):
            self.requests += 1
            try:
                return fn()
            except ccxt.BadSymbol as exc:
                raise ConfigError(f"{self.name} rejected {what}: {_short(exc)}") from exc
            except (ccxt.DDoSProtection, ccxt.RateLimitExceeded) as exc:
                last = f"rate limited ({_short(exc)})"
                self._backoff(attempt, what, last, retry_after=self._retry_after())
            except (ccxt.NetworkError, ccxt.BadResponse) as exc:
                status = _http_status(exc)
                if status is not None and 400 <= status < 500 and status not in _RETRIED_4XX:
                    # ccxt files 403/404/451 … under ExchangeNotAvailable; waiting fixes none.
                    raise ExchangeError(
                        f"{self.name} refused {what} with HTTP {status}: {_short(exc)}"
                        f"{_REFUSAL_HINTS.get(status, '')}"
                    ) from exc
                last = f"{type(exc).__name__}: {_short(exc)}"
                self._backoff(attempt, what, last)
            except ccxt.BaseError as exc:
                if _server_error(exc):
                    last = f"server error ({_short(exc)})"
                    self._backoff(attempt, what, last)
                    continue
                raise ExchangeError(f"{self.name} refused {what}: {_short(exc)}") from exc
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                # ccxt parsing a malformed body (truncated JSON, nulls): retry, then report.
                last = f"malformed answer ({type(exc).__name__}: {_short(exc)})"
                self._backoff(attempt, what, last)
        raise ExchangeTemporaryError(
            f"{self.name} failed {self.retry.attempts} times for {what}; last: {last}. "
            "What was fetched before is cached; run the same command again later"
        )

    def _retry_after(self) -> float | None:
        headers = self._exchange.last_response_headers or {}
        value = None
        for key, raw in dict(headers).items():
            if str(key).lower() == "retry-after":
                value = str(raw).strip()
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())

    def _backoff(
        self, attempt: int, what: str, reason: str, *, retry_after: float | None = None
    ) -> None:
        """Wait before the next try, or raise when this was the last one or the budget is spent."""
        policy = self.retry
        if attempt + 1 >= policy.attempts:
            return  # the caller raises with the full story
        delay = min(policy.max_delay_s, policy.base_delay_s * 2**attempt)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if self._waited_s + delay > policy.max_total_wait_s:
            asked = f" (the exchange asked to wait {retry_after:g} s)" if retry_after else ""
            raise ExchangeTemporaryError(
                f"{self.name} {reason} for {what}; waiting {delay:g} s more{asked} would pass "
                f"the {policy.max_total_wait_s:g} s retry budget. What was fetched before is "
                "cached; run the same command again later"
            )
        self._waited_s += delay
        self._sleep(delay)


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit] + "…"


# ccxt's HTTP errors read "<exchange> GET <url> <status> <reason> <body>".
_HTTP_STATUS = re.compile(r"\b(?:GET|POST) \S+ (\d{3})\b")
_RETRIED_4XX = (408, 418, 425, 429)
_BLOCKED = (
    "; the exchange refuses this machine's location or address: point the connector at a "
    "proxy with HBBACKTEST_EXCHANGE_URLS, or import candle files (hbbacktest data import)"
)
_REFUSAL_HINTS = {
    403: _BLOCKED,
    451: _BLOCKED,
    404: "; is the base URL in HBBACKTEST_EXCHANGE_URLS right?",
}


def _http_status(exc: BaseException) -> int | None:
    """The HTTP status in a ccxt error's text, or None when it names none."""
    found = _HTTP_STATUS.search(str(exc)[:2000])
    return int(found.group(1)) if found else None


def _server_error(exc: BaseException) -> bool:
    """True for a 5xx that ccxt raised as a bare ExchangeError (its text holds the code)."""
    status = _http_status(exc)
    return status is not None and 500 <= status < 600


class _BadAnswer(Exception):
    """An answer that is not valid candle rows; asked again, then an ExchangeError."""


def _check_empty_body(body: Any) -> None:
    """Refuse an empty result that hides an answer ccxt could not or would not pass on.

    ccxt turns a truncated body into ``[]``, and drops candles older than ``since`` (so a
    repeated page also arrives as ``[]``): neither may pass for "nothing there".
    """
    if body is None:
        return
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise _BadAnswer(f"a body that is not valid JSON ({exc}): {str(body)[:80]!r}") from None
    if _holds_rows(parsed):
        raise _BadAnswer("candles from outside the window asked (a repeated page?)")


def _holds_rows(value: Any, depth: int = 0) -> bool:
    """True when a JSON answer holds a non-empty list of candle rows (lists of ≥ 5 fields).

    Exchanges wrap their rows differently (a bare list, ``result.list``, ``data``); looking
    for the shape keeps this free of per-exchange code.
    """
    if depth > 4:
        return False
    if isinstance(value, list):
        if value and isinstance(value[0], list) and len(value[0]) >= 5:
            return True
        return any(_holds_rows(item, depth + 1) for item in value[:3])
    if isinstance(value, dict):
        return any(_holds_rows(item, depth + 1) for item in value.values())
    return False


def _parse_rows(raw: Any, step: int) -> np.ndarray:
    """Parse ccxt rows ``[[ms, o, h, l, c, v], …]`` into a checked ``(n, 6)`` array (seconds).

    Raises:
        _BadAnswer: null, not a list, rows that are not 6 numbers, missing values, open
            times off the interval's grid, non-positive prices or negative volume.
    """
    if raw is None:
        raise _BadAnswer("nothing (null)")
    if not isinstance(raw, list):
        raise _BadAnswer(f"{type(raw).__name__}, not candle rows")
    if not raw:
        return np.empty((0, 6), dtype=np.float64)
    try:
        rows = np.array([row[:6] for row in raw], dtype=np.float64)
    except (TypeError, ValueError, IndexError) as exc:
        raise _BadAnswer(f"malformed candle rows ({exc}; first row {str(raw[0])[:120]})") from exc
    if rows.ndim != 2 or rows.shape[1] != 6:
        raise _BadAnswer("rows without 6 fields")
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        at = int(np.flatnonzero(bad)[0])
        raise _BadAnswer(f"{int(bad.sum())} candle(s) with missing values, e.g. {raw[at]!r}")
    if (rows[:, 0] % 1000).any():
        raise _BadAnswer("open times that are not whole seconds")
    rows[:, 0] = rows[:, 0] // 1000
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    # The same open time twice: keep the later row (the fresher of two answers).
    keep = np.ones(len(rows), dtype=bool)
    keep[:-1] = rows[1:, 0] != rows[:-1, 0]
    rows = rows[keep]
    if step <= 86_400 and (rows[:, 0] % step).any():
        at = int(np.flatnonzero(rows[:, 0] % step)[0])
        raise _BadAnswer(f"a candle at {format_time(int(rows[at, 0]))} UTC, off the {step} s grid")
    if (rows[:, 1:5] <= 0).any() or (rows[:, 5] < 0).any():
        raise _BadAnswer("non-positive prices or negative volume")
    return rows


def _to_candles(rows: np.ndarray, step: int) -> Candles:
    """Rows from :func:`_parse_rows` as Candles; high/low widened to hold open and close.

    Exchanges round OHLC independently, so a high a hair below the close happens; it is
    widened rather than refused (the store's validation would reject the page).
    """
    ts = rows[:, 0].astype(np.int64)
    o, h, low, c, v = (np.ascontiguousarray(rows[:, i]) for i in range(1, 6))
    h = np.maximum(h, np.maximum(o, c))
    low = np.minimum(low, np.minimum(o, c))
    return Candles(ts=ts, open=o, high=h, low=low, close=c, volume=v, interval_s=step)


def client_for(
    venue: Venue,
    *,
    urls: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    rate_limit: bool = True,
) -> ExchangeClient:
    """An :class:`ExchangeClient` for a venue, at the base URL ``urls`` names for it, if any."""
    base_url = (urls or {}).get(venue.connector)
    return ExchangeClient(venue, base_url=base_url, retry=retry, rate_limit=rate_limit)


__all__ = [
    "ExchangeClient",
    "Page",
    "RetryPolicy",
    "client_for",
    "override_urls",
]
