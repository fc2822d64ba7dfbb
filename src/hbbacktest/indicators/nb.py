"""Numba kernels for indicators TA-Lib lacks. Arrays in, arrays out, no raising.

Arrays are 1-D float64; names end in ``_1d_nb`` when the kernel is a port of a pandas method.
"""

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


# Consider a variance update ill-conditioned when at most ~3 significant decimal digits survive
# (pandas' ``InvCondTol``): the window is then recomputed from scratch, exactly as pandas does.
_INV_COND_TOL = np.finfo(np.float64).eps * 1e3


@njit(cache=True)
def _window_bounds_nb(i: int, window: int) -> tuple[int, int]:
    """``[start, end)`` of row ``i``'s window, as pandas' FixedWindowIndexer gives it.

    Window 0 is pandas' odd case: an empty window ending one row early.
    """
    if window == 0:
        return i, i
    end = i + 1
    return max(end - window, 0), end


@njit(cache=True)
def rolling_mean_1d_nb(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Rolling mean over the last ``window`` values, NaN skipped (``pd.Series.rolling().mean()``).

    A statement-for-statement port of pandas' ``roll_mean`` (``_libs/window/aggregations.pyx``)
    over a fixed trailing window, so results are bit-identical to pandas: a Kahan-compensated
    running sum with separate compensations for adds and removes; the mean of a window whose
    non-NaN values are one repeated value is that value exactly (``num_consecutive_same_value``);
    a mean of the wrong sign for an all-non-negative or all-negative window is clamped to 0
    (``neg_ct``). ``nobs < min_periods`` or an empty window gives NaN. One pass, O(n).

    The caller must pass ``values`` with infinities already replaced by NaN (pandas does so in
    ``_prep_values``), ``window >= 0`` and ``0 <= min_periods``.
    """
    n = values.shape[0]
    out = np.empty(n, dtype=np.float64)
    nobs = 0
    neg_ct = 0
    sum_x = 0.0
    comp_add = 0.0
    comp_remove = 0.0
    prev_value = np.nan
    same_run = 0
    prev_start = 0
    prev_end = 0
    for i in range(n):
        start, end = _window_bounds_nb(i, window)
        if i == 0 or start >= prev_end:
            # (re)start: pandas rebuilds the sums when the new window shares nothing with the last.
            comp_add = 0.0
            comp_remove = 0.0
            sum_x = 0.0
            nobs = 0
            neg_ct = 0
            prev_value = values[start]  # start < n: start <= i
            same_run = 0
            lo = start
        else:
            for j in range(prev_start, start):
                val = values[j]
                if val == val:
                    nobs -= 1
                    y = -val - comp_remove
                    t = sum_x + y
                    comp_remove = t - sum_x - y
                    sum_x = t
                    if np.signbit(val):
                        neg_ct -= 1
            lo = prev_end
        for j in range(lo, end):
            val = values[j]
            if val == val:
                nobs += 1
                y = val - comp_add
                t = sum_x + y
                comp_add = t - sum_x - y
                sum_x = t
                if np.signbit(val):
                    neg_ct += 1
                if val == prev_value:
                    same_run += 1
                else:
                    same_run = 1
                prev_value = val
        if nobs >= min_periods and nobs > 0:
            result = sum_x / nobs
            if same_run >= nobs:
                result = prev_value
            elif neg_ct == 0 and result < 0:
                result = 0.0
            elif neg_ct == nobs and result > 0:
                result = 0.0
        else:
            result = np.nan
        out[i] = result
        prev_start = start
        prev_end = end
    return out


@njit(cache=True)
def _add_var(
    val: float, nobs: float, mean_x: float, ssqdm_x: float, comp: float, unstable: bool
) -> tuple[float, float, float, float, bool]:
    """One Welford-Kahan add of a non-NaN ``val`` (pandas' ``add_var``)."""
    prev_m2 = ssqdm_x
    nobs += 1.0
    prev_mean = mean_x - comp
    y = val - comp
    t = y - mean_x
    comp = t + mean_x - y
    mean_x = mean_x + t / nobs
    ssqdm_x = ssqdm_x + (val - prev_mean) * (val - mean_x)
    if prev_m2 * _INV_COND_TOL > ssqdm_x:
        unstable = True
    return mean_x, ssqdm_x, nobs, comp, unstable


@njit(cache=True)
def rolling_var_1d_nb(values: np.ndarray, window: int, min_periods: int, ddof: int) -> np.ndarray:
    """Rolling variance over the last ``window`` values, NaN skipped (``.rolling().var(ddof)``).

    A statement-for-statement port of pandas' ``roll_var``: Welford's online update with Kahan
    compensation (separate compensations for adds and removes, the count held as a float). When
    an update loses all but ~3 significant digits (``prev_m2 * InvCondTol > m2``) the window is
    recomputed from scratch, which makes a window of one repeated value come out exactly 0.
    ``min_periods`` is raised to at least 1; fewer than ``min_periods`` observations, or no more
    than ``ddof``, give NaN. One pass, O(n); each recompute adds O(window), as in pandas.

    Same preconditions as ``rolling_mean_1d_nb``.
    """
    n = values.shape[0]
    out = np.empty(n, dtype=np.float64)
    minp = max(min_periods, 1)
    nobs = 0.0
    mean_x = 0.0
    ssqdm_x = 0.0
    comp_add = 0.0
    comp_remove = 0.0
    unstable = False
    prev_start = 0
    prev_end = 0
    for i in range(n):
        start, end = _window_bounds_nb(i, window)
        recompute = i == 0 or start >= prev_end
        if not recompute:
            for j in range(prev_start, start):
                val = values[j]
                if val == val:
                    prev_m2 = ssqdm_x
                    nobs -= 1.0
                    if nobs != 0.0:
                        prev_mean = mean_x - comp_remove
                        y = val - comp_remove
                        t = y - mean_x
                        comp_remove = t + mean_x - y
                        mean_x = mean_x - t / nobs
                        ssqdm_x = ssqdm_x - (val - prev_mean) * (val - mean_x)
                        if prev_m2 * _INV_COND_TOL > ssqdm_x:
                            unstable = True
                    else:
                        mean_x = 0.0
                        ssqdm_x = 0.0
                        unstable = False
            for j in range(prev_end, end):
                val = values[j]
                if val == val:
                    mean_x, ssqdm_x, nobs, comp_add, unstable = _add_var(
                        val, nobs, mean_x, ssqdm_x, comp_add, unstable
                    )
        if recompute or unstable:
            mean_x = 0.0
            ssqdm_x = 0.0
            nobs = 0.0
            comp_add = 0.0
            comp_remove = 0.0
            for j in range(start, end):
                val = values[j]
                if val == val:
                    mean_x, ssqdm_x, nobs, comp_add, unstable = _add_var(
                        val, nobs, mean_x, ssqdm_x, comp_add, unstable
                    )
            unstable = False
        if nobs >= minp and nobs > ddof:
            out[i] = ssqdm_x / (nobs - ddof)
        else:
            out[i] = np.nan
        prev_start = start
        prev_end = end
    return out


@njit(cache=True)
def rolling_std_1d_nb(values: np.ndarray, window: int, min_periods: int) -> np.ndarray:
    """Rolling sample standard deviation (ddof=1), as ``pd.Series.rolling().std()``.

    ``sqrt`` of ``rolling_var_1d_nb``; a (round-off) negative variance gives 0, as pandas'
    ``zsqrt`` does.
    """
    out = rolling_var_1d_nb(values, window, min_periods, 1)
    for i in range(out.shape[0]):
        if out[i] < 0:
            out[i] = 0.0
        else:
            out[i] = np.sqrt(out[i])
    return out
