"""freqtrade's candle files: JSON (``PAIR-TF.json``, ``.json.gz``) and Feather.

JSON files are a list of ``[time_ms, open, high, low, close, volume]`` rows (what
``DataFrame.to_json(orient="values")`` writes); Feather files have the columns ``date`` (UTC
datetimes), ``open, high, low, close, volume``. File names are ``PAIR-TF[-CANDLE_TYPE]`` with the
pair's ``/`` and ``:`` turned into ``_`` (``BTC_USDT_USDT-1m-futures.feather``); futures data
lives in a ``futures/`` folder.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from hbbacktest.data.sources.importers._common import (
    MAX_UNPACKED_BYTES,
    PRICE_COLUMNS,
    ImportedFile,
    bad_file,
    market_from_layout,
    shown,
)
from hbbacktest.data.sources.importers._names import NameGuess, freqtrade_name

JSON_FORMAT = "freqtrade-json"
FEATHER_FORMAT = "freqtrade-feather"
GZIP_MAGIC = b"\x1f\x8b"
_ROW = ("time_ms", *PRICE_COLUMNS)
_EXPECTED_JSON = (
    "a freqtrade JSON file is a list of [time_ms, open, high, low, close, volume] rows, "
    "optionally gzip-compressed (.json.gz)"
)
_EXPECTED_FEATHER = "a freqtrade Feather file has the columns date, open, high, low, close, volume"
# Time columns accepted in a Feather file, freqtrade's first (normalize_frame's names).
_FEATHER_TIMES = ("date", "timestamp", "time", "open_time", "datetime", "ts")


def _guess(path: Path, expected: str) -> NameGuess:
    guess = freqtrade_name(path.name)
    if guess.not_candles:
        raise bad_file(
            path,
            f"its name says it holds freqtrade {guess.not_candles}, not traded candles",
            f"{expected}; import the spot or '-futures' candle file "
            "(e.g. BTC_USDT-1m.json, BTC_USDT_USDT-1m-futures.feather)",
        )
    return guess


def _result(path: Path, frame: Any, fmt: str, guess: NameGuess) -> ImportedFile:
    layout = market_from_layout(path)
    return ImportedFile(
        frame=frame,
        format=fmt,
        trading_pair=guess.trading_pair,
        interval=guess.interval,
        market="futures" if layout == "futures" else guess.market,
    )


def _gunzip(path: Path, data: bytes) -> bytes:
    import gzip
    import zlib

    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            out = stream.read(MAX_UNPACKED_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise bad_file(
            path,
            f"it is not readable gzip data ({type(exc).__name__}: {exc})",
            f"{_EXPECTED_JSON}; if the file was cut short, download it again",
        ) from exc
    if len(out) > MAX_UNPACKED_BYTES:
        raise bad_file(
            path,
            f"it unpacks to more than the limit of {MAX_UNPACKED_BYTES:,} bytes (1 GiB)",
            _EXPECTED_JSON,
        )
    return out


def _bad_row(rows: list[Any]) -> str:
    """The first row that is not six numbers, described (slow: only after a failure)."""
    for index, row in enumerate(rows):
        if not isinstance(row, list):
            return f"row {index} is {shown(repr(row))}, not a list"
        if len(row) != len(_ROW):
            return f"row {index} has {len(row)} values, not {len(_ROW)}: {shown(repr(row))}"
        for name, value in zip(_ROW, row, strict=True):
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                return f"row {index}: {name} is {shown(repr(value))}, not a number"
    return "the rows cannot be read as numbers"


def read_json(path: Path, head: bytes) -> ImportedFile:
    """Read a freqtrade JSON (or gzip-compressed JSON) candle file.

    Args:
        path: the file.
        head: its first bytes (gzip is recognised by them, whatever the name).

    Returns:
        An :class:`ImportedFile` whose frame has ``timestamp`` (epoch ms) and OHLCV columns.

    Raises:
        DataError: not JSON, not a list of six-number rows, no rows, or freqtrade data that
            are not candles (``-funding_rate``, ``-mark``, ``-trades`` …).
    """
    import orjson
    import pandas as pd

    guess = _guess(path, _EXPECTED_JSON)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise bad_file(path, f"cannot read it ({exc.strerror or exc})", _EXPECTED_JSON) from exc
    if head.startswith(GZIP_MAGIC):
        data = _gunzip(path, data)
    try:
        rows = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise bad_file(path, f"it is not valid JSON ({exc})", _EXPECTED_JSON) from exc
    if not isinstance(rows, list):
        raise bad_file(path, f"it holds a JSON {type(rows).__name__}, not a list", _EXPECTED_JSON)
    if not rows:
        raise bad_file(path, "it holds no candles (an empty list)", _EXPECTED_JSON)
    try:
        values = np.asarray(rows, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise bad_file(path, _bad_row(rows), _EXPECTED_JSON) from exc
    if values.ndim != 2 or values.shape[1] != len(_ROW):
        raise bad_file(path, _bad_row(rows), _EXPECTED_JSON)
    stamps = values[:, 0]
    # Whole epoch ms (< 2**53) are exact in float64; hand them on as integers when they are.
    if np.isfinite(stamps).all() and (stamps == np.floor(stamps)).all():
        stamps = stamps.astype(np.int64)
    frame = pd.DataFrame({"timestamp": stamps})
    for index, name in enumerate(PRICE_COLUMNS, start=1):
        frame[name] = values[:, index]
    return _result(path, frame, JSON_FORMAT, guess)


def read_feather(path: Path) -> ImportedFile:
    """Read a freqtrade Feather candle file.

    Args:
        path: the file.

    Returns:
        An :class:`ImportedFile` whose frame has ``timestamp`` (the ``date`` column, UTC
        datetimes) and OHLCV columns.

    Raises:
        DataError: not a Feather file, columns missing, or freqtrade data that are not
            candles (``-funding_rate``, ``-mark`` …).
    """
    import pyarrow as pa
    import pyarrow.feather as feather

    guess = _guess(path, _EXPECTED_FEATHER)
    try:
        table = feather.read_table(str(path))
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise bad_file(
            path,
            f"it is not a readable Feather (Arrow IPC) file ({type(exc).__name__}: {exc})",
            _EXPECTED_FEATHER,
        ) from exc
    by_name = {str(name).strip().lower(): name for name in table.column_names}
    time_column = next((by_name[c] for c in _FEATHER_TIMES if c in by_name), None)
    missing = [c for c in PRICE_COLUMNS if c not in by_name]
    if time_column is None or missing:
        found = ", ".join(table.column_names[:20]) or "none"
        raise bad_file(path, f"it has the columns {found}", _EXPECTED_FEATHER)
    if table.num_rows == 0:
        raise bad_file(path, "it holds no candles", _EXPECTED_FEATHER)
    picked = table.select([time_column, *(by_name[c] for c in PRICE_COLUMNS)])
    frame = picked.rename_columns(["timestamp", *PRICE_COLUMNS]).to_pandas()
    return _result(path, frame, FEATHER_FORMAT, guess)
