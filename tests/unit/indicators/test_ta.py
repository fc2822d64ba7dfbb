"""hbbacktest.indicators (kept here: tests/unit/indicators is not part of this suite's folders)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from hbbacktest.indicators import macd, natr, rolling_mean, rolling_std, rolling_zscore


@pytest.fixture(scope="module")
def ohlc() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 400)))
    high = close * (1 + np.abs(rng.normal(0, 0.005, 400)))
    low = close * (1 - np.abs(rng.normal(0, 0.005, 400)))
    return high, low, close


def reference_zscore(values: np.ndarray, window: int) -> np.ndarray:
    s = pd.Series(values)
    mean = s.rolling(window, min_periods=1).mean()
    std = s.rolling(window, min_periods=2).std(ddof=1)
    z = ((s - mean) / std).to_numpy(copy=True)
    z[~np.isfinite(z)] = np.nan
    return z


@pytest.mark.parametrize("window", [2, 5, 50, 1000])
def test_rolling_zscore_matches_pandas(ohlc: tuple[np.ndarray, ...], window: int) -> None:
    close = ohlc[2]
    np.testing.assert_allclose(rolling_zscore(close, window), reference_zscore(close, window))


def test_rolling_zscore_hand_values() -> None:
    z = rolling_zscore(np.array([1.0, 2.0, 3.0, 3.0]), 3)
    # [1]: std undefined; [1,2]: (2-1.5)/0.7071; [1,2,3]: (3-2)/1; [2,3,3]: (3-8/3)/0.57735
    np.testing.assert_allclose(
        z, [np.nan, 0.5 / np.sqrt(0.5), 1.0, (1 / 3) / np.sqrt(1 / 3)], rtol=1e-12
    )


def test_rolling_zscore_constant_and_nan_input() -> None:
    assert np.isnan(rolling_zscore(np.full(5, 3.0), 3)).all()
    values = np.array([np.nan, np.nan, 1.0, 2.0, 4.0])
    np.testing.assert_allclose(rolling_zscore(values, 3), reference_zscore(values, 3))
    assert np.isnan(rolling_zscore(values, 3)[:3]).all()


def test_rolling_mean_and_std() -> None:
    values = np.array([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(rolling_mean(values, 2), [1.0, 1.5, 3.0, 6.0])
    np.testing.assert_allclose(
        rolling_std(values, 2), [np.nan, np.sqrt(0.5), np.sqrt(2.0), np.sqrt(8.0)]
    )


def test_natr_matches_talib_and_warms_up(ohlc: tuple[np.ndarray, ...]) -> None:
    high, low, close = ohlc
    out = natr(high, low, close, 14)
    assert out.shape == close.shape
    assert np.isnan(out[:14]).all()
    assert np.isfinite(out[14:]).all()
    assert (out[14:] > 0).all()
    np.testing.assert_allclose(out, talib.NATR(high, low, close, timeperiod=14))


def test_macd_shapes_and_warm_up(ohlc: tuple[np.ndarray, ...]) -> None:
    close = ohlc[2]
    line, signal, hist = macd(close, 12, 26, 9)
    for array in (line, signal, hist):
        assert array.shape == close.shape
    first = 26 + 9 - 2
    assert np.isnan(hist[:first]).all()
    assert np.isfinite(hist[first:]).all()
    np.testing.assert_allclose(hist[first:], (line - signal)[first:], atol=1e-12)


@pytest.mark.parametrize("n", [0, 1, 5, 14])
def test_short_inputs_give_nan(n: int) -> None:
    x = np.linspace(1.0, 2.0, n)
    out = natr(x + 1, x - 0.5, x, 14)
    assert out.shape == (n,)
    assert np.isnan(out).all()
    for array in macd(x, 12, 26, 9):
        assert array.shape == (n,)
        assert np.isnan(array).all()
    assert rolling_zscore(x, 5).shape == (n,)


def test_integer_input_is_accepted() -> None:
    x = np.arange(1, 60)
    assert np.isfinite(macd(x, 12, 26, 9)[0][-1])
    assert np.isfinite(natr(x + 1, x, x, 14)[-1])


@pytest.mark.parametrize("name", ["natr", "zscore"])
def test_causal_under_truncation(ohlc: tuple[np.ndarray, ...], name: str) -> None:
    high, low, close = ohlc

    def compute(k: int) -> np.ndarray:
        if name == "natr":
            return natr(high[:k], low[:k], close[:k], 14)
        return rolling_zscore(close[:k], 20)

    full = compute(len(close))
    for k in range(1, 60):
        np.testing.assert_allclose(compute(k), full[:k], err_msg=f"k={k}")


def test_macd_causal_under_truncation(ohlc: tuple[np.ndarray, ...]) -> None:
    close = ohlc[2]
    full = macd(close, 12, 26, 9)[0]
    for k in range(1, 60):
        np.testing.assert_allclose(macd(close[:k], 12, 26, 9)[0], full[:k], err_msg=f"k={k}")
