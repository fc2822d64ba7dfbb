"""Property test: ``simulate_dca_nb`` equals the pure-Python reference on random small inputs.

Bars as in ``test_reference_parity.py`` (a coarse 0.5 price grid, a few binary-fraction-friendly
prices, or arbitrary floats), or a DCA-shaped walk (against the position, then back). Levels: 1
to 4, monotone away from the market (BUY falling, SELL rising, equal neighbours allowed), near
the creation close, at prices the bars trade at, or anywhere in their range, so that closes,
lows and highs often land exactly on them. Random amounts; take profit,
stop loss, trailing stop and time limit each possibly unset; fee; both fill models; MAKER or
TAKER; both sides; every stop mode with a stop row anywhere from the creation row to "never".
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbbacktest.engine.records import P_FEE, P_FILL_MODEL
from tests.kit.bars import FLOAT_FIELDS, INT_FIELDS, Bars, bars, params

from .test_dca_nb import KernelDCA, ReferenceDCA, assert_dca_identities
from .test_reference_parity import ohlc_bars

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NAN = math.nan
BUY, SELL = 1.0, 2.0


def maybe(values: list[float]) -> st.SearchStrategy[float]:
    return st.sampled_from([NAN, *values])


@st.composite
def walk_bars(draw: st.DrawFn, side: float, max_n: int = 14) -> Bars:
    """A DCA-shaped random walk on the 0.5 grid from 96: against the position (through the
    levels) then back (to the exits), with noise, wicks and gapped opens. From 96 the dyadic
    barriers land on the grid: 96 * (1 + 1/32) = 99, 96 * (1 - 1/64) = 94.5."""
    n = draw(st.sampled_from([12, 9, max_n, 6, 2]))
    # bars before the walk turns in the position's favour
    turn = draw(st.sampled_from([n // 2, n // 3, 2 * n // 3, 0, n]))
    against = -1.0 if side == BUY else 1.0
    drift = st.sampled_from([1.0, 0.5, 1.5, 0.0, 2.0, -0.5, -1.0])
    wick = st.sampled_from([0.0, 0.5, 1.0, 0.0, 2.0])
    closes, opens, highs, lows = [], [], [], []
    prev = 96.0
    for i in range(n):
        gap = draw(st.sampled_from([0.0, 0.0, 0.0, -1.0, -0.5, 0.5, 1.0]))
        o = prev + gap
        c = o + (against if i < turn else -against) * draw(drift)
        opens.append(o)
        closes.append(c)
        highs.append(max(o, c) + draw(wick))
        lows.append(min(o, c) - draw(wick))
        prev = c
    return bars(closes, highs=highs, lows=lows, opens=opens)


@st.composite
def dca_params(draw: st.DrawFn, ties: bool = False) -> np.ndarray:
    # fees never move an exit here (all barriers are price-based), so ties mode has them too
    fee = draw(st.sampled_from([0.0, 0.0002, 0.001, 0.0025]))
    if ties:  # binary-fraction barriers: see ohlc_bars(mode="few")
        dyadic = maybe([0.015625, 0.03125, 0.0625])
        return params(
            fee=fee,
            take_profit=draw(dyadic),
            stop_loss=draw(dyadic),
            trail_activation=draw(st.sampled_from([NAN, 0.0, 0.015625, 0.03125])),
            trail_delta=draw(st.sampled_from([NAN, 0.0, 0.015625, 0.03125])),
            time_limit_s=draw(maybe([60, 120, 300])),
            open_is_limit=draw(st.sampled_from([0.0, 1.0, 1.0])),
            fill_model=draw(st.sampled_from([0.0, 1.0])),
        )
    # binary fractions (1/64, 1/32) make exact ties with the 0.5 price grid possible
    return params(
        fee=fee,
        take_profit=draw(maybe([0.005, 0.01, 0.015625, 0.02, 0.03125])),
        stop_loss=draw(maybe([0.005, 0.01, 0.015625, 0.02, 0.03125, 0.0625])),
        trail_activation=draw(maybe([0.0, 0.005, 0.01, 0.015625, 0.02])),
        trail_delta=draw(maybe([0.0, 0.002, 0.005, 0.0078125, 0.015625])),
        time_limit_s=draw(maybe([0, 60, 120, 180, 300, 600])),
        open_is_limit=draw(st.sampled_from([0.0, 1.0, 1.0])),
        fill_model=draw(st.sampled_from([0.0, 1.0])),
    )


@st.composite
def dca_levels(draw: st.DrawFn, b: Bars, k: int, side: float) -> tuple[list[float], list[float]]:
    n_levels = draw(st.integers(1, 4))
    away = -1.0 if side == BUY else 1.0  # the direction away from the market
    how = draw(st.sampled_from(["market", "bars", "market", "float"]))
    if how == "bars":
        # prices the bars from k on actually trade at: exact touches and crosses
        seen = sorted({float(x) for a in b.ohlc() for x in a[k:]})
        picked = draw(st.lists(st.sampled_from(seen), min_size=n_levels, max_size=n_levels))
        prices = sorted(picked, reverse=side == BUY)
    else:
        if how == "market":
            # a first level at or just beyond the creation close on the 0.5 grid, grid steps
            jitter = st.sampled_from([1.0, 0.5, 1.5, 2.0, 3.0, 0.0, -0.5])
            first = round(b.c[k] * 2) / 2 + away * draw(jitter)
            steps = st.sampled_from([0.0, 0.5, 0.5, 1.0, 1.5, 3.0])
        else:
            lo, hi = float(b.l.min()), float(b.h.max())
            first = draw(st.floats(lo - 1.0, hi + 1.0, allow_nan=False, allow_infinity=False))
            steps = st.floats(0.0, 4.0, allow_nan=False, allow_infinity=False)
        prices = [first]
        for _ in range(n_levels - 1):
            prices.append(prices[-1] + away * draw(steps))
    amounts = draw(
        st.lists(
            st.sampled_from([10.0, 20.0, 40.0, 5.5, 100.0, 0.37]),
            min_size=n_levels,
            max_size=n_levels,
        )
    )
    return prices, amounts


@st.composite
def dca_cases(draw: st.DrawFn):
    side = draw(st.sampled_from([BUY, SELL]))
    kind = draw(st.sampled_from(["walk", "ties", "walk", "ohlc"]))
    if kind == "walk":
        b = draw(walk_bars(side))
    else:
        b = draw(ohlc_bars(mode="few" if kind == "ties" else None))
    p = draw(dca_params(ties=kind == "ties" or (kind == "walk" and draw(st.booleans()))))
    # mostly created early, so that there are bars to live on
    k = draw(st.integers(0, b.n - 1) if draw(st.booleans()) else st.integers(0, min(2, b.n - 1)))
    prices, amounts = draw(dca_levels(b, k, side))
    stop_mode = draw(st.sampled_from([0, 1, 2]))
    stop_row = draw(st.one_of(st.integers(k, b.n), st.just(b.n)))  # b.n = never
    return b, p, k, stop_row, stop_mode, side, prices, amounts


def same_value(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def diff(got: dict, want: dict) -> list[str]:
    """Fields that differ: ints exactly, floats to 1e-9 relative (NaN == NaN)."""
    assert set(got) == set(want), (sorted(got), sorted(want))
    problems = []
    for name in want:
        if name in INT_FIELDS:
            ok = got[name] == want[name]
        else:
            assert name in FLOAT_FIELDS
            ok = same_value(float(got[name]), float(want[name]))
        if not ok:
            problems.append(f"{name}: kernel {got[name]!r} != reference {want[name]!r}")
    return problems


def show(b: Bars, *rest) -> str:
    return (
        f"ts={b.ts.tolist()} o={b.o.tolist()} h={b.h.tolist()} l={b.l.tolist()} "
        f"c={b.c.tolist()} rest={rest}"
    )


@SETTINGS
@given(case=dca_cases())
def test_simulate_dca_matches_reference(case):
    b, p, k, stop_row, stop_mode, side, prices, amounts = case
    got = KernelDCA.simulate(b, k, stop_row, stop_mode, side, prices, amounts, p)
    want = ReferenceDCA.simulate(b, k, stop_row, stop_mode, side, prices, amounts, p)
    problems = diff(got, want)
    assert not problems, (
        problems,
        show(b, p.tolist(), k, stop_row, stop_mode, side, prices, amounts),
    )
    assert_dca_identities(got, prices, amounts, float(p[P_FEE]), float(p[P_FILL_MODEL]))
