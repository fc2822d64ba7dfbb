"""The one way the rest of hbbacktest gets candles: :class:`CandleAccess`.

``CandleAccess.candles(connector, pair, interval, start, end, warmup_bars=…)`` returns
validated candles from the local cache, first fetching from the exchange whatever part of the
window was never asked for (when online), and says in warnings what it could not give: data
that starts later or ends earlier than asked, gaps inside the window, a short exchange history.
It never returns ``None`` or an empty series: no candles is a :class:`DataMissingError` that
names the exchange, pair, interval and window and the command that gets them.

Concurrency: fetching holds the dataset's writer lock, and the holes are computed again once
the lock is held, so processes that want the same range wait for the first and then find it
cached: no range is downloaded twice. Pages are committed as they arrive (atomic rewrites),
so a fetch killed at any moment leaves a readable cache holding every committed page.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hbbacktest.core.errors import (
    ConfigError,
    DataError,
    DataMissingError,
    DatasetCorruptError,
    ExchangeError,
    OutputError,
)
from hbbacktest.core.time import format_iso, format_time, interval_to_seconds
from hbbacktest.data.candles import Candles
from hbbacktest.data.coverage import (
    SETTLE_S,
    Range,
    last_complete_open,
    merge_ranges,
    missing_ranges,
)
from hbbacktest.data.sources.demo import DEMO_CONNECTOR, DEMO_END, DEMO_START, demo_candles
from hbbacktest.data.sources.venues import VENUES, Venue
from hbbacktest.data.store import CandleStore, canonical_interval, check_trading_pair

if TYPE_CHECKING:
    from hbbacktest.data.sources.exchange import Page


class CandleClient(Protocol):
    """What :class:`CandleAccess` needs from an exchange client (see ``ExchangeClient``)."""

    requests: int

    def fetch_ranges(
        self, trading_pair: str, interval: str, ranges: Sequence[tuple[int, int]]
    ) -> Iterator[Page]:
        """Pages covering the ranges, in time order, with one wait budget."""
        ...


class CandleSource(Protocol):
    """Anything that answers :meth:`CandleAccess.candles` (the cache, or preloaded memory)."""

    def candles(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        start: int,
        end: int,
        *,
        warmup_bars: int = 0,
    ) -> CandleWindow:
        """Validated candles of a window; see :meth:`CandleAccess.candles`."""
        ...


#: Commit a fetch to disk after this many new candles (and at its end): bounds what a kill
#: loses without rewriting the file for every page.
COMMIT_ROWS = 100_000
#: How long a process waits for another one fetching the same dataset.
FETCH_LOCK_TIMEOUT_S = 3600.0


@dataclass(frozen=True)
class FetchProgress:
    """Where a running fetch is, for a progress bar.

    Attributes:
        connector: the connector fetched from.
        trading_pair: the pair.
        interval: the interval.
        done_s: seconds of the missing window already asked for.
        total_s: seconds of the missing window in all.
        rows: candles received so far.
        requests: requests sent so far (retries included).
    """

    connector: str
    trading_pair: str
    interval: str
    done_s: int
    total_s: int
    rows: int
    requests: int


@dataclass(frozen=True)
class FetchReport:
    """What one fill of a window did.

    Attributes:
        path: the dataset file.
        asked: the ranges that were missing and got asked for.
        rows: candles received.
        requests: requests sent (0 when everything was cached).
        seconds: wall time.
        warnings: a corrupt file set aside, a short history …
    """

    path: str
    asked: tuple[Range, ...] = ()
    rows: int = 0
    requests: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandleWindow:
    """Candles for one (connector, pair, interval, window), with what the caller should know.

    Attributes:
        candles: the candles with open time in ``[first, end]`` (never empty).
        first: the first open time asked for (``start`` minus the warm-up bars).
        start: the requested start.
        end: the requested end.
        warnings: honest-window notes: later start, earlier end, gaps, short history.
        source: where the candles come from, for the result (``binance (cache …)``).
        fetch: what was fetched for this window (None when nothing was asked).
    """

    candles: Candles
    first: int
    start: int
    end: int
    warnings: tuple[str, ...] = ()
    source: str = ""
    fetch: FetchReport | None = None


@dataclass
class CandleAccess:
    """Candles from the cache, fetching what is missing unless ``offline``.

    Args:
        store: the Parquet cache.
        offline: never touch the network; a hole is a DataMissingError naming the command
            that fetches it.
        exchange_urls: connector → base URL overrides (a proxy, testnet, local replay server).
        client_factory: builds the exchange client of a venue (tests and benchmarks pass one
            without rate limiting); default :func:`hbbacktest.data.sources.exchange.client_for`.
        progress: called after each page of a fetch.
        notify: called with operational notes that are not part of a result (a corrupt file
            set aside and fetched again, a warm-up that could not be fetched).
        lock_timeout_s: how long to wait for another process fetching the same dataset.
        commit_rows: commit a running fetch after this many new candles.
        now: the clock (epoch s) that decides which candle is still forming.

    An instance keeps one exchange client per venue (markets are loaded once); use one
    instance per thread, as ccxt's clients are not thread-safe. It pickles without its
    clients, and a forked child builds its own, so a process pool or Ray can take it along.

    Example:
        >>> access = CandleAccess(CandleStore("data"), offline=True)
        >>> window = access.candles("demo", "BTC-USDT", "1m", 1704067200, 1704070800)
        >>> len(window.candles)
        61
    """

    store: CandleStore
    offline: bool = False
    exchange_urls: Mapping[str, str] = field(default_factory=dict)
    client_factory: Callable[[Venue], CandleClient] | None = None
    progress: Callable[[FetchProgress], None] | None = None
    notify: Callable[[str], None] | None = None
    lock_timeout_s: float = FETCH_LOCK_TIMEOUT_S
    commit_rows: int = COMMIT_ROWS
    now: Callable[[], float] = time.time
    # One client per venue for this access's lifetime: loading an exchange's market list
    # (Binance spot's is megabytes) once, not once per fetched window.
    _clients: dict[str, CandleClient] = field(default_factory=dict, init=False, repr=False)
    _pid: int = field(default_factory=os.getpid, init=False, repr=False)

    def __getstate__(self) -> dict[str, object]:
        # Sent to a worker process (a pool, Ray): live exchange clients and their sockets stay
        # behind; the worker builds its own on first use.
        state = dict(self.__dict__)
        state["_clients"] = {}
        return state

    # --- the one function -----------------------------------------------------------------

    def candles(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        start: int,
        end: int,
        *,
        warmup_bars: int = 0,
    ) -> CandleWindow:
        """Validated candles with open time in ``[start - warmup_bars × interval, end]``.

        Args:
            connector: Hummingbot connector name (``binance``, ``okx_perpetual`` …, ``demo``).
            trading_pair: ``BASE-QUOTE``.
            interval: candle interval, e.g. ``1m``.
            start: first open time of the window (epoch s).
            end: last open time of the window (epoch s), inclusive.
            warmup_bars: candles wanted before ``start`` for indicators to warm up.

        Raises:
            ConfigError: bad names, an interval or market the exchange does not serve.
            DataMissingError: no candles in the window (names the command that gets them), or
                a hole in offline mode.
            DataError: the cache is corrupt and cannot be rebuilt (offline, or no exchange).
            ExchangeError / ExchangeTemporaryError: the exchange refused, or kept failing.
        """
        step = interval_to_seconds(interval)
        interval = canonical_interval(interval)
        pair = check_trading_pair(trading_pair)
        if warmup_bars < 0:
            raise ConfigError(f"warmup_bars must be >= 0, not {warmup_bars}")
        first = -(-start // step) * step - warmup_bars * step
        if connector == DEMO_CONNECTOR:
            return self._demo(pair, interval, first, start, end)
        report = None
        venue = VENUES.get(connector)
        holes = self._holes(connector, pair, interval, first, end, step)
        # Warm-up candles improve indicators but are not the window itself: a warm-up the
        # cache lacks offline, or that the exchange cannot give now, is a warning (the caller
        # counts what it got), never the reason a run fails.
        main_start = -(-start // step) * step
        main_holes = [(max(a, main_start), b) for a, b in holes if b >= main_start]
        online = venue is not None and not self.offline
        if holes and online:
            try:
                report = self.fill(connector, pair, interval, first, end)
            except ExchangeError as exc:
                if main_holes:
                    raise
                self._note(f"the warm-up candles could not be fetched: {exc}")
        elif main_holes and venue is not None:
            raise DataMissingError(self._offline_message(connector, pair, interval, main_holes))
        try:
            candles = self._load(connector, pair, interval, first, end, venue)
        except DatasetCorruptError as exc:
            if venue is None:
                raise
            if not online:
                raise DataError(
                    f"{exc}. Online, hbbacktest sets such a file aside and fetches its candles "
                    f"again: {_fetch_command(connector, pair, interval, first, end)}"
                ) from None
            # Unreadable values under a readable coverage record: rebuild (fill sets it aside).
            report = self.fill(connector, pair, interval, first, end)
            candles = self._load(connector, pair, interval, first, end, venue)
        if report is not None:
            for note in report.warnings:
                self._note(note)
        return CandleWindow(
            candles=candles,
            first=first,
            start=start,
            end=end,
            warnings=tuple(
                window_warnings(candles, connector, pair, interval, first, start, end, venue=venue)
            ),
            source=self.describe(connector),
            fetch=report,
        )

    def describe(self, connector: str) -> str:
        """Where a connector's candles come from, for results and messages.

        The same for a run that fetched and one that found everything cached, so the same
        request on the same candles gives the same result, byte for byte.
        """
        if connector == DEMO_CONNECTOR:
            return "demo connector (synthetic candles, not market data)"
        return f"candle store {self.store.data_dir.absolute()}"

    def _note(self, message: str) -> None:
        if self.notify is not None:
            self.notify(message)

    # --- fetching ---------------------------------------------------------------------------

    def fill(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        start: int,
        end: int,
        *,
        refetch: bool = False,
    ) -> FetchReport:
        """Fetch every never-asked part of ``[start, end]`` into the cache; return what it did.

        Holds the dataset's lock while fetching; holes are recomputed under it, so a second
        process asking for the same range finds it cached. Pages are committed every
        ``commit_rows`` candles and at the end, also when the fetch fails or is interrupted.
        With ``refetch`` the whole window is asked again (its candles are replaced), to repair
        a range the exchange has since filled or corrected.

        Raises:
            ConfigError: no exchange source for the connector, unknown market or interval.
            DataError: ``offline`` is set.
            ExchangeError / ExchangeTemporaryError: see :class:`ExchangeClient`.
        """
        from hbbacktest.data.sources.venues import venue as find_venue

        step = interval_to_seconds(interval)
        interval = canonical_interval(interval)
        pair = check_trading_pair(trading_pair)
        source = find_venue(connector)
        if self.offline:
            raise DataError(f"offline mode: not fetching {connector} {pair} {interval}")
        last_open = last_complete_open(self.now() - SETTLE_S, step)
        with self.store.updating(
            connector, pair, interval, lock_timeout_s=self.lock_timeout_s
        ) as update:
            began = time.monotonic()  # after the lock: waiting for another fetch is not fetching
            notes = []
            if update.set_aside is not None:
                notes.append(
                    f"the cached {connector} {pair} {interval} candles were corrupt "
                    f"({update.problem}); the file was moved to {update.set_aside} and the "
                    "window fetched again"
                )
            covered = [] if refetch else update.coverage
            holes = missing_ranges(start, min(end, last_open), covered, step)
            if not holes:
                return FetchReport(str(update.path.absolute()), warnings=tuple(notes))
            client = self._client(source)
            sent_before = client.requests
            total_s = sum(b - a + step for a, b in holes)
            done_s = rows = 0
            try:
                for page in client.fetch_ranges(pair, interval, holes):
                    update.add(page.candles, (page.start, page.end))
                    rows += len(page.candles)
                    done_s += page.end - page.start + step
                    if update.pending_rows >= self.commit_rows:
                        update.commit()
                    if self.progress is not None:
                        self.progress(
                            FetchProgress(
                                connector,
                                pair,
                                interval,
                                done_s,
                                total_s,
                                rows,
                                client.requests - sent_before,
                            )
                        )
            finally:
                # Keep every page received, also when the fetch failed or was interrupted;
                # a failing commit must not hide the error that stopped the fetch.
                with contextlib.suppress(DataError, OutputError, OSError):
                    update.commit()
            update.commit()
            return FetchReport(
                str(update.path.absolute()),
                asked=tuple(holes),
                rows=rows,
                requests=client.requests - sent_before,
                seconds=time.monotonic() - began,
                warnings=tuple(notes),
            )

    def _client(self, source: Venue) -> CandleClient:
        if self._pid != os.getpid():
            # A forked child must not share the parent's keep-alive connections.
            self._clients, self._pid = {}, os.getpid()
        client = self._clients.get(source.connector)
        if client is None:
            if self.client_factory is not None:
                client = self.client_factory(source)
            else:
                from hbbacktest.data.sources.exchange import client_for

                client = client_for(source, urls=self.exchange_urls)
            self._clients[source.connector] = client
        return client

    # --- reading ----------------------------------------------------------------------------

    def _holes(
        self, connector: str, pair: str, interval: str, first: int, end: int, step: int
    ) -> list[Range]:
        """Never-asked parts of the window, up to the last complete candle.

        A corrupt dataset counts as one hole (a fetch sets it aside and rebuilds it); a dataset
        only stored at a finer interval counts as covered (it is resampled on load).
        """
        last_open = last_complete_open(self.now() - SETTLE_S, step)
        stop = min(end, last_open)
        if stop < first:
            return []
        try:
            coverage = self.store.coverage(connector, pair, interval)
        except DatasetCorruptError:
            if connector in VENUES and not self.offline:
                return [(first, stop)]  # fill() sets the corrupt file aside and rebuilds it
            raise
        if coverage is not None:
            return missing_ranges(first, stop, coverage, step)
        # Resampled from a finer dataset: the last coarse candle needs fine ones up to its
        # own close. Online, any hole fetches the interval itself for the whole window (the
        # coarse dataset then serves it); offline, the finer dataset's holes are the holes.
        best: list[Range] | None = None
        for finer in self.store.finer_intervals(connector, pair, interval):
            fine_step = interval_to_seconds(finer)
            try:
                fine = self.store.coverage(connector, pair, finer) or []
            except DataError:
                continue
            last_fine = (stop // step) * step + step - fine_step
            fine_holes = missing_ranges(first, last_fine, fine, fine_step)
            coarse = merge_ranges(
                [((a // step) * step, min(stop, (b // step) * step)) for a, b in fine_holes],
                step,
            )
            if best is None or len(coarse) < len(best) or not coarse:
                best = coarse
            if not coarse:
                break
        if best is None or (best and not self.offline and connector in VENUES):
            return [(first, stop)]
        return best

    def _load(
        self, connector: str, pair: str, interval: str, first: int, end: int, venue: Venue | None
    ) -> Candles:
        try:
            candles = self.store.load(connector, pair, interval, first, end)
        except DataMissingError:
            if venue is not None:
                raise
            raise DataMissingError(
                f"no {interval} candles for {connector} {pair} in "
                f"{self.store.data_dir.absolute()}, and {connector} has no exchange source to "
                f"fetch them from. Import them (hbbacktest data import FILE --connector "
                f"{connector} --pair {pair} --interval {interval}) or take prices from a "
                "supported exchange (--candles-connector binance --candles-pair …)"
            ) from None
        if not len(candles):
            stored = self._stored_coverage(connector, pair, interval)
            have = _describe_ranges(stored) if stored else "nothing"
            asked = f"{format_time(first)} – {format_time(end)} UTC"
            if venue is not None and _covers(stored, first, end, interval_to_seconds(interval)):
                raise DataMissingError(
                    f"{connector} has no {interval} candles for {pair} in {asked}: the "
                    f"exchange was asked and answered none (the market may not have existed "
                    f"or traded then){_history_note(venue, interval)}. The cache holds: {have}"
                )
            raise DataMissingError(
                f"no {interval} candles for {connector} {pair} in {asked}; the cache holds: "
                f"{have}. {_get_command(connector, pair, interval, first, end, venue)}"
            )
        return candles

    def _stored_coverage(self, connector: str, pair: str, interval: str) -> list[Range]:
        try:
            return self.store.coverage(connector, pair, interval) or []
        except DataError:
            return []

    def _demo(self, pair: str, interval: str, first: int, start: int, end: int) -> CandleWindow:
        if end < DEMO_START or first > DEMO_END:
            raise DataMissingError(
                f"the demo connector (synthetic data) covers {format_time(DEMO_START)} – "
                f"{format_time(DEMO_END)} UTC; the window {format_time(first)} – "
                f"{format_time(end)} lies outside it"
            )
        candles = demo_candles(pair, interval, max(first, DEMO_START), min(end, DEMO_END))
        warnings = window_warnings(candles, DEMO_CONNECTOR, pair, interval, first, start, end)
        return CandleWindow(
            candles, first, start, end, tuple(warnings), self.describe(DEMO_CONNECTOR)
        )

    def _offline_message(self, connector: str, pair: str, interval: str, holes: list[Range]) -> str:
        shown = _describe_ranges(holes[:3]) + (
            f" and {len(holes) - 3} more" if len(holes) > 3 else ""
        )
        return (
            f"offline: the cache lacks {connector} {pair} {interval} candles for {shown}. Fetch "
            f"them with: {_fetch_command(connector, pair, interval, holes[0][0], holes[-1][1])}"
        )


def window_warnings(
    candles: Candles,
    connector: str,
    pair: str,
    interval: str,
    first: int,
    start: int,
    end: int,
    *,
    venue: Venue | None = None,
) -> list[str]:
    """Honest-window notes: data starting later or ending earlier than asked, gaps inside.

    ``first`` is the first open time asked (``start`` minus warm-up); the gap count covers
    ``[start, end]``, the part the backtest steps through.
    """
    if not len(candles):
        return []
    step = candles.interval_s
    name = f"{connector} {pair} {interval}"
    asked = f"{format_time(first)} – {format_time(end)} UTC"
    have = f"{format_time(int(candles.ts[0]))} – {format_time(int(candles.ts[-1]))} UTC"
    notes = []
    if candles.ts[0] - first >= step:
        notes.append(
            f"{name} candles start at {format_time(int(candles.ts[0]))} UTC, later than asked "
            f"(asked {asked}; got {have}){_history_note(venue, interval)}"
        )
    if end - candles.ts[-1] >= step:
        notes.append(
            f"{name} candles end at {format_time(int(candles.ts[-1]))} UTC, earlier than asked "
            f"(asked {asked}; got {have})"
        )
    inner = candles.between(start, end)
    count, missing = inner.gaps()
    if count:
        at = inner.largest_gap()
        assert at is not None
        after, longest = at
        notes.append(
            f"{name} candles have {count} gap(s) in the window, {missing} candle(s) missing; the "
            f"longest: {longest} candle(s) from {format_time(after + step)} UTC. The backtest "
            "takes no decision inside a gap and fills at the first candle after it"
        )
    return notes


def _history_note(venue: Venue | None, interval: str) -> str:
    if venue is None or venue.history_limit is None:
        return ""
    return (
        f"; {venue.connector} serves only about its {venue.history_limit} most recent "
        f"{interval} candles"
    )


def _covers(ranges: list[Range], first: int, end: int, step: int) -> bool:
    return not missing_ranges(first, end, merge_ranges(ranges, step), step)


def _describe_ranges(ranges: list[Range]) -> str:
    return ", ".join(f"{format_time(a)} – {format_time(b)} UTC" for a, b in ranges)


def _fetch_command(connector: str, pair: str, interval: str, start: int, end: int) -> str:
    return (
        f"hbbacktest data fetch --connector {connector} --pair {pair} --interval {interval} "
        f"--start {format_iso(start)} --end {format_iso(end)}"
    )


def _get_command(
    connector: str, pair: str, interval: str, start: int, end: int, venue: Venue | None
) -> str:
    if venue is not None:
        return f"Fetch them with: {_fetch_command(connector, pair, interval, start, end)}"
    return (
        f"Import them with: hbbacktest data import FILE --connector {connector} --pair {pair} "
        f"--interval {interval}"
    )


__all__ = [
    "COMMIT_ROWS",
    "CandleAccess",
    "CandleSource",
    "CandleWindow",
    "FetchProgress",
    "FetchReport",
    "window_warnings",
]
