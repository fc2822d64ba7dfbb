"""SuperTrend kernel against a slow, obvious reference written from pandas_ta's definition."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.indicators.nb import supertrend_nb


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
