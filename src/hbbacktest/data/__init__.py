"""Candle data: the container, validation, the Parquet cache, sources, and the one access function.

Everything that needs candles asks :class:`CandleAccess` (``access.candles(...)``).
"""

from hbbacktest.data.access import CandleAccess, CandleWindow
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import normalize_frame, resample
from hbbacktest.data.store import CandleStore

__all__ = ["CandleAccess", "CandleStore", "CandleWindow", "Candles", "normalize_frame", "resample"]
