"""``import talib`` in a user controller file gives Series in, Series out, as TA-Lib's wrapper."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd

from hbbacktest.compat.loader import compat_import
from hbbacktest.indicators._talib import talib as real_talib

CLOSE = pd.Series(100 + np.sin(np.arange(60) / 5), index=pd.RangeIndex(1000, 1060))


def test_series_in_series_out() -> None:
    talib = compat_import("talib")
    rsi = talib.RSI(CLOSE, timeperiod=14)
    assert isinstance(rsi, pd.Series)
    assert rsi.index.equals(CLOSE.index)
    np.testing.assert_array_equal(rsi.to_numpy(), real_talib.RSI(CLOSE.to_numpy(), timeperiod=14))


def test_tuple_results_and_arrays() -> None:
    talib = compat_import("talib")
    upper, middle, lower = talib.BBANDS(CLOSE, timeperiod=20)
    assert all(isinstance(part, pd.Series) for part in (upper, middle, lower))
    plain = talib.SMA(CLOSE.to_numpy(), timeperiod=5)
    assert isinstance(plain, np.ndarray)
    assert talib.MA_Type.SMA == real_talib.MA_Type.SMA


def test_from_import_form() -> None:
    module = compat_import("talib", fromlist=("EMA",))
    assert isinstance(module.EMA(CLOSE, timeperiod=3), pd.Series)


def test_series_work_even_when_talib_was_loaded_without_pandas() -> None:
    code = (
        "import sys; import hbbacktest.indicators; assert 'pandas' not in sys.modules; "
        "import pandas as pd; from hbbacktest.compat.loader import compat_import; "
        "t = compat_import('talib'); r = t.RSI(pd.Series([float(i % 7) for i in range(40)])); "
        "print(type(r).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Series"
