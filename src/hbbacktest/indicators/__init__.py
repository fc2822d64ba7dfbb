"""Technical indicators over NumPy arrays, computed once per run (never per bar)."""

from hbbacktest.indicators.ta import macd, natr, rolling_mean, rolling_std, rolling_zscore

__all__ = ["macd", "natr", "rolling_mean", "rolling_std", "rolling_zscore"]
