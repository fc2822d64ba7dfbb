"""hbbacktest.compat.pandas_ta: the pandas-ta stand-in that user controller files import."""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import talib

from hbbacktest.compat import pandas_ta as ta
from hbbacktest.compat.pandas_ta import TAAccessor, register_accessor

NAN = math.nan
DATAFRAME_CLASS: Any = pd.DataFrame  # pandas-stubs know neither _accessors nor .ta
NP_TWENTY: Any = np.int64(20)  # controllers may pass NumPy ints; names must still read "20"


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 300
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high = close * (1 + np.abs(rng.normal(0, 0.004, n)))
    low = close * (1 - np.abs(rng.normal(0, 0.004, n)))
    index = pd.date_range("2024-03-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame(
        {"open": close, "high": high, "low": low, "close": close, "volume": 1.0}, index=index
    )


# --------------------------------------------------------------------------- column names


NAME_CASES: list[tuple[str, Callable[[pd.DataFrame], pd.Series | pd.DataFrame], list[str]]] = [
    ("sma default", lambda d: ta.sma(d["close"]), ["SMA_10"]),
    ("sma numpy int", lambda d: ta.sma(d["close"], length=NP_TWENTY), ["SMA_20"]),
    ("ema", lambda d: ta.ema(d["close"], length=21), ["EMA_21"]),
    ("rma", lambda d: ta.rma(d["close"]), ["RMA_10"]),
    ("rsi", lambda d: ta.rsi(d["close"]), ["RSI_14"]),
    ("atr", lambda d: ta.atr(d["high"], d["low"], d["close"]), ["ATRr_14"]),
    (
        "atr mamode+percent",
        lambda d: ta.atr(d["high"], d["low"], d["close"], length=7, mamode="ema", percent=True),
        ["ATRep_7"],
    ),
    ("natr", lambda d: ta.natr(d["high"], d["low"], d["close"], length=14), ["NATR_14"]),
    ("true_range", lambda d: ta.true_range(d["high"], d["low"], d["close"]), ["TRUERANGE_1"]),
    (
        "macd",
        lambda d: ta.macd(d["close"], fast=21, slow=42, signal=9),
        ["MACD_21_42_9", "MACDh_21_42_9", "MACDs_21_42_9"],
    ),
    (
        "macd swapped",
        lambda d: ta.macd(d["close"], fast=26, slow=12),
        ["MACD_12_26_9", "MACDh_12_26_9", "MACDs_12_26_9"],
    ),
    (
        "macd asmode",
        lambda d: ta.macd(d["close"], asmode=True),
        ["MACDAS_12_26_9", "MACDASh_12_26_9", "MACDASs_12_26_9"],
    ),
    (
        "bbands 0.4 style",
        lambda d: ta.bbands(d["close"], length=100, lower_std=2.0, upper_std=2.0),
        [f"BB{k}_100_2.0_2.0" for k in "LMUBP"],
    ),
    (
        "bbands defaults",
        lambda d: ta.bbands(d["close"], length=20),
        [f"BB{k}_20_2.0_2.0" for k in "LMUBP"],
    ),
    (
        "bbands int deviation keeps int",
        lambda d: ta.bbands(d["close"], length=20, lower_std=2, upper_std=1.5),
        [f"BB{k}_20_2_1.5" for k in "LMUBP"],
    ),
    (
        "bbands 0.3 style std",
        lambda d: ta.bbands(d["close"], length=20, std=2.0),
        [f"BB{k}_20_2.0" for k in "LMUBP"],
    ),
    (
        "bbands 0.3 style std int becomes float",
        lambda d: ta.bbands(d["close"], length=20, std=3),
        [f"BB{k}_20_3.0" for k in "LMUBP"],
    ),
    (
        "supertrend",
        lambda d: ta.supertrend(d["high"], d["low"], d["close"], length=20, multiplier=4.0),
        ["SUPERT_20_4.0", "SUPERTd_20_4.0", "SUPERTl_20_4.0", "SUPERTs_20_4.0"],
    ),
    (
        "supertrend defaults",
        lambda d: ta.supertrend(d["high"], d["low"], d["close"]),
        ["SUPERT_7_3.0", "SUPERTd_7_3.0", "SUPERTl_7_3.0", "SUPERTs_7_3.0"],
    ),
    ("stdev", lambda d: ta.stdev(d["close"]), ["STDEV_30"]),
    ("zscore", lambda d: ta.zscore(d["close"], length=20), ["ZS_20"]),
    ("log_return", lambda d: ta.log_return(d["close"]), ["LOGRET_1"]),
    ("log_return cum", lambda d: ta.log_return(d["close"], cumulative=True), ["CUMLOGRET_1"]),
    ("percent_return", lambda d: ta.percent_return(d["close"], length=3), ["PCTRET_3"]),
]


def _names(result: pd.Series | pd.DataFrame) -> list[str]:
    return [str(result.name)] if isinstance(result, pd.Series) else list(result.columns)


@pytest.mark.parametrize(
    ("call", "expected"), [c[1:] for c in NAME_CASES], ids=[c[0] for c in NAME_CASES]
)
def test_column_names_and_index(
    candles: pd.DataFrame,
    call: Callable[[pd.DataFrame], pd.Series | pd.DataFrame],
    expected: list[str],
) -> None:
    result = call(candles)
    assert _names(result) == expected
    assert result.index.equals(candles.index)
    assert len(result) == len(candles)


def test_array_input_gets_range_index() -> None:
    result = ta.sma(np.arange(6.0), length=2)
    assert isinstance(result, pd.Series)
    assert result.index.equals(pd.RangeIndex(6))


# --------------------------------------------------------------------------- NaN warm-up


WARMUP_CASES: list[tuple[str, Callable[[pd.DataFrame], pd.Series | pd.DataFrame], int]] = [
    ("sma", lambda d: ta.sma(d["close"], length=20), 19),
    ("ema", lambda d: ta.ema(d["close"], length=20), 19),
    ("rma", lambda d: ta.rma(d["close"], length=20), 0),
    ("rsi", lambda d: ta.rsi(d["close"], length=14), 14),
    ("atr", lambda d: ta.atr(d["high"], d["low"], d["close"], length=14), 14),
    ("natr", lambda d: ta.natr(d["high"], d["low"], d["close"], length=14), 14),
    ("true_range", lambda d: ta.true_range(d["high"], d["low"], d["close"]), 1),
    ("macd", lambda d: ta.macd(d["close"], fast=21, slow=42, signal=9), 42 + 9 - 2),
    ("bbands", lambda d: ta.bbands(d["close"], length=100), 99),
    ("stdev", lambda d: ta.stdev(d["close"], length=30), 29),
    ("zscore", lambda d: ta.zscore(d["close"], length=30), 29),
    ("log_return", lambda d: ta.log_return(d["close"], length=5), 5),
    ("percent_return", lambda d: ta.percent_return(d["close"]), 1),
]


@pytest.mark.parametrize(
    ("call", "warmup"), [c[1:] for c in WARMUP_CASES], ids=[c[0] for c in WARMUP_CASES]
)
def test_nan_warmup_length(
    candles: pd.DataFrame, call: Callable[[pd.DataFrame], pd.Series | pd.DataFrame], warmup: int
) -> None:
    values = call(candles).to_numpy()
    values = values.reshape(len(candles), -1)
    assert np.isnan(values[:warmup]).all()
    assert not np.isnan(values[warmup:]).any()


def test_supertrend_warmup_direction_uses_length_bands_use_atr_length(
    candles: pd.DataFrame,
) -> None:
    st = ta.supertrend(candles["high"], candles["low"], candles["close"], length=10, atr_length=5)
    line, direction = st.iloc[:, 0].to_numpy(), st.iloc[:, 1].to_numpy()
    # As pandas-ta 0.4: the ATR (and so the line) starts at atr_length, the direction at length.
    assert np.isnan(line[:5]).all() and not np.isnan(line[5:]).any()
    assert np.isnan(direction[:10]).all() and set(np.unique(direction[10:])) <= {-1.0, 1.0}
    # Exactly one of the long/short bands is set wherever the line is.
    long_set = ~np.isnan(st.iloc[:, 2].to_numpy())
    short_set = ~np.isnan(st.iloc[:, 3].to_numpy())
    np.testing.assert_array_equal(long_set ^ short_set, ~np.isnan(line))


def test_short_input_returns_nan_frame_not_none() -> None:
    # pandas-ta returns None here; NaN of the right shape keeps controllers' column reads working.
    close = pd.Series([1.0, 2.0, 3.0], index=[7, 8, 9])
    rsi = ta.rsi(close, length=14)
    bb = ta.bbands(close, length=20)
    st = ta.supertrend(close + 1, close - 1, close, length=10)
    assert rsi.isna().all() and list(rsi.index) == [7, 8, 9]
    assert bb.isna().all().all() and list(bb.columns)[-1] == "BBP_20_2.0_2.0"
    assert st.isna().all().all() and st.shape == (3, 4)


# --------------------------------------------------------------------------- hand-computed values


def test_sma_ema_rma_by_hand() -> None:
    x = pd.Series([1.0, 2.0, 3.0, 10.0, 5.0])
    np.testing.assert_allclose(ta.sma(x, length=3), [NAN, NAN, 2.0, 5.0, 6.0])
    # EMA seeded with SMA(1, 2, 3) = 2, alpha = 2 / (3 + 1) = 0.5.
    np.testing.assert_allclose(ta.ema(x, length=3), [NAN, NAN, 2.0, 6.0, 5.5])
    # RMA: alpha = 1 / 2, no seed, no warm-up.
    np.testing.assert_allclose(ta.rma(x, length=2), [1.0, 1.5, 2.25, 6.125, 5.5625])


def test_rsi_by_hand() -> None:
    # Changes +1, +1, -1, +1. Seed: gain 1, loss 0 -> 100; then Wilder: (0.5, 0.5) -> 50,
    # (0.75, 0.25) -> 75.
    rsi = ta.rsi(pd.Series([1.0, 2.0, 3.0, 2.0, 3.0]), length=2)
    np.testing.assert_allclose(rsi, [NAN, NAN, 100.0, 50.0, 75.0])


def test_true_range_atr_natr_by_hand() -> None:
    high = pd.Series([2.0, 3.0, 5.0, 4.0])
    low = pd.Series([1.0, 2.0, 2.0, 3.0])
    close = pd.Series([1.5, 2.5, 4.0, 3.5])
    # TR: max(high, prev close) - min(low, prev close): 1.5, 3, 1.
    np.testing.assert_allclose(ta.true_range(high, low, close), [NAN, 1.5, 3.0, 1.0])
    # ATR(2): seed mean(1.5, 3) = 2.25, then (2.25 * 1 + 1) / 2 = 1.625.
    atr = ta.atr(high, low, close, length=2)
    np.testing.assert_allclose(atr, [NAN, NAN, 2.25, 1.625])
    np.testing.assert_allclose(
        ta.natr(high, low, close, length=2), [NAN, NAN, 225.0 / 4.0, 162.5 / 3.5]
    )
    np.testing.assert_allclose(
        ta.atr(high, low, close, length=2, percent=True), [NAN, NAN, 225.0 / 4.0, 162.5 / 3.5]
    )


def test_bbands_by_hand_population_std() -> None:
    bb = ta.bbands(pd.Series([1.0, 2.0, 3.0, 4.0, 6.0]), length=3, lower_std=2.0, upper_std=2.0)
    lower, mid, upper, width, percent = (bb.iloc[:, i].to_numpy() for i in range(5))
    sd_123 = math.sqrt(2.0 / 3.0)  # population (ddof=0) std of 1, 2, 3, as TA-Lib
    sd_346 = math.sqrt(((3 - 13 / 3) ** 2 + (4 - 13 / 3) ** 2 + (6 - 13 / 3) ** 2) / 3)
    np.testing.assert_allclose(mid, [NAN, NAN, 2.0, 3.0, 13 / 3])
    np.testing.assert_allclose(upper[[2, 4]], [2.0 + 2 * sd_123, 13 / 3 + 2 * sd_346])
    np.testing.assert_allclose(lower[[2, 4]], [2.0 - 2 * sd_123, 13 / 3 - 2 * sd_346])
    np.testing.assert_allclose(width[2], 100 * 4 * sd_123 / 2.0)
    np.testing.assert_allclose(percent[2], (3.0 - (2.0 - 2 * sd_123)) / (4 * sd_123))
    np.testing.assert_allclose(percent[4], (6.0 - (13 / 3 - 2 * sd_346)) / (4 * sd_346))


def test_bbands_flat_window_percent_is_one_like_pandas_ta() -> None:
    # Zero-width bands: pandas-ta's non_zero_range adds epsilon to both differences -> 1.0.
    bb = ta.bbands(pd.Series([7.0] * 6), length=3)
    np.testing.assert_array_equal(bb["BBP_3_2.0_2.0"].to_numpy()[2:], 1.0)
    assert (bb["BBB_3_2.0_2.0"].to_numpy()[2:] < 1e-12).all()


def test_stdev_zscore_returns_by_hand() -> None:
    x = pd.Series([1.0, 2.0, 4.0])
    np.testing.assert_allclose(ta.stdev(x, length=2), [NAN, 0.5, 1.0])  # ddof=0
    np.testing.assert_allclose(ta.zscore(x, length=2), [NAN, 1.0, 1.0])
    np.testing.assert_allclose(ta.zscore(x, length=2, std=2), [NAN, 0.5, 0.5])
    np.testing.assert_allclose(ta.log_return(x), [NAN, math.log(2), math.log(2)])
    np.testing.assert_allclose(ta.log_return(x, cumulative=True), [0.0, math.log(2), math.log(4)])
    np.testing.assert_allclose(ta.percent_return(x), [NAN, 1.0, 1.0])
    np.testing.assert_allclose(ta.percent_return(x, length=2), [NAN, NAN, 3.0])
    np.testing.assert_allclose(ta.percent_return(x, cumulative=True), [0.0, 1.0, 3.0])


def test_offset_and_fillna() -> None:
    x = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_allclose(ta.sma(x, length=2, offset=1), [NAN, NAN, 1.5, 2.5, 3.5])
    np.testing.assert_allclose(ta.sma(x, length=2, fillna=0.0), [0.0, 1.5, 2.5, 3.5, 4.5])


# --------------------------------------------------------------------------- against TA-Lib


def test_values_equal_talib(candles: pd.DataFrame) -> None:
    h, l, c = (candles[k].to_numpy() for k in ("high", "low", "close"))
    close = candles["close"]
    eq = np.testing.assert_array_equal
    eq(ta.sma(close, length=20).to_numpy(), talib.SMA(c, 20))
    eq(ta.ema(close, length=20).to_numpy(), talib.EMA(c, 20))
    eq(ta.rsi(close, length=14).to_numpy(), talib.RSI(c, 14))
    eq(ta.atr(candles["high"], candles["low"], close, 14).to_numpy(), talib.ATR(h, l, c, 14))
    eq(ta.natr(candles["high"], candles["low"], close, 14).to_numpy(), talib.NATR(h, l, c, 14))
    eq(ta.true_range(candles["high"], candles["low"], close).to_numpy(), talib.TRANGE(h, l, c))
    eq(ta.stdev(close, length=30).to_numpy(), talib.STDDEV(c, 30))
    line, signal, hist = talib.MACD(c, 21, 42, 9)
    macd = ta.macd(close, fast=21, slow=42, signal=9)
    eq(macd["MACD_21_42_9"].to_numpy(), line)
    eq(macd["MACDh_21_42_9"].to_numpy(), hist)
    eq(macd["MACDs_21_42_9"].to_numpy(), signal)
    upper, mid, lower = talib.BBANDS(c, 100, 2.5, 1.5)
    bb = ta.bbands(close, length=100, lower_std=1.5, upper_std=2.5)
    eq(bb["BBU_100_1.5_2.5"].to_numpy(), upper)
    eq(bb["BBM_100_1.5_2.5"].to_numpy(), mid)
    eq(bb["BBL_100_1.5_2.5"].to_numpy(), lower)
    bb_ema = ta.bbands(close, length=20, mamode="ema")
    eq(bb_ema["BBM_20_2.0_2.0"].to_numpy(), talib.EMA(c, 20))


def reference_supertrend(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, length: int, multiplier: float
) -> np.ndarray:
    """The pandas-ta 0.4 recursion, written out plainly: columns line, dir, long, short."""
    atr = talib.ATR(high, low, close, length)
    lb = (high + low) / 2 - multiplier * atr
    ub = (high + low) / 2 + multiplier * atr
    n = close.shape[0]
    out = np.full((n, 4), NAN)
    d = 1.0
    for i in range(1, n):
        if close[i] > ub[i - 1]:
            d = 1.0
        elif close[i] < lb[i - 1]:
            d = -1.0
        else:
            if d > 0 and lb[i] < lb[i - 1]:
                lb[i] = lb[i - 1]
            if d < 0 and ub[i] > ub[i - 1]:
                ub[i] = ub[i - 1]
        out[i, 1] = d
        out[i, 0] = lb[i] if d > 0 else ub[i]
        out[i, 2 if d > 0 else 3] = out[i, 0]
    out[:length, 1] = NAN
    return out


@pytest.mark.parametrize(("length", "multiplier"), [(20, 4.0), (7, 3.0), (3, 0.5)])
def test_supertrend_matches_plain_recursion(
    candles: pd.DataFrame, length: int, multiplier: float
) -> None:
    h, l, c = (candles[k].to_numpy() for k in ("high", "low", "close"))
    st = ta.supertrend(
        candles["high"], candles["low"], candles["close"], length, multiplier=multiplier
    )
    np.testing.assert_allclose(st.to_numpy(), reference_supertrend(h, l, c, length, multiplier))


# --------------------------------------------------------------------------- against pandas-ta

# Produced by pandas-ta 0.4.71b0 with TA-Lib 0.6 (talib-python 0.6.8) installed, on the series
# below (high = close + 1, low = close - 1.25). Leading NaNs are the warm-up.
PTA_CLOSE = [100.0, 101.5, 101.0, 102.5, 104.0, 103.0, 101.5, 100.0, 99.5, 101.0,
             102.0, 103.5, 103.0, 101.0, 99.0, 98.0, 98.5, 100.5, 102.0, 104.5]  # fmt: skip
PTA_SUPERT_5_1_5 = [NAN] * 5 + [99.275] * 6 + [99.7074256] * 3 + [
    102.9397980928, 101.80183847424, 101.80183847424, 101.80183847424,
    97.96245870118912, 100.19496696095129,
]  # fmt: skip
PTA_SUPERTD_5_1_5 = [NAN] * 5 + [1.0] * 9 + [-1.0] * 4 + [1.0] * 2
PTA_BBP_5_2_2 = [NAN] * 4 + [
    0.903279566308723, 0.640487871737253, 0.28926819239411716, 0.09672043369127702,
    0.19381378215210351, 0.5, 0.8234983196103163, 0.9006214832176789, 0.7090199042874854,
    0.23034031418499842, 0.07812499999999993, 0.1634271995540931, 0.31129264689398184,
    0.7375638170348722, 0.9101515562147994, 0.8993147841237381,
]  # fmt: skip
PTA_MACDH_3_6_4 = [NAN] * 8 + [
    -0.7242468415937715, -0.2680341524364813, 0.04383233176653151, 0.27962284422306893,
    0.14514759593609994, -0.22371580715102346, -0.5035540305139533, -0.5110249513250464,
    -0.23551142294979055, 0.2124947875481487, 0.46743331275605216, 0.6954536503158832,
]  # fmt: skip
PTA_NATR_5 = [NAN] * 5 + [
    2.3300970873786406, 2.4334975369458127, 2.526, 2.4832160804020096, 2.452118811881188,
    2.3836392156862742, 2.3623667632850243, 2.3359608543689325, 2.54933836039604,
    2.737237772929293, 2.6713186899591834, 2.583059749165482, 2.6223393854153234,
    2.55721653517051, 2.6666877442096997,
]  # fmt: skip
PTA_RSI_5 = [NAN] * 5 + [
    74.99999999999999, 57.14285714285714, 44.03669724770642, 40.195394277739005,
    54.936242934139614, 62.615191668029894, 71.66751899662684, 65.09953980947198,
    44.64298068213448, 32.05282724740984, 27.249742407372036, 33.47973988981737,
    53.42295816609203, 63.64204387139484, 75.04750554357558,
]  # fmt: skip


def test_matches_recorded_pandas_ta_values() -> None:
    close = pd.Series(PTA_CLOSE)
    high, low = close + 1.0, close - 1.25
    st = ta.supertrend(high, low, close, length=5, multiplier=1.5)
    np.testing.assert_allclose(st["SUPERT_5_1.5"], PTA_SUPERT_5_1_5, rtol=1e-12, atol=0)
    np.testing.assert_allclose(st["SUPERTd_5_1.5"], PTA_SUPERTD_5_1_5, rtol=1e-12, atol=0)
    bb = ta.bbands(close, length=5, lower_std=2.0, upper_std=2.0)
    np.testing.assert_allclose(bb["BBP_5_2.0_2.0"], PTA_BBP_5_2_2, rtol=1e-12, atol=0)
    macd = ta.macd(close, fast=3, slow=6, signal=4)
    np.testing.assert_allclose(macd["MACDh_3_6_4"], PTA_MACDH_3_6_4, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ta.natr(high, low, close, length=5), PTA_NATR_5, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ta.rsi(close, length=5), PTA_RSI_5, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- accessor


def test_accessor_append_adds_columns_in_place_and_returns_them(candles: pd.DataFrame) -> None:
    df = candles.copy()
    acc = TAAccessor(df)
    bb = acc.bbands(length=100, lower_std=2.0, upper_std=2.0, append=True)
    macd = acc.macd(fast=21, slow=42, signal=9, append=True)
    st = acc.supertrend(length=20, multiplier=4.0, append=True)
    natr = acc.natr(length=14, append=True)
    for result in (acc.atr(append=True), acc.rsi(append=True), acc.ema(length=20, append=True)):
        assert isinstance(result, pd.Series)
    acc.sma(close="close", length=20, append=True)
    assert list(df.columns) == [
        *candles.columns,
        *[f"BB{k}_100_2.0_2.0" for k in "LMUBP"],
        "MACD_21_42_9", "MACDh_21_42_9", "MACDs_21_42_9",
        "SUPERT_20_4.0", "SUPERTd_20_4.0", "SUPERTl_20_4.0", "SUPERTs_20_4.0",
        "NATR_14", "ATRr_14", "RSI_14", "EMA_20", "SMA_20",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(df[bb.columns], bb)
    pd.testing.assert_frame_equal(macd, ta.macd(candles["close"], fast=21, slow=42, signal=9))
    pd.testing.assert_frame_equal(
        st, ta.supertrend(candles["high"], candles["low"], candles["close"], 20, multiplier=4.0)
    )
    pd.testing.assert_series_equal(df["NATR_14"], natr)


def test_accessor_without_append_leaves_frame_alone(candles: pd.DataFrame) -> None:
    df = candles.copy()
    result = TAAccessor(df).bbands(length=20, std=2.0)
    assert list(result.columns)[-1] == "BBP_20_2.0"  # 0.3.14b naming through the accessor too
    assert list(df.columns) == list(candles.columns)


def test_accessor_column_selection(candles: pd.DataFrame) -> None:
    df = candles.rename(columns={"close": "Close"}).assign(mid=candles["close"] * 2)
    acc = TAAccessor(df)
    # Case-insensitive fallback, an explicit column name, and an explicit Series.
    pd.testing.assert_series_equal(acc.sma(length=5), ta.sma(candles["close"], length=5))
    pd.testing.assert_series_equal(acc.sma(close="mid", length=5), ta.sma(df["mid"], length=5))
    pd.testing.assert_series_equal(acc.ema(close=df["mid"], length=5), ta.ema(df["mid"], length=5))
    with pytest.raises(KeyError, match="column 'nope' not found"):
        acc.sma(close="nope")


def test_accessor_prefix_suffix_col_names_and_call(candles: pd.DataFrame) -> None:
    df = candles.copy()
    acc = TAAccessor(df)
    acc.rsi(length=14, prefix="fast", append=True)
    acc.macd(col_names=("m", "h", "s"), append=True)
    result = acc("SMA", length=3, suffix="x")
    assert "fast_RSI_14" in df.columns and {"m", "h", "s"} <= set(df.columns)
    assert result.name == "SMA_3_x"


def test_accessor_unknown_method_lists_available(candles: pd.DataFrame) -> None:
    acc = TAAccessor(candles)
    with pytest.raises(AttributeError, match=r"DataFrame\.ta\.ichimoku .*Available: atr, bbands"):
        _ = acc.ichimoku
    with pytest.raises(AttributeError, match="kc"):
        acc("kc")


# --------------------------------------------------------------------------- registration


@pytest.fixture
def no_ta_accessor(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Start without ``DataFrame.ta`` and remove whatever a test registers afterwards."""
    monkeypatch.setattr(pd.DataFrame, "_accessors", set(DATAFRAME_CLASS._accessors))
    # setattr(raising=False) records "absent" if it is; delattr then records the dummy, so the
    # undo restores the dummy and then deletes it (or restores a pre-existing accessor).
    monkeypatch.setattr(pd.DataFrame, "ta", None, raising=False)
    monkeypatch.delattr(pd.DataFrame, "ta")
    yield


@pytest.mark.usefixtures("no_ta_accessor")
def test_register_accessor_registers_once_without_warnings(candles: pd.DataFrame) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_accessor()
        register_accessor()  # idempotent: the second call sees `ta` and does nothing
    accessor = candles.ta
    assert isinstance(accessor, TAAccessor)
    pd.testing.assert_series_equal(accessor.sma(length=5), ta.sma(candles["close"], length=5))


@pytest.mark.usefixtures("no_ta_accessor")
def test_register_accessor_keeps_an_existing_ta(monkeypatch: pytest.MonkeyPatch) -> None:
    class RealPandasTa:
        pass

    monkeypatch.setattr(pd.DataFrame, "ta", RealPandasTa, raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        register_accessor()
    assert DATAFRAME_CLASS.ta is RealPandasTa


@pytest.mark.usefixtures("no_ta_accessor")
def test_import_does_not_register_accessor() -> None:
    # Execute a fresh copy of the module (the imported one stays untouched): its top-level code
    # must leave DataFrame alone.
    spec = importlib.util.spec_from_file_location("_fresh_pandas_ta", ta.__file__)
    assert spec is not None and spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
    assert not hasattr(pd.DataFrame, "ta")


# --------------------------------------------------------------------------- missing functions


def test_missing_function_raises_attribute_error_listing_available() -> None:
    with pytest.raises(AttributeError) as excinfo:
        _ = ta.ichimoku
    message = str(excinfo.value)
    assert "pandas_ta.ichimoku is not provided" in message
    for name in ("bbands", "macd", "natr", "supertrend", "zscore"):
        assert name in message
    with pytest.raises(ImportError):
        exec("from hbbacktest.compat.pandas_ta import stoch", {})


def test_signal_indicators_rejected() -> None:
    with pytest.raises(NotImplementedError, match="signal_indicators"):
        ta.rsi(pd.Series([1.0, 2.0]), signal_indicators=True)


def test_unused_pandas_ta_keywords_are_accepted(candles: pd.DataFrame) -> None:
    close: Any = candles["close"]
    base = ta.rsi(close)
    pd.testing.assert_series_equal(ta.rsi(close, talib=False, scalar=50, drift=2), base)
    pd.testing.assert_frame_equal(
        ta.bbands(close, length=20, ddof=1, talib=True), ta.bbands(close, length=20)
    )
