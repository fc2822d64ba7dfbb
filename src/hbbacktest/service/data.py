"""Candle data use cases for the faces: import a file, fetch from an exchange, list, verify."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError
from hbbacktest.core.time import format_time, interval_to_seconds, parse_time
from hbbacktest.data.access import CandleAccess, FetchProgress, FetchReport
from hbbacktest.data.coverage import SETTLE_S, last_complete_open
from hbbacktest.data.sources.venues import check_exchange_urls, venue
from hbbacktest.data.store import CandleStore, ImportReport, StoredSeries


def import_candles(
    file: str | os.PathLike[str],
    connector: str,
    trading_pair: str | None = None,
    interval: str | None = None,
    *,
    replace: bool = False,
    format: str = "auto",
    settings: Settings | None = None,
) -> ImportReport:
    """Validate a candle file and merge it into the stored series.

    With ``replace`` the file replaces the stored series (which repairs a corrupt one). Nothing
    is written when the file is bad. The pair and interval may come from the file name (Binance
    Data Vision and freqtrade files name them).

    Raises:
        ConfigError: a bad connector, pair, interval or format; DataError: the file's candles
            are bad (names the rows) or the stored series is corrupt (use ``replace``);
            OutputError: the store cannot be written.
    """
    store = CandleStore((settings or Settings.from_env()).data_dir)
    return store.import_file(
        file, connector, trading_pair, interval, replace=replace, format=format
    )


def list_candles(settings: Settings | None = None) -> tuple[Path, list[StoredSeries]]:
    """The store's absolute path and every series in it (corrupt ones marked, never raised)."""
    store = CandleStore((settings or Settings.from_env()).data_dir)
    return store.data_dir.absolute(), store.series()


@dataclass(frozen=True)
class FetchOutcome:
    """What ``data fetch`` did, for the face to print.

    Attributes:
        report: the fetch itself (ranges asked, rows, requests, time, warnings).
        series: the dataset afterwards.
        start: the window's first open time asked (epoch s).
        end: its last (capped at the last complete candle by the fetch).
    """

    report: FetchReport
    series: StoredSeries
    start: int
    end: int


def fetch_candles(
    connector: str,
    trading_pair: str,
    interval: str,
    start: str | int,
    end: str | int,
    *,
    settings: Settings | None = None,
    progress: Callable[[FetchProgress], None] | None = None,
    access: CandleAccess | None = None,
    refetch: bool = False,
) -> FetchOutcome:
    """Download whatever part of a window the cache has never asked for.

    Args:
        connector: Hummingbot connector name with an exchange source (``binance`` …).
        trading_pair: ``BASE-QUOTE``.
        interval: e.g. ``1m``.
        start: first open time (date, ISO datetime or epoch).
        end: last open time, inclusive.
        settings: data dir and exchange URL overrides; ``offline`` is refused here.
        progress: called after each page.
        access: the candle access to use instead of one built from ``settings``.
        refetch: ask for the whole window again, also what is cached (repairs a range the
            exchange has filled or corrected since).

    Raises:
        ConfigError: bad options, a connector without an exchange source, an unknown market
            or interval, offline mode; ExchangeError / ExchangeTemporaryError: the exchange
            failed (what was fetched before the failure is kept).
    """
    settings = settings or Settings.from_env()
    first, last = parse_time(start, field="--start"), parse_time(end, field="--end")
    if first > last:
        raise ConfigError(
            f"--start ({format_time(first)}) must not be after --end ({format_time(last)})"
        )
    venue(connector)  # a ConfigError listing the connectors that can be fetched
    step = interval_to_seconds(interval)
    newest = last_complete_open(time.time() - SETTLE_S, step)  # as the fetch itself cuts
    if first > newest:
        raise ConfigError(
            f"--start ({format_time(first)}) is after the last complete {interval} candle "
            f"({format_time(newest)} UTC): there is nothing to fetch yet"
        )
    if access is None:
        if settings.offline:
            raise ConfigError(
                "data fetch needs the network, but offline mode is on (HBBACKTEST_OFFLINE or "
                "the settings file); turn it off to fetch"
            )
        check_exchange_urls(settings.exchange_urls)
        access = CandleAccess(
            CandleStore(settings.data_dir),
            exchange_urls=dict(settings.exchange_urls),
            progress=progress,
        )
    report = access.fill(connector, trading_pair, interval, first, last, refetch=refetch)
    entry = next(
        (s for s in access.store.series() if str(s.file) == str(Path(report.path).absolute())),
        None,
    )
    if entry is None:
        entry = StoredSeries(
            connector, trading_pair.upper(), interval, None, None, 0, Path(report.path)
        )
    return FetchOutcome(report=report, series=entry, start=first, end=last)


@dataclass(frozen=True)
class VerifyOutcome:
    """One dataset's verdict from ``data verify``.

    Attributes:
        series: the dataset.
        problem: what is wrong, or None when it is healthy.
    """

    series: StoredSeries
    problem: str | None


def verify_candles(
    settings: Settings | None = None,
) -> tuple[Path, list[VerifyOutcome], list[Path]]:
    """Read every dataset in full and check it; also list set-aside and temporary files.

    Returns:
        The store's absolute path, a verdict per dataset, and leftover files (corrupt files
        moved aside by a rebuild, temporaries of killed writers).
    """
    store = CandleStore((settings or Settings.from_env()).data_dir)
    outcomes = [VerifyOutcome(entry, store.verify(entry)) for entry in store.series()]
    return store.data_dir.absolute(), outcomes, store.leftovers()
