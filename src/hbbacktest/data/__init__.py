"""Candle data: the immutable container, normalisation and validation, the Parquet store, sources."""

from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import normalize_frame, resample
from hbbacktest.data.store import CandleStore

__all__ = ["CandleStore", "Candles", "normalize_frame", "resample"]
