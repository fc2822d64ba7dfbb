"""The immutable candle container the engine reads: one NumPy column per field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hbbacktest.core.time import format_time

if TYPE_CHECKING:
    # Imported where used: the store and `data list` must not pay for pandas.
    import pandas as pd

COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True, slots=True)
class Candles:
    """OHLCV candles of one market and interval, sorted by ``ts`` (open time, epoch seconds).

    Arrays are read-only. Build one with :meth:`from_frame`, which expects clean data (use
    :func:`hbbacktest.data.normalize_frame` first for anything read from outside).
    """

    ts: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    interval_s: int

    def __post_init__(self) -> None:
        for name in ("ts", *COLUMNS):
            array = getattr(self, name)
            if array.flags.writeable:
                array = array.copy()
                array.setflags(write=False)
                object.__setattr__(self, name, array)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, interval_s: int) -> Candles:
        """Build from a frame with ``timestamp`` (s) and OHLCV columns."""
        return cls(
            ts=frame["timestamp"].to_numpy(dtype=np.int64),
            open=frame["open"].to_numpy(dtype=np.float64),
            high=frame["high"].to_numpy(dtype=np.float64),
            low=frame["low"].to_numpy(dtype=np.float64),
            close=frame["close"].to_numpy(dtype=np.float64),
            volume=frame["volume"].to_numpy(dtype=np.float64),
            interval_s=interval_s,
        )

    @classmethod
    def empty(cls, interval_s: int) -> Candles:
        """No candles."""
        f = np.empty(0, dtype=np.float64)
        return cls(np.empty(0, dtype=np.int64), f, f, f, f, f, interval_s)

    def to_frame(self) -> pd.DataFrame:
        """A pandas copy with a ``timestamp`` column."""
        import pandas as pd

        return pd.DataFrame(
            {"timestamp": self.ts, **{name: getattr(self, name) for name in COLUMNS}}
        )

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    @property
    def first_ts(self) -> int | None:
        """Open time of the first candle, or None when empty."""
        return int(self.ts[0]) if len(self) else None

    @property
    def last_ts(self) -> int | None:
        """Open time of the last candle, or None when empty."""
        return int(self.ts[-1]) if len(self) else None

    def between(self, start: int, end: int) -> Candles:
        """Candles whose open time is in ``[start, end]``."""
        lo = int(np.searchsorted(self.ts, start, side="left"))
        hi = int(np.searchsorted(self.ts, end, side="right"))
        return self.take(slice(lo, hi))

    def take(self, index: slice) -> Candles:
        """A positional slice."""
        return Candles(
            self.ts[index],
            self.open[index],
            self.high[index],
            self.low[index],
            self.close[index],
            self.volume[index],
            self.interval_s,
        )

    def describe_range(self) -> str:
        """``first – last`` in UTC, for messages."""
        if not len(self):
            return "no candles"
        return f"{format_time(self.ts[0])} – {format_time(self.ts[-1])} UTC ({len(self)} candles)"

    def gaps(self) -> tuple[int, int]:
        """Number of gaps and of missing candles in total."""
        if len(self) < 2:
            return 0, 0
        steps = np.diff(self.ts) // self.interval_s
        missing = steps[steps > 1] - 1
        return int(missing.shape[0]), int(missing.sum())

    def largest_gap(self) -> tuple[int, int] | None:
        """The largest gap as (open time of the candle before it, candles missing), or None.

        The first of equally large gaps wins.
        """
        if len(self) < 2:
            return None
        missing = np.diff(self.ts) // self.interval_s - 1
        at = int(np.argmax(missing))
        if missing[at] <= 0:
            return None
        return int(self.ts[at]), int(missing[at])
