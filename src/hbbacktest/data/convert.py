"""Pure functions that normalise and validate raw candle tables, and resample them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hbbacktest.core.errors import DataError
from hbbacktest.core.time import format_time
from hbbacktest.data.candles import COLUMNS, Candles

_TIME_COLUMNS = ("timestamp", "time", "open_time", "date", "datetime", "ts")
_MS_THRESHOLD = 10_000_000_000
_SHOWN = 5


def _rows(frame: pd.DataFrame, mask: np.ndarray) -> str:
    positions = np.flatnonzero(mask)[:_SHOWN]
    parts = [f"row {int(p)} ({format_time(frame['timestamp'].iloc[p])})" for p in positions]
    more = int(mask.sum()) - len(positions)
    return ", ".join(parts) + (f" and {more} more" if more > 0 else "")


def normalize_frame(raw: pd.DataFrame, *, source: str = "candles") -> pd.DataFrame:
    """Return a clean frame (``timestamp`` in epoch seconds + OHLCV floats) or raise DataError.

    The time column may be called timestamp, time, open_time, date, datetime or ts; it may hold
    epoch seconds, epoch milliseconds (detected) or datetimes. Rows must already be sorted and
    unique: a store that silently reorders hides broken downloads, so this says what is wrong.

    Raises:
        DataError: naming ``source``, the problem and the first offending rows.
    """
    frame = raw.copy()
    frame.columns = [str(c).strip().lower() for c in frame.columns]
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
    stamps = frame[time_column]
    ts = _timestamps_s(stamps, str(time_column), source)
    out = pd.DataFrame({"timestamp": ts})
    for column in COLUMNS:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
        out[column] = values
    validate_frame(out, source=source)
    return out


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "empty"
    return repr(value.item() if isinstance(value, np.generic) else value)


def _bad_time(source: str, column: str, stamps: pd.Series, bad: np.ndarray, what: str) -> DataError:
    rows = np.flatnonzero(bad)
    shown = ", ".join(f"row {int(r)} ({_show(stamps.iloc[int(r)])})" for r in rows[:_SHOWN])
    more = f" and {rows.shape[0] - _SHOWN} more" if rows.shape[0] > _SHOWN else ""
    return DataError(f"{source}: column {column!r} has {what} at {shown}{more}")


def _timestamps_s(stamps: pd.Series, column: str, source: str) -> np.ndarray:
    """Epoch seconds from a time column of epoch s, epoch ms (detected) or datetimes."""
    if pd.api.types.is_datetime64_any_dtype(stamps):
        if stamps.isna().any():
            raise _bad_time(source, column, stamps, stamps.isna().to_numpy(), "missing times")
        seconds = stamps.astype("datetime64[s, UTC]" if stamps.dt.tz else "datetime64[s]")
        return np.asarray(seconds.astype("int64").to_numpy())
    numeric = pd.to_numeric(stamps, errors="coerce")
    missing = numeric.isna().to_numpy()
    if not missing.any():
        values = numeric.to_numpy(dtype=np.float64)
        if np.max(np.abs(values)) >= _MS_THRESHOLD:
            values = values / 1000.0
        return np.floor(values).astype(np.int64)
    if not missing.all():
        # Mostly epoch numbers: a blank or a stray word is a broken row, not a date column.
        raise _bad_time(source, column, stamps, missing, "missing or non-numeric timestamps")
    parsed = pd.to_datetime(stamps, utc=True, errors="coerce", format="mixed")
    unreadable = parsed.isna().to_numpy()
    if unreadable.any():
        raise _bad_time(
            source, column, stamps, unreadable, "values that are neither epoch numbers nor dates"
        )
    return np.asarray(parsed.astype("datetime64[s, UTC]").astype("int64").to_numpy())


def validate_frame(frame: pd.DataFrame, *, source: str) -> None:
    """Raise DataError unless ``frame`` is sorted, unique, finite and OHLC-consistent."""
    ts = frame["timestamp"].to_numpy()
    nan = frame[list(COLUMNS)].isna().to_numpy().any(axis=1)
    nan |= ~np.isfinite(frame[list(COLUMNS)].to_numpy()).all(axis=1)
    if nan.any():
        raise DataError(f"{source}: NaN or non-numeric prices/volume at {_rows(frame, nan)}")
    steps = np.diff(ts)
    if (steps == 0).any():
        dup = np.concatenate([[False], steps == 0])
        raise DataError(
            f"{source}: duplicate timestamps at {_rows(frame, dup)}; keep one candle per time"
        )
    if (steps < 0).any():
        back = np.concatenate([[False], steps < 0])
        raise DataError(
            f"{source}: rows are not sorted by time; first out of order at {_rows(frame, back)}"
        )
    o, h, low, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    bad_high = h < np.maximum(o, c)
    if bad_high.any():
        raise DataError(f"{source}: high < max(open, close) at {_rows(frame, bad_high)}")
    bad_low = low > np.minimum(o, c)
    if bad_low.any():
        raise DataError(f"{source}: low > min(open, close) at {_rows(frame, bad_low)}")
    bad_price = (np.minimum.reduce([o, h, low, c]) <= 0) | (frame["volume"].to_numpy() < 0)
    if bad_price.any():
        raise DataError(
            f"{source}: non-positive price or negative volume at {_rows(frame, bad_price)}"
        )


def infer_interval_s(ts: np.ndarray) -> int | None:
    """The most common spacing of a timestamp column, or None for fewer than two rows."""
    if ts.shape[0] < 2:
        return None
    steps, counts = np.unique(np.diff(ts), return_counts=True)
    return int(steps[np.argmax(counts)])


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
