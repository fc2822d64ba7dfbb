"""hbbacktest.indicators._talib: TA-Lib without pandas, and TA-Lib's values unchanged.

Each case runs in a fresh interpreter: whether pandas is imported is per-process state.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import talib

RUN_EACH_INDICATOR = """
import sys
import numpy as np
import hbbacktest.indicators as ind
from hbbacktest.indicators._talib import talib

rng = np.random.default_rng(3)
close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
high, low = close * 1.002, close * 0.998
out = {
    "natr": ind.natr(high, low, close, 14),
    "macd": np.stack(ind.macd(close, 12, 26, 9)),
    "bbp": ind.bbands_percent(close, 20, 2.0),
    "bbb": ind.bbands_width(close, 20, 2.0),
    "supertrend": np.stack(ind.supertrend(high, low, close, 10, 3.0)),
    "zscore": ind.rolling_zscore(close, 50),
    "mean": ind.rolling_mean(close, 20),
    "std": ind.rolling_std(close, 20),
    "SMA": talib.SMA(close, 20),
    "RSI": talib.RSI(close, 14),
    "STDDEV": talib.STDDEV(close, 30),
}
print("LOADED", "pandas" in sys.modules, "polars" in sys.modules)
np.savez(sys.argv[1], close=close, **out)
import pandas as pd  # blockers are gone: pandas imports normally afterwards
print("LATER", type(pd.Series([1.0]).rolling(2).mean()).__name__)
"""


def _python(code: str, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    ).stdout


def test_indicators_do_not_import_pandas_and_talib_values_are_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "out.npz"
    stdout = _python(RUN_EACH_INDICATOR, str(path))
    assert "LOADED False False" in stdout, stdout
    assert "LATER Series" in stdout, stdout

    # The same numbers as TA-Lib loaded the ordinary way (with its pandas wrappers) in this
    # process, and as the pandas rolling windows.
    got = np.load(path)
    close = got["close"]
    high, low = close * 1.002, close * 0.998
    np.testing.assert_array_equal(got["natr"], talib.NATR(high, low, close, 14))
    np.testing.assert_array_equal(got["macd"], np.stack(talib.MACD(close, 12, 26, 9)))
    np.testing.assert_array_equal(got["SMA"], talib.SMA(close, 20))
    np.testing.assert_array_equal(got["RSI"], talib.RSI(close, 14))
    np.testing.assert_array_equal(got["STDDEV"], talib.STDDEV(close, 30))
    upper, _, lower = talib.BBANDS(close, 20, 2.0, 2.0)
    np.testing.assert_array_equal(got["bbp"], (close - lower) / (upper - lower))
    rolling = pd.Series(close).rolling(20, min_periods=1)
    np.testing.assert_array_equal(got["mean"], rolling.mean())
    np.testing.assert_array_equal(got["std"], pd.Series(close).rolling(20, min_periods=2).std())
    for name in ("bbb", "supertrend", "zscore"):
        assert np.isfinite(got[name][60:]).all(), name


def test_import_hbbacktest_indicators_loads_no_pandas() -> None:
    code = (
        "import sys, hbbacktest.indicators\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'polars')))\n"
    )
    assert _python(code).strip() == "[]"


def test_pandas_already_imported_keeps_talibs_series_support() -> None:
    code = (
        "import pandas as pd\n"
        "from hbbacktest.indicators._talib import talib\n"
        "print(type(talib.SMA(pd.Series([1.0, 2.0, 3.0]), 2)).__name__)\n"
    )
    assert _python(code).strip() == "Series"


def test_blockers_are_removed_when_the_talib_import_fails() -> None:
    code = (
        "import importlib, sys\n"
        "real = importlib.import_module\n"
        "def fail(name, package=None):\n"
        "    if name == 'talib':\n"
        "        raise ImportError('no talib here')\n"
        "    return real(name, package)\n"
        "importlib.import_module = fail\n"
        "try:\n"
        "    import hbbacktest.indicators._talib\n"
        "except ImportError as error:\n"
        "    print('RAISED', error)\n"
        "print('BLOCKED', [m for m in ('pandas', 'polars') if m in sys.modules])\n"
        "import pandas\n"
        "print('PANDAS OK')\n"
    )
    out = _python(code)
    assert "RAISED no talib here" in out, out
    assert "BLOCKED []" in out, out
    assert "PANDAS OK" in out, out
