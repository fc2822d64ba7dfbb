"""Numba kernels for indicators TA-Lib lacks. Arrays in, arrays out, no raising."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def supertrend_nb(
    close: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """SuperTrend direction (+1/-1) and line from the raw bands ``hl2 ∓ multiplier * ATR``.

    Same recursion as ``pandas_ta.supertrend``: the direction turns up when the close crosses
    above the previous upper band and down when it crosses below the previous lower band;
    otherwise it holds, and the band on the trend's side may only ratchet (lower band up in an
    uptrend, upper band down in a downtrend). Rows whose bands are NaN (ATR warm-up) are NaN.
    """
    n = close.shape[0]
    direction = np.full(n, np.nan)
    line = np.full(n, np.nan)
    lb = lower.copy()
    ub = upper.copy()
    current = 1.0
    for i in range(1, n):
        if np.isnan(lb[i]) or np.isnan(ub[i]):
            continue
        if close[i] > ub[i - 1]:
            current = 1.0
        elif close[i] < lb[i - 1]:
            current = -1.0
        else:
            if current > 0 and lb[i] < lb[i - 1]:
                lb[i] = lb[i - 1]
            if current < 0 and ub[i] > ub[i - 1]:
                ub[i] = ub[i - 1]
        direction[i] = current
        line[i] = lb[i] if current > 0 else ub[i]
    return direction, line
