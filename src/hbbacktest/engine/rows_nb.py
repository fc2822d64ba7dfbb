"""Row arithmetic shared by the executor kernels (bars are indexed by row, stamped by ``ts``)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def window_end_nb(ts: np.ndarray, k: int, seconds: float) -> int:
    """Last row r >= k with ``ts[r] <= ts[k] + seconds`` (the last row when ``seconds`` is NaN)."""
    n = ts.shape[0]
    if np.isnan(seconds):
        return n - 1
    return int(np.searchsorted(ts, ts[k] + seconds, side="right")) - 1
