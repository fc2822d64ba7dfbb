"""``import talib`` inside a user controller file: TA-Lib that takes and returns pandas Series.

hbbacktest loads TA-Lib without its pandas wrappers when pandas is not imported yet (see
``hbbacktest.indicators._talib``: it saves a third of a second per run). Hummingbot controller
files, though, often call ``talib.RSI(df["close"])`` with a Series and use the result as one.
This module gives them what TA-Lib's own wrapper gives: Series arguments become float arrays, and
the results come back as Series on the first Series argument's index. Everything else (``MA_Type``,
``get_functions`` …) is TA-Lib's own.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hbbacktest.indicators._talib import talib as _talib


def _series_aware(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        index = next((v.index for v in (*args, *kwargs.values()) if isinstance(v, pd.Series)), None)
        if index is None:
            return func(*args, **kwargs)
        args = tuple(_array(v) for v in args)
        kwargs = {k: _array(v) for k, v in kwargs.items()}
        result = func(*args, **kwargs)
        if isinstance(result, tuple):
            return tuple(pd.Series(part, index=index) for part in result)
        return pd.Series(result, index=index)

    return wrapper


def _array(value: Any) -> Any:
    return value.to_numpy(dtype=np.float64) if isinstance(value, pd.Series) else value


_FUNCTIONS = frozenset(_talib.get_functions())


@functools.cache
def _wrapped(name: str) -> Callable[..., Any]:
    return _series_aware(getattr(_talib, name))


def __getattr__(name: str) -> Any:
    return _wrapped(name) if name in _FUNCTIONS else getattr(_talib, name)
