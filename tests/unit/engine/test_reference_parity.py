"""Property tests: the numba kernels equal the pure-Python references on random small inputs.

Prices are drawn either on a coarse 0.5 grid (so closes, highs and lows often land exactly on
entry, stop-loss, take-profit and trailing levels: the ties are where such kernels go wrong) or
as arbitrary floats. Timestamps are 1m bars with occasional gaps.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbbacktest.engine.records import P_FEE, P_FILL_MODEL, P_REFRESH_S, P_TIME_LIMIT_S
from tests.kit.bars import HUMMINGBOT, T0, Bars, bars, params

from . import reference as ref
from .impls import Kernel, Reference, diff_records

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NAN = math.nan
BUY, SELL = 1.0, 2.0

# ---------------------------------------------------------------------------------------------
# strategies


@st.composite
def ohlc_bars(draw: st.DrawFn, min_n: int = 1, max_n: int = 12, mode: str | None = None) -> Bars:
    n = draw(st.integers(min_n, max_n))
    gaps = draw(st.lists(st.sampled_from([60, 60, 60, 60, 120, 300]), min_size=n, max_size=n))
    ts = [T0]
    for gap in gaps[1:]:
        ts.append(ts[-1] + gap)
    if mode is None:
        mode = draw(st.sampled_from(["grid", "few", "float"]))
    if mode == "grid":
        price = st.integers(180, 220).map(lambda i: i / 2)  # 90.0 .. 110.0 by 0.5
        wick = st.integers(0, 6).map(lambda i: i / 2)
    elif mode == "few":
        # 96 * (1 +- 1/64, 1/32, 1/16): returns from 96 land exactly on binary-fraction
        # thresholds (and 96 * (1 - 1/32) = 93 is a stop-loss price, etc.)
        price = st.sampled_from([96.0, 96.0, 96.0, 90.0, 93.0, 94.5, 97.5, 99.0, 102.0])
        wick = st.sampled_from([0.0, 0.0, 1.5, 3.0, 6.0])
    else:
        price = st.floats(90.0, 110.0, allow_nan=False, allow_infinity=False)
        wick = st.floats(0.0, 3.0, allow_nan=False, allow_infinity=False)
    closes = draw(st.lists(price, min_size=n, max_size=n))
    opens = []
    for i in range(n):
        gap = draw(st.booleans())
        opens.append(draw(price) if (gap or i == 0) else closes[i - 1])
    highs = [max(o, c) + draw(wick) for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) - draw(wick) for o, c in zip(opens, closes, strict=True)]
    return bars(closes, highs=highs, lows=lows, opens=opens, ts=ts)


def maybe(values: list[float]) -> st.SearchStrategy[float]:
    return st.sampled_from([NAN, *values])


@st.composite
def param_vectors(draw: st.DrawFn, ties: bool = False) -> np.ndarray:
    if ties:  # no fee, binary-fraction barriers: see ohlc_bars(mode="few")
        dyadic = maybe([0.015625, 0.03125, 0.0625])
        return params(
            take_profit=draw(dyadic),
            stop_loss=draw(dyadic),
            trail_activation=draw(st.sampled_from([NAN, 0.0, 0.015625, 0.03125])),
            trail_delta=draw(st.sampled_from([NAN, 0.0, 0.015625, 0.03125])),
            time_limit_s=draw(maybe([60, 120, 300])),
            refresh_s=draw(maybe([60, 120, 300])),
            tp_is_limit=draw(st.sampled_from([0.0, 1.0])),
            open_is_limit=draw(st.sampled_from([0.0, 1.0])),
            fill_model=draw(st.sampled_from([0.0, 1.0])),
        )
    return params(
        fee=draw(st.sampled_from([0.0, 0.0002, 0.001, 0.0025])),
        # binary fractions (1/64, 1/32) make exact ties with the 0.5 price grid possible,
        # e.g. 96 * (1 + 1/32) = 99
        take_profit=draw(maybe([0.005, 0.01, 0.015625, 0.02, 0.03125, 0.0625])),
        stop_loss=draw(maybe([0.005, 0.01, 0.015625, 0.02, 0.03125, 0.0625])),
        trail_activation=draw(maybe([0.0, 0.005, 0.01, 0.015625, 0.02, 0.03125])),
        trail_delta=draw(maybe([0.0, 0.002, 0.005, 0.0078125, 0.015625])),
        time_limit_s=draw(maybe([0, 60, 90, 120, 180, 300, 600])),
        refresh_s=draw(maybe([0, 30, 60, 120, 180, 300])),
        cooldown_s=draw(maybe([0, 60, 90, 120, 300])),
        tp_is_limit=draw(st.sampled_from([0.0, 1.0])),
        open_is_limit=draw(st.sampled_from([0.0, 1.0, 1.0])),
        fill_model=draw(st.sampled_from([0.0, 1.0])),
    )


@st.composite
def positions(draw: st.DrawFn, ties: bool = False):
    """A position to simulate; ``ties``: fee 0 and few prices, so thresholds are hit exactly."""
    b = draw(ohlc_bars(mode="few" if ties else None))
    p = draw(param_vectors(ties=ties))
    k = draw(st.integers(0, b.n - 1))
    side = draw(st.sampled_from([BUY, SELL]))
    if draw(st.booleans()):
        spread = draw(st.sampled_from([0.0, 0.005, 0.01, 0.02, -0.005]))
        entry = b.c[k] * (1.0 - spread) if side == BUY else b.c[k] * (1.0 + spread)
    else:
        entry = (
            draw(st.sampled_from([93.0, 96.0, 99.0])) if ties else draw(st.integers(180, 220)) / 2
        )
    amount = draw(st.sampled_from([1.0, 0.5, 2.5, 0.013]))
    return b, p, k, side, float(entry), amount


def show(b: Bars, *rest) -> str:
    return (
        f"ts={b.ts.tolist()} o={b.o.tolist()} h={b.h.tolist()} l={b.l.tolist()} "
        f"c={b.c.tolist()} rest={rest}"
    )


# ---------------------------------------------------------------------------------------------
# properties


@SETTINGS
@given(b=ohlc_bars(), data=st.data())
def test_row_helpers(b, data):
    k = data.draw(st.integers(0, b.n - 1))
    seconds = data.draw(st.sampled_from([NAN, 0, 30, 60, 90, 120, 180, 300, 600, 1e9]))
    assert Kernel.window_end(b.ts, k, seconds) == Reference.window_end(b.ts, k, seconds)
    assert Kernel.first_row_after(b.ts, k, seconds) == Reference.first_row_after(b.ts, k, seconds)
    if not math.isnan(seconds):
        assert Kernel.first_row_from(b.ts, k, seconds) == Reference.first_row_from(b.ts, k, seconds)


@SETTINGS
@given(case=positions(), data=st.data())
def test_position_kernels_match_reference(case, data):
    """position_hummingbot_nb / position_touch_nb with any stop_row in (k, n]."""
    b, p, k, side, entry, amount = case
    stop_row = data.draw(st.integers(k + 1, b.n))
    w_end = ref.window_end(b.ts.tolist(), k, p[P_TIME_LIMIT_S])
    got = Kernel.position(b, k, stop_row, w_end, side, entry, amount, p)
    want = Reference.position(b, k, stop_row, w_end, side, entry, amount, p)
    problems = diff_records(got, want)
    assert not problems, (problems, show(b, p.tolist(), k, stop_row, side, entry, amount))


@SETTINGS
@given(case=st.one_of(positions(), positions(ties=True)))
def test_simulate_position_matches_reference(case):
    b, p, k, side, entry, amount = case
    stop_row = ref.first_row_after(b.ts.tolist(), k, p[P_REFRESH_S])
    got = Kernel.simulate(b, k, stop_row, side, entry, amount, p)
    want = Reference.simulate(b, k, stop_row, side, entry, amount, p)
    problems = diff_records(got, want)
    assert not problems, (problems, show(b, p.tolist(), k, stop_row, side, entry, amount))
    check_identities(got, p)


def check_identities(r: dict, p: np.ndarray) -> None:
    fee = p[P_FEE]
    if r["fill_row"] < 0:
        assert r["close_type"] in (1, 5)
        assert r["net_pnl_quote"] == r["cum_fees_quote"] == r["filled_amount_quote"] == 0.0
        return
    amount, pf, px = r["amount_base"], r["fill_price"], r["exit_price"]
    assert r["created_row"] <= r["fill_row"] <= r["close_row"]
    close = math.isclose
    if p[P_FILL_MODEL] == HUMMINGBOT:
        assert close(r["cum_fees_quote"], 2 * fee * amount * pf, rel_tol=1e-12, abs_tol=1e-15)
        assert close(r["filled_amount_quote"], 2 * amount * pf, rel_tol=1e-12)
        assert close(
            r["net_pnl_quote"], r["net_pnl_pct"] * amount * pf, rel_tol=1e-12, abs_tol=1e-12
        )
    else:
        assert close(r["cum_fees_quote"], fee * amount * (pf + px), rel_tol=1e-12, abs_tol=1e-15)
        assert close(r["filled_amount_quote"], amount * (pf + px), rel_tol=1e-12)


@st.composite
def mm_cases(draw: st.DrawFn):
    b = draw(ohlc_bars(max_n=14))
    p = draw(param_vectors())
    n_levels = draw(st.integers(1, 3))
    levels = []
    for _ in range(n_levels):
        side = draw(st.sampled_from([BUY, SELL]))
        spread = draw(st.sampled_from([0.0, 0.001, 0.005, 0.01, 0.02, 0.5, 0.6]))
        if draw(st.booleans()):
            quote, base = draw(st.sampled_from([10.0, 100.0, 0.0, -5.0, NAN])), NAN
        else:
            quote, base = NAN, draw(st.sampled_from([1.0, 0.25, 0.0]))
        levels.append((side, spread, quote, base))
    # spread 0.5 x multiplier 2 makes a zero buy price; 0.6 x 2 or 3 a negative one
    mult = [draw(st.sampled_from([1.0, 1.0, 0.5, 2.0, 3.0, NAN])) for _ in range(b.n)]
    kind = draw(st.sampled_from(["close", "close", "holes", "other"]))
    if kind == "close":
        refp = b.c.tolist()
    elif kind == "holes":
        refp = [NAN if draw(st.booleans()) else c for c in b.c.tolist()]
    else:
        refp = [draw(st.sampled_from([NAN, 95.0, 100.0, 104.5, math.inf])) for _ in range(b.n)]
    start_row = draw(st.integers(0, b.n))
    return b, p, start_row, refp, mult, levels


@SETTINGS
@given(case=mm_cases())
def test_market_making_matches_reference(case):
    b, p, start_row, refp, mult, levels = case
    got = Kernel.market_making(b, start_row, refp, mult, levels, p)
    want = Reference.market_making(b, start_row, refp, mult, levels, p)
    key = lambda r: (r["level"], r["created_row"])  # noqa: E731
    got.sort(key=key)
    want.sort(key=key)
    context = show(b, p.tolist(), start_row, refp, mult, levels)
    assert len(got) == len(want), (len(got), len(want), context)
    for g, w in zip(got, want, strict=True):
        problems = diff_records(g, w)
        assert not problems, (problems, g, w, context)
        check_identities(g, p)
    # scheduling invariants: per level, executors do not overlap and never start before start_row
    for lv in range(len(levels)):
        mine = [r for r in got if r["level"] == lv]
        for a, b_ in itertools.pairwise(mine):
            assert a["created_row"] < b_["created_row"]
            assert b_["created_row"] >= a["close_row"]
        assert all(r["created_row"] >= start_row for r in mine)
