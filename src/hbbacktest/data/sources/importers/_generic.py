"""Generic candle tables: a CSV with a header row, or a Parquet file (read as pandas reads them)."""

from __future__ import annotations

from pathlib import Path

from hbbacktest.data.sources.importers._common import ImportedFile, bad_file

CSV_FORMAT = "csv"
PARQUET_FORMAT = "parquet"
_EXPECTED = (
    "expected a CSV (with a header row) or Parquet table with a time column (timestamp, time, "
    "open_time, date, datetime or ts) and open, high, low, close (volume optional)"
)


def label(path: Path, fmt: str) -> str:
    """What messages say the file was read as: its usual suffix (``.csv``), else the format.

    The suffix is what ``CandleStore.import_file`` always named ("cannot read it as .csv").
    """
    suffix = path.suffix.lower()
    if fmt == PARQUET_FORMAT:
        return path.suffix if suffix in (".parquet", ".pq") else "Parquet"
    return path.suffix if suffix == ".csv" else "CSV"


def read(path: Path, fmt: str) -> ImportedFile:
    """Read a CSV (``pandas.read_csv``) or Parquet (``pandas.read_parquet``) file as it is.

    Args:
        path: the file.
        fmt: ``csv`` or ``parquet``.

    Returns:
        An :class:`ImportedFile` whose frame holds every column of the file; the name says
        nothing about pair, interval or market here.

    Raises:
        DataError: pandas or pyarrow cannot read the file.
    """
    import pandas as pd
    import pyarrow as pa

    try:
        raw = pd.read_parquet(path) if fmt == PARQUET_FORMAT else pd.read_csv(path)
    except (OSError, ValueError, TypeError, NotImplementedError, pa.ArrowException) as exc:
        raise bad_file(
            path,
            f"cannot read it as {label(path, fmt)}: {type(exc).__name__}: {exc}",
            _EXPECTED,
        ) from exc
    return ImportedFile(frame=raw, format=fmt)
