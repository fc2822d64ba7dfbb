"""Time helpers. Inside hbbacktest time is UTC int64 epoch **seconds**."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from hbbacktest.core.errors import ConfigError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000}
_INTERVAL_RE = re.compile(r"^(\d{1,9})([smhdwM])$")
MAX_INTERVAL_S = 366 * 86_400  # the longest candle interval

# Epoch timestamps are accepted from 1970 to 2100, in seconds, milliseconds, microseconds or
# nanoseconds. In those units the ranges do not overlap, so the unit is read off the magnitude.
MAX_EPOCH_S = 4_102_444_800  # 2100-01-01 00:00 UTC
EPOCH_UNITS: tuple[tuple[str, int, int], ...] = (
    # (unit, divisor to seconds, smallest value read in this unit)
    ("s", 1, 0),
    ("ms", 1_000, 100_000_000_000),  # 1973-03-03 in ms
    ("us", 1_000_000, 100_000_000_000_000),
    ("ns", 1_000_000_000, 100_000_000_000_000_000),
)


def epoch_unit(value: int | float) -> tuple[str, int] | None:
    """The unit (name, divisor to seconds) an epoch timestamp is in, or None if it fits none.

    Seconds cover 0 … 4.1e9 (1970–2100), milliseconds 1e11 … 4.1e12, microseconds 1e14 … 4.1e15,
    nanoseconds 1e17 … 4.1e18; anything else (negative, or between those ranges) is no timestamp
    this tool can read unambiguously.
    """
    for name, divisor, lowest in EPOCH_UNITS:
        if lowest <= value < MAX_EPOCH_S * divisor:
            return name, divisor
    return None


def interval_to_seconds(interval: str) -> int:
    """Convert a candle interval such as ``"1m"``, ``"15m"``, ``"1h"`` or ``"1d"`` to seconds.

    Raises:
        ConfigError: if the interval is not ``<positive integer><s|m|h|d|w|M>`` of at most a year.
    """
    text = str(interval).strip() if isinstance(interval, str) else repr(interval)
    match = _INTERVAL_RE.match(text)
    if not match or int(match.group(1)) <= 0:
        shown = repr(interval) if len(text) <= 40 else repr(text[:40]) + "…"
        raise ConfigError(
            f"invalid interval {shown}: expected a number and a unit, like '1m', '3m', "
            "'1h' or '1d' (units s, m, h, d, w, M)"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_INTERVAL_S:
        raise ConfigError(
            f"invalid interval {interval!r}: at most one year (e.g. '1d', '1w', '1M')"
        )
    return seconds


def parse_time(value: str | int | float, *, field: str = "time") -> int:
    """Parse a UTC date (``2024-08-01``), ISO datetime or epoch into epoch seconds.

    Epoch numbers may be seconds, milliseconds, microseconds or nanoseconds (see
    :func:`epoch_unit`); every time must lie between 1970 and 2100.

    Raises:
        ConfigError: naming ``field`` when the value cannot be read or lies outside 1970–2100.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a date or an epoch timestamp, got {value!r}")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{field}: expected a date or an epoch timestamp, got {value!r}")
        unit = epoch_unit(value)
        if unit is None:
            raise ConfigError(
                f"{field}: {value!r} is no epoch timestamp between 1970 and 2100 in seconds, "
                "milliseconds, microseconds or nanoseconds; use e.g. 1704067200 or 2024-01-01"
            )
        return int(value // unit[1])
    text = str(value).strip()
    if re.fullmatch(r"-?\d{1,30}", text):
        return parse_time(int(text), field=field)
    if re.fullmatch(r"-?\d{1,30}\.\d*", text):
        return parse_time(float(text), field=field)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        shown = repr(value) if len(text) <= 60 else repr(text[:60]) + "…"
        raise ConfigError(
            f"{field}: cannot read {shown}; use a UTC date like 2024-08-01, an ISO datetime "
            "like 2024-08-01T12:00:00, or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    seconds = int(parsed.timestamp())
    if not 0 <= seconds < MAX_EPOCH_S:
        raise ConfigError(f"{field}: {text!r} lies outside 1970-01-01 … 2100-01-01")
    return seconds


def format_iso(ts: int | float) -> str:
    """Format epoch seconds as ``YYYY-MM-DDTHH:MM:SSZ``: what ``--start``/``--end`` accept.

    Example:
        >>> format_iso(1706745600)
        '2024-02-01T00:00:00Z'
    """
    return format_time(ts).replace(" ", "T") + "Z"


def format_time(ts: int | float) -> str:
    """Format epoch seconds as ``YYYY-MM-DD HH:MM:SS`` UTC (``epoch N`` when out of range).

    Used in error messages, so it never raises, whatever a bad file holds.
    """
    try:
        return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return f"epoch {ts}"
