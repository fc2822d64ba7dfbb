"""The kernels and their references behind one calling convention (dict records)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from hbbacktest.engine import nb
from hbbacktest.engine.records import P_FILL_MODEL, P_REFRESH_S
from tests.kit.bars import (
    FLOAT_FIELDS,
    INT_FIELDS,
    Bars,
    matrix_dicts,
    new_rec,
    params_dict,
    rec_dict,
)

from . import reference as ref

POSITION_FIELDS = (
    "fill_row",
    "close_row",
    "close_type",
    "fill_price",
    "exit_price",
    "net_pnl_pct",
    "net_pnl_quote",
    "cum_fees_quote",
    "filled_amount_quote",
)

Level = tuple[float, float, float, float]  # side, spread, amount_quote, amount_base


class Kernel:
    name = "kernel"

    @staticmethod
    def window_end(ts: np.ndarray, k: int, seconds: float) -> int:
        return int(nb.window_end_nb(ts, k, seconds))

    @staticmethod
    def first_row_after(ts: np.ndarray, k: int, seconds: float) -> int:
        return int(nb.first_row_after_nb(ts, k, seconds))

    @staticmethod
    def first_row_from(ts: np.ndarray, k: int, seconds: float) -> int:
        return int(nb.first_row_from_nb(ts, k, seconds))

    @staticmethod
    def position(
        b: Bars,
        k: int,
        stop_row: int,
        w_end: int,
        side: float,
        entry: float,
        amount: float,
        p: np.ndarray,
    ) -> dict:
        rec = new_rec()
        kernel = nb.position_hummingbot_nb if p_model(p) == 0.0 else nb.position_touch_nb
        kernel(*b.ohlc(), k, stop_row, w_end, float(side), float(entry), float(amount), p, rec)
        d = rec_dict(rec)
        return {f: d[f] for f in POSITION_FIELDS}

    @staticmethod
    def simulate(
        b: Bars, k: int, stop_row: int, side: float, entry: float, amount: float, p: np.ndarray
    ) -> dict:
        rec = new_rec()
        nb.simulate_position_nb(
            b.ts, *b.ohlc(), k, stop_row, float(side), float(entry), float(amount), p, rec
        )
        d = rec_dict(rec)
        del d["level"]  # not written by simulate_position_nb
        return d

    @staticmethod
    def market_making(
        b: Bars,
        start_row: int,
        reference_price: Sequence[float],
        spread_multiplier: Sequence[float],
        levels: Sequence[Level],
        p: np.ndarray,
    ) -> list[dict]:
        arr = np.array(levels, dtype=np.float64).reshape(-1, 4)
        matrix = nb.market_making_nb(
            b.ts,
            *b.ohlc(),
            start_row,
            np.asarray(reference_price, dtype=np.float64),
            np.asarray(spread_multiplier, dtype=np.float64),
            arr[:, 0].copy(),
            arr[:, 1].copy(),
            arr[:, 2].copy(),
            arr[:, 3].copy(),
            np.full(arr.shape[0], p[P_REFRESH_S]),
            np.empty(0),
            np.empty(0),
            p,
        )
        return matrix_dicts(matrix)


class Reference:
    name = "reference"

    @staticmethod
    def window_end(ts: np.ndarray, k: int, seconds: float) -> int:
        return ref.window_end(ts.tolist(), k, seconds)

    @staticmethod
    def first_row_after(ts: np.ndarray, k: int, seconds: float) -> int:
        return ref.first_row_after(ts.tolist(), k, seconds)

    @staticmethod
    def first_row_from(ts: np.ndarray, k: int, seconds: float) -> int:
        return ref.first_row_from(ts.tolist(), k, seconds)

    @staticmethod
    def position(
        b: Bars,
        k: int,
        stop_row: int,
        w_end: int,
        side: float,
        entry: float,
        amount: float,
        p: np.ndarray,
    ) -> dict:
        fn = ref.position_hummingbot if p_model(p) == 0.0 else ref.position_touch
        lists = [a.tolist() for a in b.ohlc()]
        return fn(*lists, k, stop_row, w_end, side, entry, amount, params_dict(p))

    @staticmethod
    def simulate(
        b: Bars, k: int, stop_row: int, side: float, entry: float, amount: float, p: np.ndarray
    ) -> dict:
        lists = [a.tolist() for a in b]
        return ref.simulate_position(*lists, k, stop_row, side, entry, amount, params_dict(p))

    @staticmethod
    def market_making(
        b: Bars,
        start_row: int,
        reference_price: Sequence[float],
        spread_multiplier: Sequence[float],
        levels: Sequence[Level],
        p: np.ndarray,
    ) -> list[dict]:
        lists = [a.tolist() for a in b]
        columns = list(zip(*levels, strict=True)) if levels else [(), (), (), ()]
        return ref.market_making(
            *lists,
            start_row,
            [float(x) for x in reference_price],
            [float(x) for x in spread_multiplier],
            *[list(col) for col in columns],
            params_dict(p),
        )


IMPLS = (Kernel, Reference)


def p_model(p: np.ndarray) -> float:
    return float(p[P_FILL_MODEL])


def same_value(a: float, b: float, rel: float = 1e-12) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def diff_records(got: dict, want: dict) -> list[str]:
    """Fields that differ: ints exactly, floats to 1e-12 relative (NaN == NaN)."""
    problems = []
    assert set(got) == set(want), (sorted(got), sorted(want))
    for name in want:
        if name in INT_FIELDS:
            if got[name] != want[name]:
                problems.append(f"{name}: {got[name]!r} != {want[name]!r}")
        elif name in FLOAT_FIELDS and not same_value(float(got[name]), float(want[name])):
            problems.append(f"{name}: {got[name]!r} != {want[name]!r}")
    return problems
