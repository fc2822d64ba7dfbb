"""hbbacktest.indicators (kept here: tests/unit/indicators is not part of this suite's folders)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import talib

from hbbacktest.indicators import macd, natr, rolling_mean, rolling_std, rolling_zscore

_SHARED_DEFAULT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "candles"
SHARED_CANDLES = Path(os.environ.get("HBBACKTEST_SHARED_CANDLES", _SHARED_DEFAULT))
REAL_CANDLES = SHARED_CANDLES / "binance_BTC-USDT_1m_20240726_20240825.parquet"


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
    np.testing.assert_array_equal(rolling_zscore(close, window), reference_zscore(close, window))


def test_rolling_zscore_hand_values() -> None:
    z = rolling_zscore(np.array([1.0, 2.0, 3.0, 3.0]), 3)
    # [1]: std undefined; [1,2]: (2-1.5)/0.7071; [1,2,3]: (3-2)/1; [2,3,3]: (3-8/3)/0.57735
    np.testing.assert_allclose(
        z, [np.nan, 0.5 / np.sqrt(0.5), 1.0, (1 / 3) / np.sqrt(1 / 3)], rtol=1e-12
    )


def test_rolling_zscore_constant_and_nan_input() -> None:
    assert np.isnan(rolling_zscore(np.full(5, 3.0), 3)).all()
    values = np.array([np.nan, np.nan, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(rolling_zscore(values, 3), reference_zscore(values, 3))
    assert np.isnan(rolling_zscore(values, 3)[:3]).all()


def test_rolling_mean_and_std() -> None:
    values = np.array([1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(rolling_mean(values, 2), [1.0, 1.5, 3.0, 6.0])
    np.testing.assert_allclose(
        rolling_std(values, 2), [np.nan, np.sqrt(0.5), np.sqrt(2.0), np.sqrt(8.0)]
    )


def test_rolling_treats_infinity_as_nan_like_pandas() -> None:
    values = np.array([1.0, np.inf, 2.0, -np.inf, 4.0, 4.0, 5.0])
    s = pd.Series(values)
    np.testing.assert_array_equal(rolling_mean(values, 3), s.rolling(3, min_periods=1).mean())
    np.testing.assert_array_equal(rolling_std(values, 3), s.rolling(3, min_periods=2).std())
    np.testing.assert_array_equal(rolling_zscore(values, 3), reference_zscore(values, 3))


def test_rolling_accepts_integers_and_lists() -> None:
    ints = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    s = pd.Series(ints.astype(float))
    np.testing.assert_array_equal(rolling_mean(ints, 3), s.rolling(3, min_periods=1).mean())
    np.testing.assert_array_equal(rolling_std(ints, 3), s.rolling(3, min_periods=2).std())


@pytest.mark.parametrize(
    ("window", "min_periods", "message"),
    [(-1, 0, "must be <= window -1"), (3, -1, "must be >= 0"), (2, 3, "must be <= window 2")],
)
def test_rolling_rejects_what_pandas_rejects(window: int, min_periods: int, message: str) -> None:
    values = np.arange(5.0)
    with pytest.raises(ValueError, match=message):
        pd.Series(values).rolling(window, min_periods=min_periods).mean()
    with pytest.raises(ValueError, match=message):
        rolling_mean(values, window, min_periods=min_periods)
    with pytest.raises(ValueError, match=message):
        rolling_std(values, window, min_periods=min_periods)
    with pytest.raises(ValueError, match="1-D"):
        rolling_mean(np.ones((2, 2)), 2)


def test_rolling_zscore_window_one_is_rejected_as_by_pandas() -> None:
    # std needs min_periods=2 > window=1; pandas raised here before, so must we.
    with pytest.raises(ValueError, match="must be <= window"):
        rolling_zscore(np.arange(5.0), 1)


@pytest.fixture(scope="module")
def real_candles() -> pd.DataFrame:
    if not REAL_CANDLES.is_file():
        pytest.skip(f"real candles not found at {REAL_CANDLES} (../shared is absent)")
    return pd.read_parquet(REAL_CANDLES)


@pytest.mark.parametrize("window", [1, 2, 3, 14, 20, 50, 100, 200, 1000, 5000, 100_000])
def test_rolling_bit_identical_to_pandas_on_real_candles(
    real_candles: pd.DataFrame, window: int
) -> None:
    close = real_candles["close"].to_numpy(np.float64)
    line = macd(close, 21, 42, 9)[0]  # pmm_dynamic z-scores the MACD line over max_records
    columns = {
        "close": close,
        "volume": real_candles["volume"].to_numpy(np.float64),  # many repeated values
        "macd": line,  # NaN warm-up, values of both signs
        "log_return": np.log(close[1:] / close[:-1]),  # long runs of exact zeros
    }
    for name, values in columns.items():
        s = pd.Series(values)
        for min_periods in sorted(m for m in {0, 1, 2, window} if m <= window):
            rolling = s.rolling(window, min_periods=min_periods)
            got = rolling_mean(values, window, min_periods=min_periods)
            np.testing.assert_array_equal(got, rolling.mean(), err_msg=f"mean {name}")
            got = rolling_std(values, window, min_periods=min_periods)
            np.testing.assert_array_equal(got, rolling.std(), err_msg=f"std {name}")
        if window > 1:
            np.testing.assert_array_equal(
                rolling_zscore(values, window), reference_zscore(values, window), err_msg=name
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
