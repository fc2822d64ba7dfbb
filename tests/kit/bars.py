"""Tiny builders for engine tests: bar arrays, the ``P_*`` params vector, record views."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from hbbacktest.engine import records as R

T0 = 1_700_000_040  # a multiple of 60
STEP = 60


class Bars(NamedTuple):
    """Bar arrays in the order the kernels take them."""

    ts: np.ndarray
    o: np.ndarray
    h: np.ndarray
    l: np.ndarray
    c: np.ndarray

    @property
    def n(self) -> int:
        return int(self.ts.shape[0])

    def ohlc(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.o, self.h, self.l, self.c


def bars(
    closes: Sequence[float],
    highs: Sequence[float | None] | None = None,
    lows: Sequence[float | None] | None = None,
    opens: Sequence[float | None] | None = None,
    start: int = T0,
    step: int = STEP,
    ts: Sequence[int] | None = None,
) -> Bars:
    """Bars from closes. Defaults: open = previous close (first open = first close),
    high = max(open, close), low = min(open, close). ``None`` inside a list means "default".
    ``ts`` overrides ``start``/``step`` (e.g. to leave gaps)."""
    c = np.asarray(closes, dtype=np.float64)
    n = c.shape[0]
    o = np.empty(n)
    for i in range(n):
        given = None if opens is None else opens[i]
        o[i] = given if given is not None else (c[i - 1] if i > 0 else c[i])
    h = np.empty(n)
    lo = np.empty(n)
    for i in range(n):
        gh = None if highs is None else highs[i]
        gl = None if lows is None else lows[i]
        h[i] = gh if gh is not None else max(o[i], c[i])
        lo[i] = gl if gl is not None else min(o[i], c[i])
    if ts is None:
        t = start + step * np.arange(n, dtype=np.int64)
    else:
        t = np.asarray(ts, dtype=np.int64)
        assert t.shape[0] == n
    assert np.all(np.diff(t) > 0), "ts must be strictly increasing"
    assert np.all(h >= np.maximum(o, c)) and np.all(lo <= np.minimum(o, c)), "invalid OHLC"
    assert np.all(lo > 0), "prices must be positive"
    return Bars(t, o, h, lo, c)


_PARAM_INDEX = {
    "fee": R.P_FEE,
    "take_profit": R.P_TAKE_PROFIT,
    "stop_loss": R.P_STOP_LOSS,
    "trail_activation": R.P_TRAIL_ACTIVATION,
    "trail_delta": R.P_TRAIL_DELTA,
    "time_limit_s": R.P_TIME_LIMIT_S,
    "refresh_s": R.P_REFRESH_S,
    "cooldown_s": R.P_COOLDOWN_S,
    "tp_is_limit": R.P_TP_IS_LIMIT,
    "open_is_limit": R.P_OPEN_IS_LIMIT,
    "fill_model": R.P_FILL_MODEL,
}
PARAM_NAMES = tuple(_PARAM_INDEX)

HUMMINGBOT = 0
TOUCH = 1


def params(**kw: float | None) -> np.ndarray:
    """The ``P_*`` vector. Unset = NaN, except fee 0, fill_model 0 (hummingbot),
    open_is_limit 1 and tp_is_limit 1. ``None`` means NaN."""
    vector = np.full(R.N_PARAMS, np.nan)
    defaults = {"fee": 0.0, "fill_model": 0.0, "open_is_limit": 1.0, "tp_is_limit": 1.0}
    for name, value in {**defaults, **kw}.items():
        if name not in _PARAM_INDEX:
            raise TypeError(f"unknown param {name!r}")
        vector[_PARAM_INDEX[name]] = np.nan if value is None else float(value)
    return vector


def params_dict(vector: np.ndarray) -> dict[str, float]:
    """The inverse of :func:`params`."""
    return {name: float(vector[index]) for name, index in _PARAM_INDEX.items()}


RECORD_FIELDS = tuple(R.EXECUTOR_DTYPE.names or ())
INT_FIELDS = ("level", "side", "created_row", "fill_row", "close_row", "close_type", "kind")
FLOAT_FIELDS = tuple(f for f in RECORD_FIELDS if f not in INT_FIELDS)


def new_rec() -> np.ndarray:
    """A fresh record row (NaN-filled, so unwritten fields show)."""
    return np.full(R.N_FIELDS, np.nan)


def rec_dict(rec: np.ndarray) -> dict[str, float]:
    """A kernel record row (or a typed record) as ``{field: value}``; int fields as ints."""
    out: dict[str, float] = {}
    structured = getattr(rec, "dtype", None) is not None and rec.dtype.names is not None
    for index, name in enumerate(RECORD_FIELDS):
        value = float(rec[name]) if structured else float(rec[index])
        if name in INT_FIELDS and value == value:
            out[name] = int(value)
        else:
            out[name] = value
    return out


def matrix_dicts(matrix: np.ndarray) -> list[dict[str, float]]:
    """All rows of a kernel record matrix as dicts."""
    return [rec_dict(matrix[i]) for i in range(matrix.shape[0])]
