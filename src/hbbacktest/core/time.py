"""Time helpers. Inside hbbacktest time is UTC int64 epoch **seconds**."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hbbacktest.core.errors import ConfigError

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000}
_INTERVAL_RE = re.compile(r"^(\d+)([smhdwM])$")

# A timestamp above this is taken to be milliseconds (year 2286 in seconds).
_MS_THRESHOLD = 10_000_000_000


def interval_to_seconds(interval: str) -> int:
    """Convert a candle interval such as ``"1m"``, ``"15m"``, ``"1h"`` or ``"1d"`` to seconds.

    Raises:
        ConfigError: if the interval is not ``<positive integer><s|m|h|d|w|M>``.
    """
    match = _INTERVAL_RE.match(str(interval).strip())
    if not match or int(match.group(1)) <= 0:
        raise ConfigError(
            f"invalid interval {interval!r}: expected a number and a unit, like '1m', '3m', "
            "'1h' or '1d' (units s, m, h, d, w, M)"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def parse_time(value: str | int | float, *, field: str = "time") -> int:
    """Parse a UTC date (``2024-08-01``), ISO datetime or epoch (s or ms) into epoch seconds.

    Raises:
        ConfigError: naming ``field`` when the value cannot be read.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a date or an epoch timestamp, got {value!r}")
    if isinstance(value, int | float):
        number = int(value)
        return number // 1000 if abs(number) >= _MS_THRESHOLD else number
    text = str(value).strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return parse_time(float(text), field=field)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{field}: cannot read {value!r}; use a UTC date like 2024-08-01, an ISO datetime "
            "like 2024-08-01T12:00:00, or epoch seconds"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def format_time(ts: int | float) -> str:
    """Format epoch seconds as ``YYYY-MM-DD HH:MM:SS`` UTC."""
    return datetime.fromtimestamp(int(ts), tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
