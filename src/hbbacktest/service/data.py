"""Candle store use cases for the faces: import a file, list what is stored."""

from __future__ import annotations

import os
from pathlib import Path

from hbbacktest.config.settings import Settings
from hbbacktest.data.store import CandleStore, ImportReport, StoredSeries


def import_candles(
    file: str | os.PathLike[str],
    connector: str,
    trading_pair: str,
    interval: str,
    *,
    replace: bool = False,
    settings: Settings | None = None,
) -> ImportReport:
    """Validate a CSV/Parquet candle file and merge it into the stored series.

    With ``replace`` the file replaces the stored series (which repairs a corrupt one). Nothing
    is written when the file is bad.

    Raises:
        ConfigError: a bad connector, pair or interval; DataError: the file's candles are bad
            (names the rows) or the stored series is corrupt (use ``replace``); OutputError:
            the store cannot be written.
    """
    store = CandleStore((settings or Settings.from_env()).data_dir)
    return store.import_file(file, connector, trading_pair, interval, replace=replace)


def list_candles(settings: Settings | None = None) -> tuple[Path, list[StoredSeries]]:
    """The store's absolute path and every series in it (corrupt ones marked, never raised)."""
    store = CandleStore((settings or Settings.from_env()).data_dir)
    return store.data_dir.absolute(), store.series()
