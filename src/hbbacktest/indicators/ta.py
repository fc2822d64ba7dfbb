"""Indicators backed by TA-Lib, plus rolling-window statistics.

Every function is causal: the value at index ``i`` depends only on inputs ``0..i``. That is what
makes the engine's truncation-invariance guarantee hold for features.
"""

from __future__ import annotations

import numpy as np

from hbbacktest.indicators._talib import talib
from hbbacktest.indicators.nb import rolling_mean_1d_nb, rolling_std_1d_nb, supertrend_nb


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
    The first ``max(fast, slow) + signal - 2`` values are NaN.
    """
    n = close.shape[0]
    if n < max(fast, slow) + signal - 1:
        nan = np.full(n, np.nan)
        return nan, nan.copy(), nan.copy()
    line, sig, hist = talib.MACD(_f64(close), fastperiod=fast, slowperiod=slow, signalperiod=signal)
    return np.asarray(line), np.asarray(sig), np.asarray(hist)


def bbands_percent(close: np.ndarray, length: int, std: float) -> np.ndarray:
    """Bollinger %B: ``(close - lower) / (upper - lower)`` (``pandas_ta`` ``BBP_len_std_std``).

    Bands are TA-Lib ``BBANDS`` (SMA ± ``std`` population standard deviations), as in
    Hummingbot's environment where pandas_ta delegates to TA-Lib. NaN during warm-up and where
    the bands have zero width.
    """
    if close.shape[0] < length:
        return np.full(close.shape[0], np.nan)
    upper, _, lower = talib.BBANDS(_f64(close), timeperiod=length, nbdevup=std, nbdevdn=std)
    width = np.asarray(upper) - np.asarray(lower)
    with np.errstate(divide="ignore", invalid="ignore"):
        percent = (close - np.asarray(lower)) / width
    percent[~np.isfinite(percent)] = np.nan
    return percent


def bbands_width(close: np.ndarray, length: int, std: float) -> np.ndarray:
    """Bollinger band width in percent of the middle band (``pandas_ta`` ``BBB_len_std_std``).

    ``100 * (upper - lower) / middle`` with TA-Lib ``BBANDS``; NaN during warm-up.
    """
    if close.shape[0] < length:
        return np.full(close.shape[0], np.nan)
    upper, middle, lower = talib.BBANDS(_f64(close), timeperiod=length, nbdevup=std, nbdevdn=std)
    with np.errstate(divide="ignore", invalid="ignore"):
        width = 100.0 * (np.asarray(upper) - np.asarray(lower)) / np.asarray(middle)
    width[~np.isfinite(width)] = np.nan
    return width


def supertrend(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, length: int, multiplier: float
) -> tuple[np.ndarray, np.ndarray]:
    """SuperTrend direction (+1 up, -1 down) and line, as ``pandas_ta.supertrend``.

    ATR is Wilder's (TA-Lib ``ATR``); bands are ``(high + low) / 2 ∓ multiplier * ATR``.
    """
    if close.shape[0] <= length:
        nan = np.full(close.shape[0], np.nan)
        return nan, nan.copy()
    atr = np.asarray(talib.ATR(_f64(high), _f64(low), _f64(close), timeperiod=length))
    mid = (_f64(high) + _f64(low)) / 2
    return supertrend_nb(_f64(close), mid - multiplier * atr, mid + multiplier * atr)


def _rolling_input(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Validate like ``pd.Series.rolling`` and prepare ``values`` as pandas does (inf -> NaN)."""
    if min_periods < 0:
        raise ValueError("min_periods must be >= 0")
    if min_periods > window:
        raise ValueError(f"min_periods {min_periods} must be <= window {window}")  # and window >= 0
    x = _f64(values)
    if x.ndim != 1:
        raise ValueError(f"expected a 1-D array, got shape {x.shape}")
    infinite = np.isinf(x)
    if infinite.any():
        x = np.where(infinite, np.nan, x)
    return x


def rolling_mean(values: np.ndarray, window: int, *, min_periods: int = 1) -> np.ndarray:
    """Mean of the last ``window`` values, NaNs skipped.

    Bit-identical to ``pd.Series(values).rolling(window, min_periods=min_periods).mean()``
    (same algorithm, ``rolling_mean_1d_nb``), without importing pandas. Infinities count as NaN,
    as in pandas. NaN where fewer than ``min_periods`` values are present.

    Raises:
        ValueError: ``min_periods`` negative or above ``window`` (as pandas, with its messages),
            or ``values`` not 1-D.
    """
    return rolling_mean_1d_nb(_rolling_input(values, window, min_periods), window, min_periods)


def rolling_std(values: np.ndarray, window: int, *, min_periods: int = 2) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the last ``window`` values, NaNs skipped.

    Bit-identical to ``pd.Series(values).rolling(window, min_periods=min_periods).std()``
    (``rolling_std_1d_nb``); a window holding one repeated value gives exactly 0.

    Raises:
        ValueError: as ``rolling_mean``.
    """
    return rolling_std_1d_nb(_rolling_input(values, window, min_periods), window, min_periods)


def rolling_zscore(values: np.ndarray, window: int) -> np.ndarray:
    """``(x - mean) / std`` over the last ``window`` values; NaN where std is 0 or undefined."""
    mean = rolling_mean(values, window)
    std = rolling_std(values, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (values - mean) / std
    z[~np.isfinite(z)] = np.nan
    return z
