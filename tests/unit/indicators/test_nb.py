"""Kernels against references: SuperTrend against a slow, obvious reimplementation of
pandas_ta's definition; the rolling mean/variance/std kernels against pandas itself, bit for bit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.indicators.nb import (
    rolling_mean_1d_nb,
    rolling_std_1d_nb,
    rolling_var_1d_nb,
    supertrend_nb,
)


def _reference(
    close: list[float], lower: list[float], upper: list[float]
) -> tuple[list[float], list[float]]:
    lb, ub = list(lower), list(upper)
    direction = [math.nan] * len(close)
    line = [math.nan] * len(close)
    current = 1.0
    for i in range(1, len(close)):
        if math.isnan(lb[i]) or math.isnan(ub[i]):
            continue
        if close[i] > ub[i - 1]:
            current = 1.0
        elif close[i] < lb[i - 1]:
            current = -1.0
        else:
            if current > 0:
                lb[i] = max(lb[i], lb[i - 1])
            else:
                ub[i] = min(ub[i], ub[i - 1])
        direction[i] = current
        line[i] = lb[i] if current > 0 else ub[i]
    return direction, line


def test_hand_example() -> None:
    # bands ±1 around the close; a jump above the previous upper band turns it up, a fall below
    # the previous lower band turns it down, and in between the lower band ratchets up.
    close = np.array([10.0, 10.0, 12.5, 12.0, 9.0])
    lower, upper = close - 1, close + 1
    direction, line = supertrend_nb(close, lower, upper)
    assert np.isnan(direction[0])
    np.testing.assert_array_equal(direction[1:], [1, 1, 1, -1])
    np.testing.assert_array_equal(line[1:], [9.0, 11.5, 11.5, 10.0])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(1, 1000), min_size=2, max_size=60), st.floats(0.01, 50), st.integers(0, 5)
)
def test_matches_reference(close: list[float], width: float, warmup: int) -> None:
    c = np.array(close)
    lower, upper = c - width, c + width
    lower[:warmup] = np.nan
    upper[:warmup] = np.nan
    want_dir, want_line = _reference(list(c), list(lower), list(upper))
    got_dir, got_line = supertrend_nb(c, lower, upper)
    np.testing.assert_array_equal(got_dir, np.array(want_dir))
    np.testing.assert_array_equal(got_line, np.array(want_line))


# --- rolling mean / var / std: pandas' own Cython algorithm, so exact equality is the contract.

# Values that stress the special cases: repeated values (pandas' same-value rule), signed zeros
# and all-negative windows (neg_ct clamp), magnitudes far apart (Kahan compensation, the
# ill-conditioned recompute), and NaN gaps. Infinities are excluded: the wrappers turn them into
# NaN before a kernel sees them (tested in test_ta.py).
_VALUE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=False),
    st.floats(-1e6, 1e6),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.1, 1e8 + 0.1, -2.5, math.nan, 5e-324]),
)
# (value, run length): runs of identical values and of NaN.
_SERIES = st.lists(st.tuples(_VALUE, st.integers(1, 12)), max_size=40).map(
    lambda runs: np.array([v for v, k in runs for _ in range(k)], dtype=np.float64)
)


@st.composite
def _window_and_min_periods(draw: st.DrawFn) -> tuple[int, int]:
    window = draw(st.integers(1, 50))
    return window, draw(st.integers(0, window))


def _pandas(values: np.ndarray, window: int, min_periods: int) -> pd.core.window.Rolling:
    return pd.Series(values).rolling(window, min_periods=min_periods)


@settings(max_examples=600, deadline=None)
@given(_SERIES, _window_and_min_periods())
def test_rolling_kernels_equal_pandas_bit_for_bit(
    values: np.ndarray, window_min_periods: tuple[int, int]
) -> None:
    window, min_periods = window_min_periods
    rolling = _pandas(values, window, min_periods)
    with np.errstate(all="ignore"):
        want_mean, want_var, want_std = (
            rolling.mean().to_numpy(),
            rolling.var().to_numpy(),
            rolling.std().to_numpy(),
        )
    np.testing.assert_array_equal(rolling_mean_1d_nb(values, window, min_periods), want_mean)
    np.testing.assert_array_equal(rolling_var_1d_nb(values, window, min_periods, 1), want_var)
    np.testing.assert_array_equal(rolling_std_1d_nb(values, window, min_periods), want_std)


@settings(max_examples=200, deadline=None)
@given(_SERIES, st.integers(0, 5), st.integers(0, 3))
def test_rolling_var_any_ddof_equals_pandas(values: np.ndarray, window: int, ddof: int) -> None:
    want = _pandas(values, window, 0).var(ddof=ddof).to_numpy()
    np.testing.assert_array_equal(rolling_var_1d_nb(values, window, 0, ddof), want)


def test_rolling_mean_hand_values() -> None:
    x = np.array([1.0, np.nan, 3.0, 5.0, 5.0])
    np.testing.assert_array_equal(rolling_mean_1d_nb(x, 2, 1), [1.0, 1.0, 3.0, 4.0, 5.0])
    # min_periods counts non-NaN values; window 0 is empty everywhere.
    np.testing.assert_array_equal(rolling_mean_1d_nb(x, 2, 2), [np.nan, np.nan, np.nan, 4.0, 5.0])
    assert np.isnan(rolling_mean_1d_nb(x, 0, 0)).all()


def test_constant_run_gives_exact_mean_and_zero_variance() -> None:
    # After 0.1, 0.2, 0.7 leave the window the sums carry round-off; pandas still reports the
    # repeated value exactly and a variance of exactly 0 (so the z-score is NaN, not ±huge).
    x = np.array([0.1, 0.2, 0.7, 0.3, 0.3, 0.3, 0.3])
    assert rolling_mean_1d_nb(x, 3, 1)[-1] == 0.3
    assert rolling_var_1d_nb(x, 3, 1, 1)[-1] == 0.0
    assert rolling_std_1d_nb(x, 3, 1)[-1] == 0.0


@pytest.mark.parametrize("n", [0, 1, 2])
def test_rolling_kernels_short_input(n: int) -> None:
    x = np.arange(n, dtype=np.float64)
    for window in (1, 3):
        rolling = _pandas(x, window, 1)
        np.testing.assert_array_equal(rolling_mean_1d_nb(x, window, 1), rolling.mean())
        np.testing.assert_array_equal(rolling_std_1d_nb(x, window, 1), rolling.std())
