"""Shared by the candle-signal directional controllers (bollinger_v1, macd_bb_v1, supertrend_v1)."""

from __future__ import annotations

import numpy as np


def signal_from(
    long_condition: np.ndarray, short_condition: np.ndarray, valid: np.ndarray
) -> np.ndarray:
    """1 where long, -1 where short (short wins when both hold, as upstream), 0 else; NaN if not valid."""
    signal = np.zeros(long_condition.shape[0])
    signal[long_condition] = 1.0
    signal[short_condition] = -1.0
    signal[~valid] = np.nan
    return signal
