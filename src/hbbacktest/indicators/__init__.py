"""Technical indicators over NumPy arrays, computed once per run (never per bar)."""

from hbbacktest.indicators.ta import (
    bbands_percent,
    bbands_width,
    macd,
    natr,
    rolling_mean,
    rolling_std,
    rolling_zscore,
    supertrend,
)

__all__ = [
    "bbands_percent",
    "bbands_width",
    "macd",
    "natr",
    "rolling_mean",
    "rolling_std",
    "rolling_zscore",
    "supertrend",
]
