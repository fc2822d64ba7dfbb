"""Candle file importers: Binance Data Vision klines, freqtrade JSON/Feather, CSV and Parquet.

:func:`read_candle_file` reads a file into a raw table for
:func:`hbbacktest.data.convert.normalize_frame`, and guesses the trading pair, interval and
market from the file name where the format names them::

    imported = read_candle_file("BTCUSDT-1m-2024-01.zip")
    imported.format, imported.trading_pair, imported.interval, imported.market
    # ('binance-vision', 'BTC-USDT', '1m', None)
    frame = normalize_frame(imported.frame, source="BTCUSDT-1m-2024-01.zip")

``format="auto"`` decides by the file name's suffix and, for CSV and unknown suffixes, by the
content: a zip is Binance Data Vision; a CSV whose first line is 12 numbers or Binance's
``open_time,…`` header is Binance Data Vision; ``.json``/``.json.gz`` is freqtrade JSON;
``.feather`` freqtrade Feather; ``.parquet``/``.pq`` Parquet; anything else a CSV with a header.

pandas and pyarrow are imported only when a file is read.
"""

from __future__ import annotations

import os
from pathlib import Path

from hbbacktest.core.errors import ConfigError, DataError, did_you_mean
from hbbacktest.data.sources.importers import _binance_vision, _freqtrade, _generic
from hbbacktest.data.sources.importers._common import MAX_UNPACKED_BYTES, ImportedFile

#: The formats :func:`read_candle_file` reads; ``auto`` picks one by name and content.
FORMATS = ("auto", "csv", "parquet", "binance-vision", "freqtrade-json", "freqtrade-feather")

_HEAD_BYTES = 65_536
_LABELS = {
    _binance_vision.FORMAT: "Binance Data Vision klines",
    _freqtrade.JSON_FORMAT: "freqtrade JSON",
    _freqtrade.FEATHER_FORMAT: "freqtrade Feather",
}
_PARQUET_MAGIC = b"PAR1"
_ARROW_MAGIC = b"ARROW1"


def _detect(path: Path, head: bytes) -> str:
    """The format of a file by its name, then (for CSV and unknown names) its first bytes."""
    name = path.name.lower()
    if name.endswith((".json", ".json.gz")):
        return _freqtrade.JSON_FORMAT
    if name.endswith(".feather"):
        return _freqtrade.FEATHER_FORMAT
    if name.endswith((".parquet", ".pq")):
        return _generic.PARQUET_FORMAT
    if _binance_vision.is_zip(path, head):
        return _binance_vision.FORMAT
    if head.startswith(_PARQUET_MAGIC):
        return _generic.PARQUET_FORMAT
    if head.startswith(_ARROW_MAGIC):
        return _freqtrade.FEATHER_FORMAT
    if head.lstrip()[:1] == b"[":
        return _freqtrade.JSON_FORMAT
    if _binance_vision.looks_like(head):
        return _binance_vision.FORMAT
    return _generic.CSV_FORMAT


def read_candle_file(path: str | os.PathLike[str], *, format: str = "auto") -> ImportedFile:
    """Read a candle file of any supported format into a raw table, guessing what it holds.

    Args:
        path: the file: a Binance Data Vision klines zip or CSV (``BTCUSDT-1m-2024-01.zip``),
            a freqtrade ``.json``/``.json.gz``/``.feather`` file (``BTC_USDT-1m.json``), or a
            CSV/Parquet table with a time column and OHLC(V) columns.
        format: one of :data:`FORMATS`; ``auto`` (the default) detects it by name and content,
            any other value forces that reader.

    Returns:
        An :class:`ImportedFile`: ``frame`` (pass it to
        :func:`~hbbacktest.data.convert.normalize_frame`), the ``format`` read, and the
        ``trading_pair``, ``interval`` and ``market`` the file name says (None where it does not).

    Raises:
        ConfigError: ``format`` is not one of :data:`FORMATS`.
        DataError: the file is missing, empty or unreadable in that format, or an unsafe zip
            (more than one member, a member over 1 GiB, a name outside the archive); the
            message names the file, what is wrong and what was expected.

    Example:
        >>> from hbbacktest.data.convert import normalize_frame
        >>> imported = read_candle_file("BTC_USDT-1m.json")  # doctest: +SKIP
        >>> imported.trading_pair, imported.interval, imported.market  # doctest: +SKIP
        ('BTC-USDT', '1m', 'spot')
        >>> normalize_frame(imported.frame, source="BTC_USDT-1m.json")  # doctest: +SKIP
    """
    if format not in FORMATS:
        shown = repr(format) if len(str(format)) <= 40 else repr(str(format)[:40]) + "…"
        raise ConfigError(
            f"unknown candle file format {shown}{did_you_mean(str(format), FORMATS)}; "
            f"choose one of: {', '.join(FORMATS)}"
        )
    file = Path(path)
    try:
        if not file.is_file():
            what = "is a directory, not a file" if file.is_dir() else "no such file"
            raise DataError(f"{file.absolute()}: {what}")
        with file.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:  # a name too long, a folder we may not enter, no permission …
        raise DataError(f"cannot read {file}: {exc.strerror or exc}") from None
    fmt = _detect(file, head) if format == "auto" else format
    if not head:
        raise DataError(
            f"{file}: cannot read it as {_LABELS.get(fmt) or _generic.label(file, fmt)}: "
            "the file is empty (0 bytes)"
        )
    if fmt == _binance_vision.FORMAT:
        return _binance_vision.read(file, head)
    if fmt == _freqtrade.JSON_FORMAT:
        return _freqtrade.read_json(file, head)
    if fmt == _freqtrade.FEATHER_FORMAT:
        return _freqtrade.read_feather(file)
    return _generic.read(file, fmt)


__all__ = ["FORMATS", "MAX_UNPACKED_BYTES", "ImportedFile", "read_candle_file"]
