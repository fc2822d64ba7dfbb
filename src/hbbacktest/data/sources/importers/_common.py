"""What every importer shares: the result type, the size limit and the wording of errors."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hbbacktest.core.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

#: The most bytes a compressed file (zip member, gzip stream) may unpack to: 1 GiB. A month of
#: Binance 1s klines is about 0.3 GiB; anything larger is a mistake or a zip bomb.
MAX_UNPACKED_BYTES = 1 << 30

#: The OHLCV columns every importer hands on, after its time column.
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")

_SHOWN_CHARS = 80


@dataclass(frozen=True, eq=False)  # a DataFrame has no truth value to compare by
class ImportedFile:
    """A candle file as read, before normalisation.

    Attributes:
        frame: the raw table, ready for :func:`hbbacktest.data.convert.normalize_frame`: a time
            column (``timestamp`` for the Binance and freqtrade formats: epoch numbers whose
            unit ``normalize_frame`` detects, or UTC datetimes) and ``open, high, low, close,
            volume``. Generic CSV/Parquet files are passed on with all their columns.
        format: the format that was read (``auto`` resolved), one of
            :data:`~hbbacktest.data.sources.importers.FORMATS` except ``auto``.
        trading_pair: Hummingbot's ``BASE-QUOTE`` guessed from the file name
            (``BTCUSDT-1m-2024-01.zip`` → ``BTC-USDT``), or None when the name does not say.
        interval: the candle interval guessed from the file name (``1m``), or None.
        market: ``spot`` or ``futures`` when something says which, else None: the name
            (``BTCUSD_PERP``, ``-futures``, ``BTC_USDT_USDT``), the folders (``data/spot/…``,
            ``data/futures/um/…``, freqtrade's ``futures/``) or a Binance file's content (a
            header row: futures; open times in µs: spot).
    """

    frame: pd.DataFrame
    format: str
    trading_pair: str | None = None
    interval: str | None = None
    market: str | None = None


def shown(text: str | bytes) -> str:
    """A short, printable quote of a piece of a file, for messages."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip()
    return repr(text) if len(text) <= _SHOWN_CHARS else f"{text[:_SHOWN_CHARS]!r}…"


def bad_file(path: str | os.PathLike[str], problem: str, expected: str) -> DataError:
    """The DataError for an unreadable file: which file, what is wrong, what was expected."""
    return DataError(f"{path}: {problem}; {expected}")


def market_from_layout(path: Path) -> str | None:
    """``spot`` / ``futures`` from the folders a file sits in, or None when none says.

    Binance Data Vision keeps ``data/spot/monthly/klines/…`` apart from ``data/futures/um/…``,
    freqtrade ``data/<exchange>/futures/`` from ``data/<exchange>/``; the nearest folder named
    ``spot`` or ``futures`` (of the six above the file) decides.
    """
    for folder in list(path.absolute().parent.parts)[::-1][:6]:
        name = folder.lower()
        if name in ("spot", "futures"):
            return name
    return None
