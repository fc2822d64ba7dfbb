"""Indicators backed by TA-Lib, plus rolling-window statistics.

Every function is causal: the value at index ``i`` depends only on inputs ``0..i``. That is what
makes the engine's truncation-invariance guarantee hold for features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib


def _f64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def natr(high: np.ndarray, low: np.ndarray, close: np.ndarray, length: int) -> np.ndarray:
    """Normalised average true range in percent (TA-Lib ``NATR``; Wilder smoothing).

    Same definition as ``pandas_ta.natr``: ``100 * ATR(length) / close``. The first ``length``
    values are NaN.
    """
    if close.shape[0] <= length:
        return np.full(close.shape[0], np.nan)
    return np.asarray(talib.NATR(_f64(high), _f64(low), _f64(close), timeperiod=length))


def macd(
    close: np.ndarray, fast: int, slow: int, signal: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MACD line, signal line and histogram (TA-Lib ``MACD``; EMAs seeded with an SMA).

    ``pandas_ta.macd`` names these ``MACD_f_s_g``, ``MACDs_f_s_g`` and ``MACDh_f_s_g``.
    Values before ``slow + signal - 2`` candles are NaN.
    """
    n = close.shape[0]
    if n < max(fast, slow) + signal:
        nan = np.full(n, np.nan)
        return nan, nan.copy(), nan.copy()
    line, sig, hist = talib.MACD(_f64(close), fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return np.asarray(line), np.asarray(sig), np.asarray(hist)


def rolling_mean(values: np.ndarray, window: int, *, min_periods: int = 1) -> np.ndarray:
    """Mean of the last ``window`` values, NaNs skipped (``pd.Series.rolling(window).mean()``)."""
    return pd.Series(values).rolling(window, min_periods=min_periods).mean().to_numpy()


def rolling_std(values: np.ndarray, window: int, *, min_periods: int = 2) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last ``window`` values, NaNs skipped."""
    return pd.Series(values).rolling(window, min_periods=min_periods).std().to_numpy()


def rolling_zscore(values: np.ndarray, window: int) -> np.ndarray:
    """``(x - mean) / std`` over the last ``window`` values; NaN where std is 0 or undefined."""
    mean = rolling_mean(values, window)
    std = rolling_std(values, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - mean) / std
    z[~np.isfinite(z)] = np.nan
    return z
