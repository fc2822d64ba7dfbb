"""Binance Data Vision klines (https://data.binance.vision): zipped or bare 12-column CSVs.

Monthly (``BTCUSDT-1m-2024-01.zip``) and daily (``BTCUSDT-1m-2024-01-05.zip``) files are zips
holding one CSV of the same stem. Spot CSVs have no header; USD-M futures CSVs since about
2022 start with ``open_time,open,…,ignore``. Open times are epoch milliseconds, and since
2025-01-01 spot files use microseconds: the column is passed on as ``timestamp`` and
:func:`~hbbacktest.data.convert.normalize_frame` detects the unit per file.

A zip is read in memory, never extracted, and only if it holds exactly one file with a safe
name that unpacks to at most :data:`~._common.MAX_UNPACKED_BYTES`.
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath

from hbbacktest.data.sources.importers._common import (
    MAX_UNPACKED_BYTES,
    PRICE_COLUMNS,
    ImportedFile,
    bad_file,
    market_from_layout,
    shown,
)
from hbbacktest.data.sources.importers._names import binance_vision_name

FORMAT = "binance-vision"
COLUMNS = (
    "open_time", "open", "high", "low", "close", "volume", "close_time", "quote_volume",
    "count", "taker_buy_volume", "taker_buy_quote_volume", "ignore",
)  # fmt: skip
_USED = COLUMNS[:6]
_EXPECTED = (
    f"a Binance Data Vision klines file has {len(COLUMNS)} numeric columns "
    f"({', '.join(COLUMNS)}), with or without that header row"
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_MICROSECONDS = 10**14  # open times at or above this are epoch µs (spot files since 2025)


def is_zip(path: Path, head: bytes) -> bool:
    """True for a zip archive, by name or by its first bytes."""
    return path.name.lower().endswith(".zip") or head.startswith(_ZIP_MAGIC)


def _number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def first_line(head: bytes) -> list[bytes]:
    """The fields of the first non-blank line of ``head``, stripped; [] when there is none."""
    for line in head.removeprefix(b"\xef\xbb\xbf").splitlines():
        if line.strip():
            return [field.strip() for field in line.split(b",")]
    return []


def looks_like(head: bytes) -> bool:
    """True when the first line is 12 numbers or the Binance Data Vision header."""
    fields = first_line(head)
    if len(fields) != len(COLUMNS):
        return False
    return fields[0].lower() == b"open_time" or all(_number(f) for f in fields)


def _member(path: Path) -> tuple[bytes, str]:
    """The bytes and name of the one file in a zip, read in memory; DataError if unsafe."""
    import zipfile
    import zlib

    one_csv = "a Binance Data Vision zip holds exactly one CSV file"
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if not members:
                raise bad_file(path, "the zip archive is empty", one_csv)
            if len(members) > 1:
                names = ", ".join(shown(m.filename) for m in members[:5])
                more = f" and {len(members) - 5} more" if len(members) > 5 else ""
                raise bad_file(
                    path,
                    f"the zip archive holds {len(members)} files ({names}{more})",
                    f"{one_csv}: unzip it and import its CSV files one by one",
                )
            member = members[0]
            name = member.filename
            parts = PurePosixPath(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (name[1:2] == ":"):
                raise bad_file(
                    path,
                    f"the zip member's name {shown(name)} points outside the archive "
                    "(absolute or '..')",
                    f"{one_csv} named like the zip; this one was not made by Binance",
                )
            if member.is_dir():
                raise bad_file(path, f"the zip holds only the folder {shown(name)}", one_csv)
            if member.flag_bits & 0x1:
                raise bad_file(path, f"the zip member {shown(name)} is encrypted", one_csv)
            if member.file_size > MAX_UNPACKED_BYTES:
                raise bad_file(
                    path,
                    f"the zip member {shown(name)} would unpack to {member.file_size:,} bytes, "
                    f"more than the limit of {MAX_UNPACKED_BYTES:,} (1 GiB)",
                    "a month of Binance 1s klines is about 0.3 GiB; split larger files",
                )
            # ZipExtFile stops at the declared size and checks the CRC at the end, so a member
            # that lies about its size is cut off there and reported as corrupt.
            with archive.open(member) as stream:
                data = stream.read(MAX_UNPACKED_BYTES + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as exc:
        raise bad_file(
            path,
            f"it is not a readable zip archive ({type(exc).__name__}: {exc})",
            f"{one_csv}; if the download was cut short, download it again",
        ) from exc
    except NotImplementedError as exc:  # compression methods zipfile lacks (deflate64 …)
        raise bad_file(path, f"the zip cannot be unpacked ({exc})", one_csv) from exc
    return data, name


def _first_bad_line(data: bytes, skip: int) -> str | None:
    """Where and why the CSV is unreadable, for the message (slow: only after a failure)."""
    for number, line in enumerate(io.BytesIO(data.removeprefix(b"\xef\xbb\xbf")), start=1):
        text = line.strip()
        if number <= skip or not text:
            continue
        fields = text.split(b",")
        if len(fields) != len(COLUMNS):
            return f"line {number} has {len(fields)} columns: {shown(text)}"
        for column, field in zip(_USED, fields, strict=False):
            value = field.strip()
            if not value:
                continue  # read as missing; normalize_frame names the row
            try:
                int(value) if column == "open_time" else float(value)
            except ValueError:
                kind = "an integer (epoch ms or µs)" if column == "open_time" else "a number"
                return f"line {number}: {column} is {shown(value)}, not {kind}"
    return None


def read(path: Path, head: bytes) -> ImportedFile:
    """Read a Binance Data Vision klines zip or CSV.

    Args:
        path: the file.
        head: its first bytes (for the zip check).

    Returns:
        An :class:`ImportedFile` whose frame has ``timestamp`` (the open time, epoch ms or µs
        as in the file) and OHLCV columns.

    Raises:
        DataError: an unsafe or unreadable zip, or a CSV that is not 12 numeric columns.
    """
    import pyarrow as pa
    import pyarrow.csv as pv

    guess = binance_vision_name(path.name)
    if is_zip(path, head):
        data, member = _member(path)
        if guess.trading_pair is None and guess.interval is None:
            guess = binance_vision_name(PurePosixPath(member).name)
    else:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise bad_file(path, f"cannot read it ({exc.strerror or exc})", _EXPECTED) from exc
    fields = first_line(data[:65_536])
    if not fields:
        raise bad_file(path, "it holds no rows", _EXPECTED)
    header = fields[0].lower() == b"open_time"
    if len(fields) != len(COLUMNS):
        raise bad_file(
            path,
            f"its first line has {len(fields)} columns: {shown(b','.join(fields))}",
            _EXPECTED,
        )
    try:
        table = pv.read_csv(
            pa.BufferReader(data),
            read_options=pv.ReadOptions(column_names=list(COLUMNS), skip_rows=int(header)),
            convert_options=pv.ConvertOptions(
                column_types={
                    "open_time": pa.int64(),
                    **dict.fromkeys(PRICE_COLUMNS, pa.float64()),
                },
                include_columns=list(_USED),
                null_values=[""],
            ),
        )
    except (pa.ArrowException, ValueError) as exc:
        where = _first_bad_line(data, int(header)) or str(exc)
        raise bad_file(path, where, _EXPECTED) from exc
    if table.num_rows == 0:
        raise bad_file(path, "it holds a header but no candles", _EXPECTED)
    frame = table.to_pandas().rename(columns={"open_time": "timestamp"})
    market = guess.market or market_from_layout(path)
    if market is None and header:
        market = "futures"  # only USD-M/COIN-M futures files carry a header row
    elif market is None and frame["timestamp"].iloc[0] >= _MICROSECONDS:
        market = "spot"  # since 2025 spot files are in µs, futures files still in ms
    return ImportedFile(
        frame=frame,
        format=FORMAT,
        trading_pair=guess.trading_pair,
        interval=guess.interval,
        market=market,
    )
