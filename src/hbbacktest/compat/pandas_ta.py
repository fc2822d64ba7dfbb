"""Stand-in for the ``pandas_ta`` package, for controller files written for Hummingbot V2.

Hummingbot controllers do ``import pandas_ta as ta`` and call e.g. ``ta.natr(...)``,
``ta.macd(...)`` or ``df.ta.bbands(..., append=True)``, then read columns by pandas-ta's names
(``MACDh_12_26_9``, ``BBP_100_2.0_2.0``, ``SUPERTd_20_4.0``). hbbacktest cannot depend on
pandas-ta, so while it loads user controller files it maps ``pandas_ta`` to this module.

What "compatible" means here:

* **Names and signatures** follow pandas-ta 0.4.71b (what upstream Hummingbot pins), with
  0.3.14b's keywords accepted too where they differ (``bbands(std=...)``). Unknown keywords are
  ignored, as pandas-ta ignores them.
* **Values** are those of pandas-ta *with TA-Lib installed*, which is Hummingbot's environment:
  pandas-ta then hands sma/ema/rsi/atr/natr/true_range/macd/bbands/stdev straight to TA-Lib,
  and so does this module, so those agree to the last bit. Consequences worth knowing: RSI,
  ATR and NATR use Wilder smoothing seeded with an SMA (TA-Lib), and standard deviations are
  *population* ones (ddof=0), whatever ``ddof`` says. The ``talib`` keyword is accepted and
  ignored: values are always the TA-Lib ones.
* **Column names** render numbers as pandas-ta does: keywords keep the type they were given
  (``lower_std=2.0`` gives ``2.0``, ``lower_std=2`` gives ``2``); defaults are
  pandas-ta's (``2.0``, ``3.0``).
* **Short inputs**: where pandas-ta returns ``None`` (fewer rows than the warm-up needs), this
  module returns the same Series/DataFrame filled with NaN, so a controller reading a column
  gets NaN rather than a ``TypeError``/``KeyError``.
* ``offset`` (shift) and ``fillna`` are honoured as in pandas-ta.

Anything else pandas-ta offers raises ``AttributeError`` naming what is available.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd

from hbbacktest.indicators._talib import talib as _talib
from hbbacktest.indicators.nb import supertrend_nb

__all__ = [
    "INDICATORS",
    "TAAccessor",
    "atr",
    "bbands",
    "ema",
    "log_return",
    "macd",
    "natr",
    "percent_return",
    "register_accessor",
    "rma",
    "rsi",
    "sma",
    "stdev",
    "supertrend",
    "true_range",
    "zscore",
]

#: The pandas-ta indicator functions this module provides (also the accessor's methods).
INDICATORS: Final[tuple[str, ...]] = (
    "atr",
    "bbands",
    "ema",
    "log_return",
    "macd",
    "natr",
    "percent_return",
    "rma",
    "rsi",
    "sma",
    "stdev",
    "supertrend",
    "true_range",
    "zscore",
)

# pandas-ta's ``non_zero_range`` adds this to a whole difference series when any element is 0.
_EPS: Final = sys.float_info.epsilon

# TA-Lib moving-average types by pandas-ta ``mamode`` name; unknown names fall back to SMA,
# as pandas-ta's ``tal_ma`` does.
_TALIB_MA: Final[dict[str, _talib.MA_Type]] = {
    "sma": _talib.MA_Type.SMA,
    "ema": _talib.MA_Type.EMA,
    "wma": _talib.MA_Type.WMA,
    "dema": _talib.MA_Type.DEMA,
    "tema": _talib.MA_Type.TEMA,
    "trima": _talib.MA_Type.TRIMA,
    "kama": _talib.MA_Type.KAMA,
    "mama": _talib.MA_Type.MAMA,
    "t3": _talib.MA_Type.T3,
}

Number = int | float
Frame = pd.Series | pd.DataFrame
_F = TypeVar("_F", pd.Series, pd.DataFrame)


# --------------------------------------------------------------------------- argument handling


def _above(value: object, bound: Number, default: Number) -> Number:
    """``value`` if it is a number > ``bound``, else ``default``; ints stay ints, floats floats.

    Mirrors pandas-ta's validation, which is what makes ``lower_std=2`` name a column ``..._2``
    but ``lower_std=2.0`` name it ``..._2.0``. NumPy scalars become Python ones so that names
    render as ``2.0``, not ``np.float64(2.0)``.
    """
    if isinstance(value, float | np.floating):
        number: Number = float(value)
    elif isinstance(value, int | np.integer):
        number = int(value)
    else:
        return default
    return number if number > bound else default


def _positive(value: object, default: Number) -> Number:
    """``value`` if it is a number > 0, else ``default`` (pandas-ta's usual validation)."""
    return _above(value, 0, default)


def _nonzero_int(value: object, default: int) -> int:
    """``value`` if it is a non-zero integer, else ``default`` (pandas-ta ``drift``/``offset``)."""
    if isinstance(value, int | np.integer) and int(value) != 0:
        return int(value)
    return default


def _mamode(value: object, default: str) -> str:
    """A non-empty string, else ``default`` (pandas-ta keeps the case as given)."""
    return value if isinstance(value, str) and value else default


def _as_series(values: Any, name: str) -> pd.Series:
    """The input as a Series; other array-likes become float Series on a RangeIndex.

    pandas-ta returns ``None`` for anything but a Series; accepting arrays as well costs
    nothing and spares a confusing failure later.
    """
    if isinstance(values, pd.DataFrame):
        raise TypeError(f"pandas_ta stand-in: {name} must be a Series, got a DataFrame")
    if isinstance(values, pd.Series):
        return values
    return pd.Series(np.asarray(values, dtype=np.float64), name=name)


def _f64(series: pd.Series) -> np.ndarray:
    """Contiguous float64 values, as TA-Lib requires (candles may hold ints or Decimals)."""
    return np.ascontiguousarray(series.to_numpy(dtype=np.float64, na_value=np.nan))


def _finish(result: _F, offset: object, kwargs: dict[str, Any]) -> _F:
    """Apply pandas-ta's post-steps: ``offset`` shifts the result, ``fillna`` fills it."""
    shift = _nonzero_int(offset, 0)
    if shift != 0:
        result = result.shift(shift)
    if "fillna" in kwargs:
        result = result.fillna(kwargs["fillna"])
    return result


def _reject_signal_indicators(kwargs: dict[str, Any], name: str) -> None:
    """Fail loudly rather than return a frame shaped unlike pandas-ta's."""
    if kwargs.get("signal_indicators"):
        raise NotImplementedError(
            f"pandas_ta stand-in: {name}(signal_indicators=True) is not supported"
        )


def _nonzero_range(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``x - y``, plus machine epsilon everywhere if any element is exactly zero.

    This is pandas-ta's ``non_zero_range`` (used for Bollinger %B and bandwidth); reproducing
    it keeps %B identical on flat windows, where it makes %B ``1.0`` instead of NaN.
    """
    diff = x - y
    if np.any(diff == 0):
        diff = diff + _EPS
    return diff


# --------------------------------------------------------------------------- overlap


def sma(
    close: Any,
    length: int | None = None,
    talib: bool | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Simple moving average, named ``SMA_{length}`` (default length 10).

    Same as pandas-ta: TA-Lib ``SMA``; the first ``length - 1`` values are NaN.

    Args:
        close: Close prices.
        length: Window. Defaults to 10.
        talib: Accepted for compatibility; TA-Lib is always used.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The moving average, on ``close``'s index.
    """
    n = _positive(length, 10)
    src = _as_series(close, "close")
    values = _talib_sma(_f64(src), int(n))
    return _finish(pd.Series(values, index=src.index, name=f"SMA_{n}"), offset, kwargs)


def _talib_sma(values: np.ndarray, length: int) -> np.ndarray:
    return np.asarray(_talib.SMA(values, timeperiod=length))


def ema(
    close: Any,
    length: int | None = None,
    talib: bool | None = None,
    presma: bool | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Exponential moving average, named ``EMA_{length}`` (default length 10).

    Same as pandas-ta with TA-Lib: TA-Lib ``EMA``, alpha ``2 / (length + 1)``, seeded with the
    SMA of the first ``length`` values, so the first ``length - 1`` values are NaN. (For
    ``length == 1`` pandas-ta skips TA-Lib, but both give the input back.)

    Args:
        close: Close prices.
        length: Span. Defaults to 10.
        talib: Accepted for compatibility; TA-Lib is always used.
        presma: Accepted for compatibility; the SMA seed is always used (pandas-ta's default).
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The moving average, on ``close``'s index.
    """
    n = _positive(length, 10)
    src = _as_series(close, "close")
    values = np.asarray(_talib.EMA(_f64(src), timeperiod=int(n)))
    return _finish(pd.Series(values, index=src.index, name=f"EMA_{n}"), offset, kwargs)


def rma(
    close: Any,
    length: int | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Wilder's moving average, named ``RMA_{length}`` (default length 10).

    Same as pandas-ta (which never uses TA-Lib here): an EMA with alpha ``1 / length``,
    ``adjust=False``, *not* seeded with an SMA, so there is no NaN warm-up. Note that TA-Lib's
    RSI/ATR do seed with an SMA, so ``rma`` of the true range is not ``atr``.

    Args:
        close: Values to smooth.
        length: Period. Defaults to 10.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The smoothed series, on ``close``'s index.
    """
    n = _positive(length, 10)
    src = _as_series(close, "close")
    smoothed = pd.Series(_f64(src), index=src.index, name=f"RMA_{n}")
    return _finish(smoothed.ewm(alpha=1.0 / n, adjust=False).mean(), offset, kwargs)


# --------------------------------------------------------------------------- momentum


def rsi(
    close: Any,
    length: int | None = None,
    scalar: float | None = None,
    mamode: str | None = None,
    talib: bool | None = None,
    drift: int | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Relative strength index, named ``RSI_{length}`` (default length 14).

    Same as pandas-ta with TA-Lib: TA-Lib ``RSI`` (Wilder smoothing seeded with an SMA); the
    first ``length`` values are NaN. As in pandas-ta's TA-Lib path, ``scalar``, ``mamode`` and
    ``drift`` do not change the values.

    Args:
        close: Close prices.
        length: Period. Defaults to 14.
        scalar: Accepted for compatibility (TA-Lib always scales by 100).
        mamode: Accepted for compatibility.
        talib: Accepted for compatibility; TA-Lib is always used.
        drift: Accepted for compatibility.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; ``signal_indicators=True`` is not supported.

    Returns:
        RSI in ``[0, 100]``, on ``close``'s index.
    """
    _reject_signal_indicators(kwargs, "rsi")
    n = _positive(length, 14)
    src = _as_series(close, "close")
    values = np.asarray(_talib.RSI(_f64(src), timeperiod=int(n)))
    return _finish(pd.Series(values, index=src.index, name=f"RSI_{n}"), offset, kwargs)


def macd(
    close: Any,
    fast: int | None = None,
    slow: int | None = None,
    signal: int | None = None,
    talib: bool | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """MACD: columns ``MACD_{f}_{s}_{g}``, ``MACDh_{f}_{s}_{g}``, ``MACDs_{f}_{s}_{g}``.

    Same as pandas-ta with TA-Lib: TA-Lib ``MACD`` (line = EMA(fast) - EMA(slow), signal =
    EMA(signal) of the line, histogram = line - signal); defaults 12/26/9, ``fast`` and
    ``slow`` swapped if given the wrong way round. TA-Lib aligns the three outputs, so the
    first ``slow + signal - 2`` rows are NaN in every column. ``asmode=True`` gives pandas-ta's
    "AS" variant (``MACDAS_...``): the line minus its signal, re-smoothed.

    Args:
        close: Close prices.
        fast: Fast EMA period. Defaults to 12.
        slow: Slow EMA period. Defaults to 26.
        signal: Signal EMA period. Defaults to 9.
        talib: Accepted for compatibility; TA-Lib is always used.
        offset: Periods to shift the result by.
        **kwargs: ``asmode`` and ``fillna`` are honoured; ``signal_indicators=True`` is not.

    Returns:
        The three columns, in pandas-ta's order (line, histogram, signal), on ``close``'s index.
    """
    _reject_signal_indicators(kwargs, "macd")
    nf = _positive(fast, 12)
    ns = _positive(slow, 26)
    ng = _positive(signal, 9)
    if ns < nf:
        nf, ns = ns, nf
    src = _as_series(close, "close")
    line, sig, hist = (
        np.asarray(a)
        for a in _talib.MACD(
            _f64(src), fastperiod=int(nf), slowperiod=int(ns), signalperiod=int(ng)
        )
    )
    as_mode = bool(kwargs.get("asmode", False))
    if as_mode:
        # pandas-ta's AS mode: smooth (line - signal) again, starting at its first valid value.
        line = line - sig
        sig = _ema_from_first_valid(line, int(ng))
        hist = line - sig
    tag = "AS" if as_mode else ""
    props = f"_{nf}_{ns}_{ng}"
    result = pd.DataFrame(
        {f"MACD{tag}{props}": line, f"MACD{tag}h{props}": hist, f"MACD{tag}s{props}": sig},
        index=src.index,
    )
    return _finish(result, offset, kwargs)


def _ema_from_first_valid(values: np.ndarray, length: int) -> np.ndarray:
    """TA-Lib ``EMA`` of ``values`` from its first non-NaN element on (NaN before)."""
    out = np.full(values.shape[0], np.nan)
    valid = np.flatnonzero(~np.isnan(values))
    if valid.size:
        start = int(valid[0])
        out[start:] = _talib.EMA(np.ascontiguousarray(values[start:]), timeperiod=length)
    return out


# --------------------------------------------------------------------------- volatility


def true_range(
    high: Any,
    low: Any,
    close: Any,
    talib: bool | None = None,
    prenan: bool | None = None,
    drift: int | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """True range, named ``TRUERANGE_{drift}`` (drift defaults to 1).

    Same as pandas-ta with TA-Lib: TA-Lib ``TRANGE``, ``max(high, prev close) - min(low, prev
    close)``; the first value is NaN (no previous close), whatever ``prenan`` says.

    Args:
        high: High prices.
        low: Low prices.
        close: Close prices.
        talib: Accepted for compatibility; TA-Lib is always used.
        prenan: Accepted for compatibility.
        drift: Only used in the name, as in pandas-ta's TA-Lib path.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The true range, on ``close``'s index.
    """
    lag = _nonzero_int(drift, 1)
    h, l, c = _hlc(high, low, close)
    values = np.asarray(_talib.TRANGE(_f64(h), _f64(l), _f64(c)))
    return _finish(pd.Series(values, index=c.index, name=f"TRUERANGE_{lag}"), offset, kwargs)


def atr(
    high: Any,
    low: Any,
    close: Any,
    length: int | None = None,
    mamode: str | None = None,
    talib: bool | None = None,
    prenan: bool | None = None,
    drift: int | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Average true range, named ``ATR{m}_{length}`` (``ATRr_14`` by default).

    Same as pandas-ta with TA-Lib: TA-Lib ``ATR`` (Wilder smoothing seeded with the mean of
    the first ``length`` true ranges); the first ``length`` values are NaN. ``{m}`` is the first
    letter of ``mamode`` (default ``"rma"``), which, as in pandas-ta's TA-Lib path, changes
    only the name. ``percent=True`` returns ``100 * ATR / close``, named ``ATR{m}p_{length}``.

    Args:
        high: High prices.
        low: Low prices.
        close: Close prices.
        length: Period. Defaults to 14.
        mamode: Only used in the name. Defaults to ``"rma"``.
        talib: Accepted for compatibility; TA-Lib is always used.
        prenan: Accepted for compatibility.
        drift: Accepted for compatibility.
        offset: Periods to shift the result by.
        **kwargs: ``percent`` and ``fillna`` are honoured; anything else is ignored.

    Returns:
        The ATR, on ``close``'s index.
    """
    n = _positive(length, 14)
    mode = _mamode(mamode, "rma")
    h, l, c = _hlc(high, low, close)
    cv = _f64(c)
    values = np.asarray(_talib.ATR(_f64(h), _f64(l), cv, timeperiod=int(n)))
    percent = bool(kwargs.get("percent", False))
    if percent:
        values = values * (100 / cv)
    name = f"ATR{mode[0]}{'p' if percent else ''}_{n}"
    return _finish(pd.Series(values, index=c.index, name=name), offset, kwargs)


def natr(
    high: Any,
    low: Any,
    close: Any,
    length: int | None = None,
    scalar: float | None = None,
    mamode: str | None = None,
    talib: bool | None = None,
    prenan: bool | None = None,
    drift: int | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Normalised average true range in percent, named ``NATR_{length}`` (default length 14).

    Same as pandas-ta with TA-Lib: TA-Lib ``NATR`` = ``100 * ATR(length) / close``; the first
    ``length`` values are NaN. As in pandas-ta's TA-Lib path, ``scalar`` and ``mamode`` do
    not change the values.

    Args:
        high: High prices.
        low: Low prices.
        close: Close prices.
        length: Period. Defaults to 14.
        scalar: Accepted for compatibility (TA-Lib always scales by 100).
        mamode: Accepted for compatibility.
        talib: Accepted for compatibility; TA-Lib is always used.
        prenan: Accepted for compatibility.
        drift: Accepted for compatibility.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        NATR in percent, on ``close``'s index.
    """
    n = _positive(length, 14)
    h, l, c = _hlc(high, low, close)
    values = np.asarray(_talib.NATR(_f64(h), _f64(l), _f64(c), timeperiod=int(n)))
    return _finish(pd.Series(values, index=c.index, name=f"NATR_{n}"), offset, kwargs)


def bbands(
    close: Any,
    length: int | None = None,
    lower_std: float | None = None,
    upper_std: float | None = None,
    ddof: int | None = None,
    mamode: str | None = None,
    talib: bool | None = None,
    offset: int | None = None,
    std: float | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Bollinger Bands: columns ``BBL``, ``BBM``, ``BBU``, ``BBB``, ``BBP`` plus a suffix.

    The suffix follows the pandas-ta version whose keywords were used:

    * 0.4 style (``lower_std``/``upper_std``, or neither): ``_{length}_{lower}_{upper}``,
      e.g. ``BBP_100_2.0_2.0``; numbers keep the type given (``lower_std=2`` gives ``_2``).
    * 0.3.14b style (``std=`` alone): ``_{length}_{std}`` with ``std`` made a float, e.g.
      ``BBP_20_2.0``. (pandas-ta 0.4 would ignore ``std``; we honour it, as 0.3.14b did.)
      ``std`` given together with ``lower_std``/``upper_std`` fills whichever is missing, and
      the 0.4 naming applies.

    Values are pandas-ta's with TA-Lib: TA-Lib ``BBANDS`` with ``mamode``'s moving average
    (default SMA) ± the *population* standard deviation (ddof=0; ``ddof`` is ignored, as in
    pandas-ta's TA-Lib path, where pandas-ta without TA-Lib would use ddof=1). Bandwidth is
    ``100 * (upper - lower) / mid`` and %B ``(close - lower) / (upper - lower)``, each
    difference nudged by machine epsilon when it has an exact zero, as pandas-ta does. The
    first ``length - 1`` rows are NaN. Defaults: length 5, both deviations 2.0.

    Args:
        close: Close prices.
        length: Window. Defaults to 5.
        lower_std: Deviations below the mean. Defaults to 2.0.
        upper_std: Deviations above the mean. Defaults to 2.0.
        ddof: Accepted for compatibility (TA-Lib has no ddof).
        mamode: Moving average for the middle band. Defaults to ``"sma"``.
        talib: Accepted for compatibility; TA-Lib is always used.
        offset: Periods to shift the result by.
        std: pandas-ta 0.3.14b's single deviation multiplier.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        Lower, mid, upper, bandwidth and percent columns, on ``close``'s index.
    """
    n = _positive(length, 5)
    if std is not None and lower_std is None and upper_std is None:
        # 0.3.14b coerced std to float, so std=2 still named the columns "_2.0".
        std_03 = float(std) if std and std > 0 else 2.0
        lower: Number = std_03
        upper: Number = std_03
        props = f"_{n}_{std_03}"
    else:
        fallback: Number = _positive(std, 2.0)
        lower = _positive(lower_std, fallback)
        upper = _positive(upper_std, fallback)
        props = f"_{n}_{lower}_{upper}"
    src = _as_series(close, "close")
    cv = _f64(src)
    matype = _TALIB_MA.get(_mamode(mamode, "sma").lower(), _talib.MA_Type.SMA)
    up, mid, low = (
        np.asarray(a)
        for a in _talib.BBANDS(
            cv, timeperiod=int(n), nbdevup=float(upper), nbdevdn=float(lower), matype=matype
        )
    )
    width = _nonzero_range(up, low)
    with np.errstate(divide="ignore", invalid="ignore"):
        bandwidth = 100 * width / mid
        percent = _nonzero_range(cv, low) / width
    result = pd.DataFrame(
        {
            f"BBL{props}": low,
            f"BBM{props}": mid,
            f"BBU{props}": up,
            f"BBB{props}": bandwidth,
            f"BBP{props}": percent,
        },
        index=src.index,
    )
    return _finish(result, offset, kwargs)


# --------------------------------------------------------------------------- trend


def supertrend(
    high: Any,
    low: Any,
    close: Any,
    length: int | None = None,
    atr_length: int | None = None,
    multiplier: float | None = None,
    atr_mamode: str | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """SuperTrend: columns ``SUPERT``, ``SUPERTd``, ``SUPERTl``, ``SUPERTs`` + ``_{length}_{mult}``.

    E.g. ``SUPERT_20_4.0`` for ``length=20, multiplier=4.0`` (``multiplier=4`` names it
    ``_20_4``, as pandas-ta 0.4 does). Same recursion as pandas-ta 0.4.71b (the shared
    ``supertrend_nb`` kernel): bands ``(high + low) / 2 ∓ multiplier * ATR(atr_length)`` with
    TA-Lib's ATR (what pandas-ta uses with TA-Lib installed; ``atr_mamode`` is ignored there
    too); the trend turns up when the close crosses above the previous upper band, down when
    it crosses below the previous lower band, and otherwise holds while the band on its side
    may only ratchet. ``SUPERT`` is the active band, ``SUPERTd`` the direction (+1/-1),
    ``SUPERTl``/``SUPERTs`` the band while long/short (NaN otherwise). Warm-up, as pandas-ta:
    the direction is NaN for the first ``length`` rows, the bands for the first ``atr_length``.
    Defaults: length 7, atr_length = length, multiplier 3.0.

    Identical to pandas-ta for candles without NaNs; after a NaN inside the candles, pandas-ta
    may flip the direction on the NaN row while this keeps it.

    Args:
        high: High prices.
        low: Low prices.
        close: Close prices.
        length: Period (names the columns and sets the direction's warm-up). Defaults to 7.
        atr_length: ATR period. Defaults to ``length``.
        multiplier: Band distance in ATRs. Defaults to 3.0.
        atr_mamode: Accepted for compatibility.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The four columns, on ``close``'s index.
    """
    n = _positive(length, 7)
    n_atr = _positive(atr_length, n)
    mult = _positive(multiplier, 3.0)
    h, l, c = _hlc(high, low, close)
    hv, lv, cv = _f64(h), _f64(l), _f64(c)
    atr_values = np.asarray(_talib.ATR(hv, lv, cv, timeperiod=int(n_atr)))
    mid = 0.5 * (hv + lv)
    band = mult * atr_values
    direction, line = supertrend_nb(cv, mid - band, mid + band)
    long_band = np.where(direction > 0, line, np.nan)
    short_band = np.where(direction < 0, line, np.nan)
    # pandas-ta carries the direction (starting at +1) through rows whose bands are NaN, then
    # blanks its first `length` rows; the kernel leaves those rows NaN instead.
    carried = pd.Series(direction).ffill().fillna(1.0).to_numpy(copy=True)
    carried[: int(n)] = np.nan
    props = f"_{n}_{mult}"
    result = pd.DataFrame(
        {
            f"SUPERT{props}": line,
            f"SUPERTd{props}": carried,
            f"SUPERTl{props}": long_band,
            f"SUPERTs{props}": short_band,
        },
        index=c.index,
    )
    return _finish(result, offset, kwargs)


# --------------------------------------------------------------------------- statistics


def stdev(
    close: Any,
    length: int | None = None,
    ddof: int | None = None,
    talib: bool | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Rolling standard deviation, named ``STDEV_{length}`` (default length 30).

    Same as pandas-ta with TA-Lib: TA-Lib ``STDDEV``, i.e. the *population* standard deviation
    (ddof=0) whatever ``ddof`` says; the first ``length - 1`` values are NaN. (pandas-ta without
    TA-Lib defaults to ddof=1: ``pd.Series.rolling(length).std()``.)

    Args:
        close: Values.
        length: Window. Defaults to 30.
        ddof: Accepted for compatibility (TA-Lib has no ddof).
        talib: Accepted for compatibility; TA-Lib is always used.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The rolling standard deviation, on ``close``'s index.
    """
    n = _positive(length, 30)
    src = _as_series(close, "close")
    values = _talib_stddev(_f64(src), int(n))
    return _finish(pd.Series(values, index=src.index, name=f"STDEV_{n}"), offset, kwargs)


def _talib_stddev(values: np.ndarray, length: int) -> np.ndarray:
    return np.asarray(_talib.STDDEV(values, timeperiod=length, nbdev=1.0))


def zscore(
    close: Any,
    length: int | None = None,
    std: float | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Rolling z-score, named ``ZS_{length}`` (default length 30).

    Same as pandas-ta with TA-Lib: ``(close - SMA(length)) / (std * STDDEV(length))`` with
    TA-Lib's population standard deviation. As in pandas-ta, ``length`` must exceed 1 and
    ``std`` must exceed 1, else their defaults (30 and 1.0) are used. Constant windows divide
    by zero and give ±inf or NaN, as in pandas-ta. The first ``length - 1`` values are NaN.

    Args:
        close: Values.
        length: Window (> 1). Defaults to 30.
        std: Divisor in standard deviations (> 1). Defaults to 1.0.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The z-score, on ``close``'s index.
    """
    n = _above(length, 1, 30)
    scale = _above(std, 1, 1.0)
    src = _as_series(close, "close")
    cv = _f64(src)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = (cv - _talib_sma(cv, int(n))) / (scale * _talib_stddev(cv, int(n)))
    return _finish(pd.Series(values, index=src.index, name=f"ZS_{n}"), offset, kwargs)


# --------------------------------------------------------------------------- performance


def log_return(
    close: Any,
    length: int | None = None,
    cumulative: bool | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Log return over ``length`` rows, named ``LOGRET_{length}`` (default length 1).

    Same as pandas-ta: ``log(close / close.shift(length))`` (first ``length`` values NaN), or
    with ``cumulative=True`` ``log(close / close[0])``, named ``CUMLOGRET_{length}``.

    Args:
        close: Close prices.
        length: Lag in rows. Defaults to 1.
        cumulative: Return since the first row instead. Defaults to False.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The log returns, on ``close``'s index.
    """
    return _returns(close, length, cumulative, offset, kwargs, log=True)


def percent_return(
    close: Any,
    length: int | None = None,
    cumulative: bool | None = None,
    offset: int | None = None,
    **kwargs: Any,
) -> pd.Series:
    """Simple return over ``length`` rows, named ``PCTRET_{length}`` (default length 1).

    Same as pandas-ta: ``close / close.shift(length) - 1`` (first ``length`` values NaN), or
    with ``cumulative=True`` ``close / close[0] - 1``, named ``CUMPCTRET_{length}``. A fraction,
    not a percentage, despite the name.

    Args:
        close: Close prices.
        length: Lag in rows. Defaults to 1.
        cumulative: Return since the first row instead. Defaults to False.
        offset: Periods to shift the result by.
        **kwargs: ``fillna`` is honoured; anything else is ignored.

    Returns:
        The returns, on ``close``'s index.
    """
    return _returns(close, length, cumulative, offset, kwargs, log=False)


def _returns(
    close: Any,
    length: int | None,
    cumulative: bool | None,
    offset: int | None,
    kwargs: dict[str, Any],
    *,
    log: bool,
) -> pd.Series:
    lag = _positive(length, 1)
    cum = cumulative if isinstance(cumulative, bool) else False
    src = _as_series(close, "close")
    cv = _f64(src)
    n = cv.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        if cum:
            ratio = cv / cv[0] if n else cv.copy()
        else:
            ratio = np.full(n, np.nan)
            k = int(lag)
            if k < n:
                ratio[k:] = cv[k:] / cv[: n - k]
        values = np.log(ratio) if log else ratio - 1
    name = f"{'CUM' if cum else ''}{'LOGRET' if log else 'PCTRET'}_{lag}"
    return _finish(pd.Series(values, index=src.index, name=name), offset, kwargs)


# --------------------------------------------------------------------------- plumbing


def _hlc(high: Any, low: Any, close: Any) -> tuple[pd.Series, pd.Series, pd.Series]:
    return _as_series(high, "high"), _as_series(low, "low"), _as_series(close, "close")


_FUNCTIONS: Final[dict[str, Callable[..., Frame]]] = {
    "atr": atr,
    "bbands": bbands,
    "ema": ema,
    "log_return": log_return,
    "macd": macd,
    "natr": natr,
    "percent_return": percent_return,
    "rma": rma,
    "rsi": rsi,
    "sma": sma,
    "stdev": stdev,
    "supertrend": supertrend,
    "true_range": true_range,
    "zscore": zscore,
}

# Which candle columns each indicator reads, in its positional order.
_INPUTS: Final[dict[str, tuple[str, ...]]] = {
    name: ("high", "low", "close")
    if name in {"atr", "natr", "supertrend", "true_range"}
    else ("close",)
    for name in _FUNCTIONS
}


def _unavailable(name: str) -> str:
    return (
        f"pandas_ta.{name} is not provided by hbbacktest's pandas-ta stand-in "
        f"(hbbacktest.compat.pandas_ta). Available: {', '.join(INDICATORS)}."
    )


def __getattr__(name: str) -> Any:
    """Fail with a clear message for any pandas-ta function this module does not provide."""
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    raise AttributeError(_unavailable(name))


# --------------------------------------------------------------------------- DataFrame accessor


class TAAccessor:
    """``df.ta``: the indicators above, fed from the frame's candle columns.

    As in pandas-ta, each method reads ``high``/``low``/``close`` from the frame (override with
    e.g. ``close="mid"`` or a Series; names are matched case-insensitively as a fallback), and
    ``append=True`` adds the result's columns to the frame in place. The result is returned
    either way. ``prefix``/``suffix`` (joined with ``delimiter``, default ``"_"``) and
    ``col_names`` rename the result as pandas-ta does.
    """

    def __init__(self, df: pd.DataFrame) -> None:
        self._df = df

    def __call__(self, kind: str, **kwargs: Any) -> Frame:
        """Run an indicator by name, as pandas-ta's ``df.ta(kind="bbands", ...)``.

        Args:
            kind: Indicator name, e.g. ``"bbands"``.
            **kwargs: Passed to the indicator method.

        Returns:
            The indicator's result.
        """
        name = kind.lower()
        if name not in _FUNCTIONS:
            raise AttributeError(_unavailable(name))
        return self._run(name, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(_unavailable(name).replace("pandas_ta.", "DataFrame.ta.", 1))

    def sma(self, length: int | None = None, offset: int | None = None, **kwargs: Any) -> pd.Series:
        """:func:`sma` on the frame's ``close``."""
        return self._series("sma", dict(kwargs, length=length, offset=offset))

    def ema(self, length: int | None = None, offset: int | None = None, **kwargs: Any) -> pd.Series:
        """:func:`ema` on the frame's ``close``."""
        return self._series("ema", dict(kwargs, length=length, offset=offset))

    def rma(self, length: int | None = None, offset: int | None = None, **kwargs: Any) -> pd.Series:
        """:func:`rma` on the frame's ``close``."""
        return self._series("rma", dict(kwargs, length=length, offset=offset))

    def rsi(
        self,
        length: int | None = None,
        scalar: float | None = None,
        drift: int | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        """:func:`rsi` on the frame's ``close``."""
        args = dict(kwargs, length=length, scalar=scalar, drift=drift, offset=offset)
        return self._series("rsi", args)

    def macd(
        self,
        fast: int | None = None,
        slow: int | None = None,
        signal: int | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """:func:`macd` on the frame's ``close``."""
        args = dict(kwargs, fast=fast, slow=slow, signal=signal, offset=offset)
        return self._frame("macd", args)

    def true_range(
        self, drift: int | None = None, offset: int | None = None, **kwargs: Any
    ) -> pd.Series:
        """:func:`true_range` on the frame's ``high``/``low``/``close``."""
        return self._series("true_range", dict(kwargs, drift=drift, offset=offset))

    def atr(
        self,
        length: int | None = None,
        mamode: str | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        """:func:`atr` on the frame's ``high``/``low``/``close``."""
        return self._series("atr", dict(kwargs, length=length, mamode=mamode, offset=offset))

    def natr(
        self,
        length: int | None = None,
        mamode: str | None = None,
        scalar: float | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        """:func:`natr` on the frame's ``high``/``low``/``close``."""
        args = dict(kwargs, length=length, mamode=mamode, scalar=scalar, offset=offset)
        return self._series("natr", args)

    def bbands(
        self,
        length: int | None = None,
        lower_std: float | None = None,
        upper_std: float | None = None,
        mamode: str | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """:func:`bbands` on the frame's ``close`` (``std=`` accepted, 0.3.14b style)."""
        args = dict(
            kwargs,
            length=length,
            lower_std=lower_std,
            upper_std=upper_std,
            mamode=mamode,
            offset=offset,
        )
        return self._frame("bbands", args)

    def supertrend(
        self,
        length: int | None = None,
        multiplier: float | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """:func:`supertrend` on the frame's ``high``/``low``/``close``."""
        args = dict(kwargs, length=length, multiplier=multiplier, offset=offset)
        return self._frame("supertrend", args)

    def stdev(
        self, length: int | None = None, offset: int | None = None, **kwargs: Any
    ) -> pd.Series:
        """:func:`stdev` on the frame's ``close``."""
        return self._series("stdev", dict(kwargs, length=length, offset=offset))

    def zscore(
        self,
        length: int | None = None,
        std: float | None = None,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        """:func:`zscore` on the frame's ``close``."""
        return self._series("zscore", dict(kwargs, length=length, std=std, offset=offset))

    def log_return(
        self,
        length: int | None = None,
        cumulative: bool = False,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        """:func:`log_return` on the frame's ``close``."""
        args = dict(kwargs, length=length, cumulative=cumulative, offset=offset)
        return self._series("log_return", args)

    def percent_return(
        self,
        length: int | None = None,
        cumulative: bool = False,
        offset: int | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        """:func:`percent_return` on the frame's ``close``."""
        args = dict(kwargs, length=length, cumulative=cumulative, offset=offset)
        return self._series("percent_return", args)

    # ---------------------------------------------------------------- internals

    def _series(self, name: str, kwargs: dict[str, Any]) -> pd.Series:
        result = self._run(name, kwargs)
        assert isinstance(result, pd.Series)
        return result

    def _frame(self, name: str, kwargs: dict[str, Any]) -> pd.DataFrame:
        result = self._run(name, kwargs)
        assert isinstance(result, pd.DataFrame)
        return result

    def _run(self, name: str, kwargs: dict[str, Any]) -> Frame:
        inputs = [self._column(kwargs.pop(col, col)) for col in _INPUTS[name]]
        result = _FUNCTIONS[name](*inputs, **kwargs)
        result = self._rename(result, kwargs)
        if kwargs.get("append") is True:
            self._append(result, kwargs.get("col_names"))
        return result

    def _column(self, key: Any) -> pd.Series:
        """The input column: a Series as given, else the frame's column by (fuzzy) name."""
        if isinstance(key, pd.Series):
            return key
        df = self._df
        if key in df.columns:
            column: pd.Series = df[key]
            return column
        if isinstance(key, str):
            # pandas-ta falls back to a case-insensitive match ("Close" for "close").
            for col in df.columns:
                if isinstance(col, str) and col.lower() == key.lower():
                    found: pd.Series = df[col]
                    return found
        raise KeyError(
            f"DataFrame.ta: column {key!r} not found; columns are {list(df.columns)}. "
            f"Pass e.g. close='your_column' or a Series."
        )

    @staticmethod
    def _rename(result: Frame, kwargs: dict[str, Any]) -> Frame:
        delimiter = str(kwargs.get("delimiter", "_"))
        prefix = f"{kwargs['prefix']}{delimiter}" if "prefix" in kwargs else ""
        suffix = f"{delimiter}{kwargs['suffix']}" if "suffix" in kwargs else ""
        if not prefix and not suffix:
            return result
        if isinstance(result, pd.Series):
            return result.rename(f"{prefix}{result.name}{suffix}")
        return result.rename(columns=lambda col: f"{prefix}{col}{suffix}")

    def _append(self, result: Frame, col_names: Any) -> None:
        frame = result.to_frame() if isinstance(result, pd.Series) else result
        names: list[Any] = list(frame.columns)
        if col_names is not None:
            given = list(col_names) if isinstance(col_names, list | tuple) else [col_names]
            if len(given) < len(names):
                raise ValueError(
                    f"DataFrame.ta: {len(given)} col_names given for {len(names)} columns"
                )
            names = given[: len(names)]
        for target, source in zip(names, frame.columns, strict=True):
            self._df[target] = frame[source]


def register_accessor() -> None:
    """Register :class:`TAAccessor` as ``DataFrame.ta``, unless ``ta`` is already taken.

    A real pandas-ta, if imported, has already registered its own accessor and wins. Checking
    first also keeps pandas from warning about overriding an accessor, and makes repeated calls
    harmless. Deliberately not run at import time: only controller loading needs ``df.ta``.
    """
    if hasattr(pd.DataFrame, "ta"):
        return
    pd.api.extensions.register_dataframe_accessor("ta")(TAAccessor)
