"""Pure functions that normalise and validate raw candle tables, and resample them.

pandas is imported inside the functions that need it: ``import hbbacktest.data.store`` (and so
``hbbacktest data list``) must not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from hbbacktest.core.errors import DataError
from hbbacktest.core.time import EPOCH_UNITS, MAX_EPOCH_S, format_time
from hbbacktest.data.candles import COLUMNS, Candles

if TYPE_CHECKING:
    import pandas as pd

_TIME_COLUMNS = ("timestamp", "time", "open_time", "date", "datetime", "ts")
_SHOWN = 5

#: Candle open times must lie in [MIN_TS_S, MAX_TS_S): 1970-01-01 .. 2100-01-01 UTC, the
#: bounds :mod:`hbbacktest.core.time` uses for every epoch the user gives.
MIN_TS_S = 0
MAX_TS_S = MAX_EPOCH_S
ACCEPTED_TIMES = (
    "accepted: epoch seconds, milliseconds, microseconds or nanoseconds (one unit per column) "
    "or dates, between 1970-01-01 and 2100-01-01 UTC"
)


def _when(ts: Any) -> str:
    """``format_time`` for values known to be plausible, the raw number otherwise.

    An error message must never crash on the value it is reporting (µs read as seconds once
    overflowed ``datetime``).
    """
    value = int(ts)
    return format_time(value) if MIN_TS_S <= value < MAX_TS_S else str(value)


def _rows_at(ts: np.ndarray, mask: np.ndarray) -> str:
    positions = np.flatnonzero(mask)[:_SHOWN]
    parts = [f"row {int(p)} ({_when(ts[p])})" for p in positions]
    more = int(mask.sum()) - len(positions)
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def normalize_frame(raw: pd.DataFrame, *, source: str = "candles") -> pd.DataFrame:
    """Return a clean frame (``timestamp`` in epoch seconds + OHLCV floats) or raise DataError.

    The time column may be called timestamp, time, open_time, date, datetime or ts; it may hold
    datetimes, date strings, or epoch numbers in seconds, milliseconds, microseconds or
    nanoseconds: the unit is chosen per column by magnitude (see :func:`epoch_units`). Rows must
    already be sorted and unique: a store that silently reorders hides broken downloads, so this
    says what is wrong.

    Args:
        raw: the table as read (column names are matched case-insensitively).
        source: what to call the table in messages, e.g. the file name.

    Returns:
        Columns ``timestamp`` (int64 epoch seconds) and ``open, high, low, close, volume``
        (float64; volume 0 when absent).

    Raises:
        DataError: naming ``source``, the problem and the first offending rows.

    Example:
        >>> import pandas as pd
        >>> raw = pd.DataFrame({"time": [1704067200000], "open": [1], "high": [2], "low": [1],
        ...                     "close": [2]})
        >>> normalize_frame(raw)["timestamp"].tolist()
        [1704067200]
    """
    import pandas as pd

    frame = raw.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        # frame["open"] would be a table, not a column, and fail far from here.
        raise DataError(
            f"{source}: column(s) {', '.join(repr(c) for c in duplicated)} appear more than once "
            "(names are compared case-insensitively); keep one of each"
        )
    time_column = next((c for c in _TIME_COLUMNS if c in frame.columns), None)
    missing = [c for c in ("open", "high", "low", "close") if c not in frame.columns]
    if time_column is None:
        missing.insert(0, "timestamp")
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}. "
            "Candles need timestamp, open, high, low, close (volume optional)."
        )
    if "volume" not in frame.columns:
        frame["volume"] = 0.0
    if len(frame) == 0:
        raise DataError(f"{source}: the file holds no candles")
    ts = _timestamps_s(frame[time_column], str(time_column), source)
    out = pd.DataFrame({"timestamp": ts})
    for column in COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        out[column] = values
    validate_frame(out, source=source)
    return out


def _show(value: object) -> str:
    import pandas as pd

    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "empty"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _bad_time(source: str, column: str, stamps: pd.Series, bad: np.ndarray, what: str) -> DataError:
    rows = np.flatnonzero(bad)
    shown = ", ".join(f"row {int(r)} ({_show(stamps.iloc[int(r)])})" for r in rows[:_SHOWN])
    more = f" and {rows.shape[0] - _SHOWN} more" if rows.shape[0] > _SHOWN else ""
    return DataError(f"{source}: column {column!r} has {what} at {shown}{more}")


def epoch_units(values: np.ndarray) -> np.ndarray:
    """Index into ``core.time.EPOCH_UNITS`` (s, ms, us, ns) of each value's unit; -1 for none.

    The vectorised :func:`hbbacktest.core.time.epoch_unit`: in those units the plausible
    ranges (1970 to 2100; ms, us, ns from 1973 on) do not overlap, so magnitude decides.

    Args:
        values: epoch numbers (float64 or int64).

    Returns:
        An int array: 0 s, 1 ms, 2 us, 3 ns, or -1 where no unit fits (negative, between the
        ranges, too large, not finite).

    Example:
        >>> epoch_units(np.array([1704067200, 1704067200000, -1])).tolist()
        [0, 1, -1]
    """
    array = np.asarray(values)
    unit = np.full(array.shape, -1, dtype=np.int64)
    for index, (_, divisor, lowest) in enumerate(EPOCH_UNITS):
        # Integer bounds compare exactly against int64 values (ns beyond 2**53 included).
        unit[(array >= lowest) & (array < MAX_EPOCH_S * divisor)] = index
    return unit


def _timestamps_s(stamps: pd.Series, column: str, source: str) -> np.ndarray:
    """Epoch seconds from a time column of epoch numbers (unit detected) or datetimes."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(stamps):
        if stamps.isna().any():
            raise _bad_time(source, column, stamps, stamps.isna().to_numpy(), "missing times")
        seconds = stamps.astype("datetime64[s, UTC]" if stamps.dt.tz else "datetime64[s]")
        return _in_range(np.asarray(seconds.astype("int64").to_numpy()), stamps, column, source)
    numeric = pd.to_numeric(stamps, errors="coerce")
    missing = numeric.isna().to_numpy()
    if not missing.any():
        return _epoch_seconds(numeric, stamps, column, source)
    if not missing.all():
        # Mostly epoch numbers: a blank or a stray word is a broken row, not a date column.
        raise _bad_time(source, column, stamps, missing, "missing or non-numeric timestamps")
    parsed = pd.to_datetime(stamps, utc=True, errors="coerce", format="mixed")
    unreadable = parsed.isna().to_numpy()
    if unreadable.any():
        raise _bad_time(
            source, column, stamps, unreadable, "values that are neither epoch numbers nor dates"
        )
    epoch_s = np.asarray(parsed.astype("datetime64[s, UTC]").astype("int64").to_numpy())
    return _in_range(epoch_s, stamps, column, source)


def _epoch_seconds(numeric: pd.Series, stamps: pd.Series, column: str, source: str) -> np.ndarray:
    """Seconds from epoch numbers, the unit detected for the whole column."""
    import pandas as pd

    # uint64 beyond int64 cannot be a plausible time anyway: let the float path reject it.
    integral = pd.api.types.is_signed_integer_dtype(numeric) or (
        pd.api.types.is_unsigned_integer_dtype(numeric) and int(numeric.max()) < 2**63
    )
    values = numeric.to_numpy(dtype=np.int64 if integral else np.float64)
    unit = epoch_units(values)
    unfit = unit < 0
    if unfit.any():
        raise _bad_time(
            source, column, stamps, unfit, f"values that fit no time unit ({ACCEPTED_TIMES})"
        )
    kinds, counts = np.unique(unit, return_counts=True)
    if kinds.shape[0] > 1:
        main = int(kinds[np.argmax(counts)])
        found = ", ".join(
            f"{int(n)} in {EPOCH_UNITS[int(k)][0]}" for k, n in zip(kinds, counts, strict=True)
        )
        raise _bad_time(
            source,
            column,
            stamps,
            unit != main,
            f"mixed time units ({found}; most are epoch {EPOCH_UNITS[main][0]}; {ACCEPTED_TIMES});"
            " values in another unit",
        )
    factor = EPOCH_UNITS[int(kinds[0])][1]
    if integral:
        # Integer division: float64 cannot hold epoch nanoseconds exactly.
        return np.asarray(values // factor, dtype=np.int64)
    return np.floor(values / factor).astype(np.int64)


def _in_range(seconds: np.ndarray, stamps: pd.Series, column: str, source: str) -> np.ndarray:
    outside = (seconds < MIN_TS_S) | (seconds >= MAX_TS_S)
    if outside.any():
        raise _bad_time(
            source, column, stamps, outside, f"dates outside 1970..2100 ({ACCEPTED_TIMES})"
        )
    return seconds


def validate_frame(frame: pd.DataFrame, *, source: str) -> None:
    """Raise DataError unless ``frame`` is sorted, unique, finite, in range and OHLC-consistent.

    Args:
        frame: a ``timestamp`` (epoch s) column and the OHLCV columns.
        source: what to call the table in messages.

    Raises:
        DataError: naming ``source``, the rule broken and the first offending rows.
    """
    validate_candles(
        frame["timestamp"].to_numpy(),
        *(frame[name].to_numpy(dtype=np.float64) for name in COLUMNS),
        source=source,
    )


def validate_candles(
    ts: np.ndarray,
    open: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    *,
    source: str,
) -> None:
    """Raise DataError unless the columns are sorted, unique, finite, in range and consistent.

    The array form of :func:`validate_frame`, for data that never was a DataFrame (the store).

    Raises:
        DataError: naming ``source``, the rule broken and the first offending rows.
    """
    prices = np.column_stack([open, high, low, close, volume])
    nan = ~np.isfinite(prices).all(axis=1)
    if nan.any():
        raise DataError(f"{source}: NaN or non-numeric prices/volume at {_rows_at(ts, nan)}")
    outside = (ts < MIN_TS_S) | (ts >= MAX_TS_S)
    if outside.any():
        raise DataError(
            f"{source}: timestamps outside 1970-01-01..2100-01-01 (epoch seconds expected) at "
            f"{_rows_at(ts, outside)}"
        )
    steps = np.diff(ts)
    if (steps == 0).any():
        dup = np.concatenate([[False], steps == 0])
        raise DataError(
            f"{source}: duplicate timestamps at {_rows_at(ts, dup)}; keep one candle per time"
        )
    if (steps < 0).any():
        back = np.concatenate([[False], steps < 0])
        raise DataError(
            f"{source}: rows are not sorted by time; first out of order at {_rows_at(ts, back)}"
        )
    bad_high = high < np.maximum(open, close)
    if bad_high.any():
        raise DataError(f"{source}: high < max(open, close) at {_rows_at(ts, bad_high)}")
    bad_low = low > np.minimum(open, close)
    if bad_low.any():
        raise DataError(f"{source}: low > min(open, close) at {_rows_at(ts, bad_low)}")
    bad_price = (np.minimum.reduce([open, high, low, close]) <= 0) | (volume < 0)
    if bad_price.any():
        raise DataError(
            f"{source}: non-positive price or negative volume at {_rows_at(ts, bad_price)}"
        )


def infer_interval_s(ts: np.ndarray) -> int | None:
    """The most common spacing of a timestamp column, or None for fewer than two rows.

    Ties go to the smallest spacing.
    """
    if ts.shape[0] < 2:
        return None
    steps, counts = np.unique(np.diff(ts), return_counts=True)
    return int(steps[np.argmax(counts)])


def interval_name(seconds: int) -> str:
    """The shortest interval string for a spacing in seconds: 300 → ``5m``, 90 → ``90s``.

    Example:
        >>> interval_name(3600), interval_name(90)
        ('1h', '90s')
    """
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_interval(
    ts: np.ndarray, interval: str, interval_s: int, *, source: str, spacing: bool = True
) -> None:
    """Raise DataError unless the candles are aligned on and spaced by the interval.

    Two checks: every open time is a multiple of ``interval_s`` (candles open on the epoch grid,
    as exchanges and :func:`resample` do), and the most common spacing is ``interval_s``. With
    fewer than three rows the spacing says nothing (one gap decides it) and is not checked.

    Args:
        ts: sorted open times, epoch seconds.
        interval: the interval as the user wrote it, for messages (``"1m"``).
        interval_s: the same in seconds.
        source: what to call the data in messages.
        spacing: also check the most common spacing (off for fetched candles: an exchange
            that skips candles without trades is asked for the interval, so its spacing is
            known, and an illiquid market may well have more gaps than candles).

    Raises:
        DataError: saying what spacing was found and which ``--interval`` it suggests.
    """
    common = infer_interval_s(ts) if spacing and ts.shape[0] >= 3 else None
    found = None if common is None or common == interval_s else interval_name(common)
    misaligned = ts % interval_s != 0
    if misaligned.any():
        first = int(ts[misaligned][0])
        hint = (
            f"the candles are {found} apart (most common spacing): use --interval {found}"
            if found
            else "is --interval right?"
        )
        raise DataError(
            f"{source}: {int(misaligned.sum())} timestamps are not multiples of {interval} "
            f"(first {_when(first)}); {hint}"
        )
    if found:
        raise DataError(
            f"{source}: --interval is {interval} but the candles are {found} apart (most "
            f"common spacing); use --interval {found}"
        )


def resample(candles: Candles, interval_s: int) -> Candles:
    """Aggregate candles to a coarser interval aligned on the epoch (``ts % interval_s == 0``).

    Buckets keep whatever source candles they have (a gap inside a bucket does not drop it); a
    bucket with no source candle is absent, as it would be from an exchange.

    Raises:
        DataError: if ``interval_s`` is not a multiple of the source interval.
    """
    if interval_s == candles.interval_s:
        return candles
    if interval_s % candles.interval_s:
        raise DataError(
            f"cannot resample {candles.interval_s}s candles to {interval_s}s: the target must be "
            "a multiple of the source interval"
        )
    if not len(candles):
        return Candles.empty(interval_s)
    bucket = candles.ts - candles.ts % interval_s
    starts = np.flatnonzero(np.concatenate([[True], bucket[1:] != bucket[:-1]]))
    ends = np.concatenate([starts[1:], [len(candles)]]) - 1
    return Candles(
        ts=bucket[starts],
        open=candles.open[starts],
        high=np.maximum.reduceat(candles.high, starts),
        low=np.minimum.reduceat(candles.low, starts),
        close=candles.close[ends],
        volume=np.add.reduceat(candles.volume, starts),
        interval_s=interval_s,
    )
