"""Hand-worked cases for the numba kernels in ``hbbacktest.engine.nb``.

Every case runs twice: against the kernel and against the pure-Python reference
(``reference.py``), so the reference is itself pinned to hand-checked numbers.

Bars are 1m (ts = T0 + 60 * row). Unless a case says otherwise: open = previous close,
high = max(open, close), low = min(open, close) (see ``tests/kit/bars.py``); fee 0; no
barriers; no refresh; no time limit (the window ends on the last row).
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import pytest

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.records import N_FIELDS, P_REFRESH_S
from tests.kit.bars import HUMMINGBOT, TOUCH, bars, params

from . import reference as ref
from .impls import IMPLS

BUY = float(TradeType.BUY)
SELL = float(TradeType.SELL)
TL = int(CloseType.TIME_LIMIT)
SL = int(CloseType.STOP_LOSS)
TP = int(CloseType.TAKE_PROFIT)
ES = int(CloseType.EARLY_STOP)
TS = int(CloseType.TRAILING_STOP)


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


@pytest.fixture(params=IMPLS, ids=lambda i: i.name)
def impl(request: pytest.FixtureRequest) -> object:
    return request.param


def assert_identities(r: dict, fee: float, model: int) -> None:
    """The accounting identities every record satisfies."""
    if r["fill_row"] < 0:
        assert math.isnan(r["fill_price"]) and math.isnan(r["exit_price"])
        assert r["net_pnl_pct"] == r["net_pnl_quote"] == 0.0
        assert r["cum_fees_quote"] == r["filled_amount_quote"] == 0.0
        return
    amount, pf, px = r["amount_base"], r["fill_price"], r["exit_price"]
    assert r["created_row"] <= r["fill_row"] <= r["close_row"]
    if model == HUMMINGBOT:
        assert r["cum_fees_quote"] == approx(2 * fee * amount * pf)
        assert r["filled_amount_quote"] == approx(2 * amount * pf)
        assert r["net_pnl_quote"] == approx(r["net_pnl_pct"] * amount * pf)
    else:
        assert r["cum_fees_quote"] == approx(fee * amount * (pf + px))
        assert r["filled_amount_quote"] == approx(amount * (pf + px))
        sgn = 1.0 if r["side"] == BUY else -1.0
        net = sgn * (px - pf) * amount - fee * amount * (pf + px)
        assert r["net_pnl_quote"] == approx(net)
        assert r["net_pnl_pct"] == approx(net / (amount * pf))


def run(impl, b, *, k=0, side=BUY, entry=None, amount=1.0, stop_row=None, **kw) -> dict:
    """Simulate one executor created at row ``k``; ``stop_row`` defaults to the refresh row."""
    p = params(**kw)
    if stop_row is None:
        stop_row = ref.first_row_after(b.ts.tolist(), k, p[P_REFRESH_S])
    if entry is None:
        entry = b.c[k]
    r = impl.simulate(b, k, stop_row, side, float(entry), float(amount), p)
    assert r["side"] == int(side) and r["created_row"] == k
    assert r["entry_price"] == entry and r["amount_base"] == amount
    assert_identities(r, kw.get("fee", 0.0), int(kw.get("fill_model", HUMMINGBOT)))
    return r


def outcome(r: dict) -> tuple[int, int, int]:
    return r["fill_row"], r["close_row"], r["close_type"]


# ---------------------------------------------------------------------------------------------
# row helpers: ts = T0 + 60 * [0, 1, 2, 3, 4, 5], from row k = 1


@pytest.mark.parametrize(
    ("seconds", "want"),
    [(120, 3), (90, 2), (0, 1), (10_000, 5), (math.nan, 5)],
)
def test_window_end(impl, seconds, want):
    # last row r >= 1 with ts[r] - ts[1] <= seconds: 120 -> row 3 (120 s), 90 -> row 2 (60 s)
    assert impl.window_end(bars([100.0] * 6).ts, 1, seconds) == want


@pytest.mark.parametrize(
    ("seconds", "want"),
    [(120, 4), (90, 3), (0, 2), (10_000, 6), (math.nan, 6)],
)
def test_first_row_after(impl, seconds, want):
    # first row r > 1 with ts[r] - ts[1] > seconds: 120 -> row 4 (180 s); none -> len(ts) = 6
    assert impl.first_row_after(bars([100.0] * 6).ts, 1, seconds) == want


@pytest.mark.parametrize(
    ("seconds", "want"),
    [(120, 3), (90, 3), (0, 1), (10_000, 6)],
)
def test_first_row_from(impl, seconds, want):
    # first row r >= 1 with ts[r] - ts[1] >= seconds: 120 -> row 3 (exactly 120 s)
    assert impl.first_row_from(bars([100.0] * 6).ts, 1, seconds) == want


def test_window_end_with_missing_bars(impl):
    # ts offsets 0, 60, 240, 300: a 180 s window from row 0 ends on row 1 (240 > 180)
    b = bars([100.0] * 4, ts=[0, 60, 240, 300])
    assert impl.window_end(b.ts, 0, 180) == 1
    assert impl.first_row_after(b.ts, 0, 60) == 2
    assert impl.first_row_from(b.ts, 1, 120) == 2


# =============================================================================================
# Hummingbot fill model


class TestHummingbot:
    def test_take_profit_buy_limit(self, impl):
        # entry 99.5: row 0 close 100 > 99.5; row 1 close 99 <= 99.5 -> filled at 99 on row 1.
        # net pnl = c/99 - 1 - 2*0.001: row 1 -0.002, row 2 101/99-1-0.002 = 0.0182,
        # row 3 103/99-1-0.002 = 0.03840 > 0.03 -> TAKE_PROFIT on row 3, booked at close 103.
        b = bars([100, 99, 101, 103, 104])
        r = run(impl, b, entry=99.5, amount=2.0, fee=0.001, take_profit=0.03)
        assert outcome(r) == (1, 3, TP)
        assert r["fill_price"] == 99.0 and r["exit_price"] == 103.0
        assert r["net_pnl_pct"] == approx(103 / 99 - 1 - 0.002)
        assert r["net_pnl_quote"] == approx((103 / 99 - 1 - 0.002) * 198.0)
        assert r["cum_fees_quote"] == approx(0.396)  # 2 * 0.001 * 2 * 99
        assert r["filled_amount_quote"] == approx(396.0)  # 2 * 2 * 99

    def test_take_profit_must_exceed(self, impl):
        # exact binary fractions: row 1 pnl 72/64 - 1 = 0.125 == take_profit, not above it;
        # row 2 80/64 - 1 = 0.25 > 0.125 -> TAKE_PROFIT on row 2
        b = bars([64, 72, 80])
        r = run(impl, b, open_is_limit=0, take_profit=0.125)
        assert outcome(r) == (0, 2, TP)

    def test_take_profit_sell_limit(self, impl):
        # sell entry 101: row 1 close 101.5 >= 101 -> filled at 101.5. pnl = 1 - c/101.5:
        # row 2 0.0148, row 3 1 - 97/101.5 = 0.0443 > 0.02 -> TAKE_PROFIT on row 3.
        b = bars([100, 101.5, 100, 97, 96])
        r = run(impl, b, side=SELL, entry=101.0, take_profit=0.02)
        assert outcome(r) == (1, 3, TP)
        assert r["fill_price"] == 101.5 and r["exit_price"] == 97.0
        assert r["net_pnl_pct"] == approx(1 - 97 / 101.5)

    def test_stop_loss_buy_market(self, impl):
        # market: filled at c[0] = 100; SL price 100 * 0.98 = 98. lows: row 1 100, row 2 99,
        # row 3 min(99, 97) = 97 <= 98 -> STOP_LOSS on row 3, booked at its close 97.
        b = bars([100, 100, 99, 97, 96])
        r = run(impl, b, entry=95.0, open_is_limit=0, stop_loss=0.02, fee=0.0005)
        assert outcome(r) == (0, 3, SL)
        assert r["exit_price"] == 97.0
        assert r["net_pnl_pct"] == approx(97 / 100 - 1 - 0.001)

    def test_stop_loss_sell_market(self, impl):
        # sell at 100, SL price 102 on the highs: row 1 100.5, row 2 101, row 3 102.5 -> SL row 3
        b = bars([100, 100.5, 101, 102.5, 103])
        r = run(impl, b, side=SELL, open_is_limit=0, stop_loss=0.02)
        assert outcome(r) == (0, 3, SL)
        assert r["exit_price"] == 102.5
        assert r["net_pnl_pct"] == approx(1 - 102.5 / 100)

    def test_trailing_stop(self, impl):
        # market buy at 100; activation 0.02, delta 0.01. pnl: 0, .01, .03 (> .02: active,
        # trigger .02), .04 (trigger .03), .035 (>= .03), .028 < .03 -> TRAILING_STOP row 5.
        b = bars([100, 101, 103, 104, 103.5, 102.8, 101])
        r = run(impl, b, open_is_limit=0, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 5, TS)
        assert r["exit_price"] == 102.8
        assert r["net_pnl_pct"] == approx(0.028)

    def test_trailing_stop_needs_activation(self, impl):
        # pnl peaks at .015 (never > .02), then falls 2.5% -> no trailing stop, TIME_LIMIT at end
        b = bars([100, 101.5, 100.2, 99, 101])
        r = run(impl, b, open_is_limit=0, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 4, TL)

    @pytest.mark.parametrize(("fee", "want"), [(0.0, (0, 2, TS)), (0.005, (0, 3, TL))])
    def test_trailing_stop_is_on_net_pnl(self, impl, fee, want):
        # closes 100, 102.5, 101, 100.5. fee 0: pnl .025 activates (trigger .015), then .01 <
        # .015 -> TS row 2. fee .005 (2*fee = .01): net peaks at .015, never active -> TL.
        b = bars([100, 102.5, 101, 100.5])
        r = run(impl, b, open_is_limit=0, fee=fee, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == want

    @pytest.mark.parametrize(("seconds", "close_row"), [(180, 3), (150, 2), (0, 0)])
    def test_time_limit(self, impl, seconds, close_row):
        # window from row 0: last row with ts - ts0 <= seconds; booked at that row's close
        b = bars([100, 101, 102, 101.5, 110])
        r = run(impl, b, open_is_limit=0, time_limit_s=seconds, fee=0.001)
        assert outcome(r) == (0, close_row, TL)
        assert r["exit_price"] == b.c[close_row]
        assert r["net_pnl_pct"] == approx(b.c[close_row] / 100 - 1 - 0.002)

    def test_unfilled_early_stop_at_refresh(self, impl):
        # entry 99, closes stay at 100 (the lows dip to 95: the hummingbot model only looks at
        # closes). refresh 120 s -> stop row = first row more than 120 s later = row 3 (180 s);
        # the window ends on row 5 > 3 -> EARLY_STOP on row 3.
        b = bars([100] * 6, lows=[95] * 6)
        r = run(impl, b, entry=99.0, refresh_s=120, fee=0.001)
        assert outcome(r) == (-1, 3, ES)

    def test_fill_on_the_refresh_row_counts(self, impl):
        # same, but row 3 (the stop row) closes at 98.5 <= 99 -> filled there at 98.5;
        # nothing else -> TIME_LIMIT on the last row, 100 / 98.5 - 1.
        b = bars([100, 100, 100, 98.5, 100, 100])
        r = run(impl, b, entry=99.0, refresh_s=120)
        assert outcome(r) == (3, 5, TL)
        assert r["fill_price"] == 98.5
        assert r["net_pnl_pct"] == approx(100 / 98.5 - 1)

    def test_no_fill_after_the_refresh_row(self, impl):
        # the cross comes on row 4, after the stop row 3 -> EARLY_STOP on row 3
        b = bars([100, 100, 100, 100, 98, 100])
        r = run(impl, b, entry=99.0, refresh_s=120)
        assert outcome(r) == (-1, 3, ES)

    def test_unfilled_time_limit_first(self, impl):
        # refresh 300 s -> stop row 6; time limit 120 s -> window ends on row 2 -> TIME_LIMIT 2
        b = bars([100] * 8)
        r = run(impl, b, entry=99.0, refresh_s=300, time_limit_s=120)
        assert outcome(r) == (-1, 2, TL)

    def test_unfilled_refresh_and_time_limit_same_row(self, impl):
        # refresh 120 s -> stop row 3; time limit 180 s -> window ends on row 3. The refresh is
        # not *before* the time limit -> TIME_LIMIT on row 3.
        b = bars([100] * 6)
        r = run(impl, b, entry=99.0, refresh_s=120, time_limit_s=180)
        assert outcome(r) == (-1, 3, TL)

    def test_unfilled_without_refresh(self, impl):
        b = bars([100] * 4)
        r = run(impl, b, entry=99.0)
        assert outcome(r) == (-1, 3, TL)

    @pytest.mark.parametrize("k", [0, 2])
    def test_market_open(self, impl, k):
        # market: filled at c[k] whatever the entry price
        b = bars([100, 101, 102, 103, 104])
        r = run(impl, b, k=k, entry=50.0, open_is_limit=0)
        assert outcome(r) == (k, 4, TL)
        assert r["fill_price"] == b.c[k] and r["entry_price"] == 50.0

    # ties on one row: TP > SL > trailing > time limit --------------------------------------

    def test_tie_take_profit_beats_stop_loss(self, impl):
        # row 1: low 97 <= SL price 98, close 104 -> pnl .04 > .03 -> TAKE_PROFIT
        b = bars([100, 104], lows=[None, 97])
        r = run(impl, b, open_is_limit=0, stop_loss=0.02, take_profit=0.03)
        assert outcome(r) == (0, 1, TP)

    def test_tie_stop_loss_beats_trailing(self, impl):
        # row 1: pnl .03 activates (trigger .02); row 2: pnl .015 < .02 (trailing) and
        # low 97.5 <= 98 (stop loss) -> STOP_LOSS
        b = bars([100, 103, 101.5], lows=[None, None, 97.5])
        r = run(impl, b, open_is_limit=0, stop_loss=0.02, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 2, SL)

    def test_tie_trailing_beats_time_limit(self, impl):
        # as above without SL; the window ends on row 2 (120 s) -> TRAILING_STOP, not TIME_LIMIT
        b = bars([100, 103, 101.5, 100])
        r = run(impl, b, open_is_limit=0, time_limit_s=120, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 2, TS)

    def test_tie_stop_loss_beats_time_limit(self, impl):
        b = bars([100, 100, 97, 95])  # row 2 low 97 <= 98, window ends on row 2
        r = run(impl, b, open_is_limit=0, time_limit_s=120, stop_loss=0.02)
        assert outcome(r) == (0, 2, SL)

    def test_tie_take_profit_beats_time_limit(self, impl):
        b = bars([100, 100, 104, 110])  # row 2 pnl .04 > .03, window ends on row 2
        r = run(impl, b, open_is_limit=0, time_limit_s=120, take_profit=0.03)
        assert outcome(r) == (0, 2, TP)

    # (TP and trailing cannot both fire on one row: a trailing stop needs an earlier pnl above
    # the current one + delta, hence above take_profit, which would have closed it already.)

    # the upstream defect: the stop loss is scanned from the row AFTER the fill ---------------

    def test_low_before_or_on_fill_row_does_not_stop(self, impl):
        # entry 99, SL 2% of the fill: 99 * 0.98 = 97.02. Row 0 (creation) low 90 and row 1
        # (fill, close 99) low 95 are both below 97.02: upstream would stop it; we must not.
        # Rows 2-4 lows 99, 99.5, 100 -> TIME_LIMIT on row 4 at 100.5.
        b = bars([100, 99, 99.5, 100, 100.5], lows=[90, 95, 99, 99.5, 100])
        r = run(impl, b, entry=99.0, stop_loss=0.02)
        assert outcome(r) == (1, 4, TL)
        assert r["net_pnl_pct"] == approx(100.5 / 99 - 1)

    def test_market_fill_row_low_does_not_stop(self, impl):
        b = bars([100, 100.5, 101], lows=[90, None, None])
        r = run(impl, b, open_is_limit=0, stop_loss=0.02)
        assert outcome(r) == (0, 2, TL)

    def test_low_after_fill_row_stops(self, impl):
        # control: row 2 low 97 <= 97.02 -> STOP_LOSS on row 2 at its close 99.5
        b = bars([100, 99, 99.5, 100, 100.5], lows=[90, 95, 97, 99.5, 100])
        r = run(impl, b, entry=99.0, stop_loss=0.02)
        assert outcome(r) == (1, 2, SL)
        assert r["exit_price"] == 99.5

    # exact boundaries (prices from 64 with binary-fraction barriers: no rounding) ------------

    @pytest.mark.parametrize(
        ("side", "highs", "lows"),
        [(BUY, [None, None], [None, 56]), (SELL, [None, 72], [None, None])],
        ids=["buy", "sell"],
    )
    def test_stop_loss_reached_exactly(self, impl, side, highs, lows):
        # fill 64, stop loss 0.125: a low of exactly 64 * 0.875 = 56 (a high of exactly
        # 64 * 1.125 = 72 for a sell) reaches it -> STOP_LOSS on row 1
        b = bars([64, 64], highs=highs, lows=lows)
        r = run(impl, b, side=side, open_is_limit=0, stop_loss=0.125)
        assert outcome(r) == (0, 1, SL)

    def test_trailing_stop_needs_falling_below_trigger(self, impl):
        # fill 64, activation 0.125, delta 0.125. pnl: row 1 80/64-1 = 0.25 (active, trigger
        # 0.125); row 2 72/64-1 = 0.125 == trigger, not below; row 3 71/64-1 = 0.109 -> TS 3
        b = bars([64, 80, 72, 71])
        r = run(impl, b, open_is_limit=0, trail_activation=0.125, trail_delta=0.125)
        assert outcome(r) == (0, 3, TS)

    def test_trailing_activation_must_exceed(self, impl):
        # activation 0.25: pnl 80/64-1 = 0.25 does not exceed it -> never active -> TIME_LIMIT
        b = bars([64, 80, 70, 60])
        r = run(impl, b, open_is_limit=0, trail_activation=0.25, trail_delta=0.125)
        assert outcome(r) == (0, 3, TL)


# =============================================================================================
# touch fill model


def touch(impl, b, **kw) -> dict:
    return run(impl, b, fill_model=TOUCH, **kw)


class TestTouch:
    def test_take_profit_buy_limit(self, impl):
        # entry 99 (not marketable: c[0] = 100). Row 1 low 98.8 <= 99 -> filled at 99; SL price
        # 97.02 not reached on the fill bar. TP price 99 * 1.02 = 100.98: row 2 high 100.5 no,
        # row 3 high 101.2 -> TAKE_PROFIT at 100.98.
        # gross (100.98 - 99) * 2 = 3.96; fees .001 * 2 * (99 + 100.98) = .39996;
        # net 3.56004 = 1.798% of 198.
        b = bars(
            [100, 99.5, 100, 101],
            opens=[100, 100, 99.5, 100],
            highs=[100, 100.5, 100.5, 101.2],
            lows=[100, 98.8, 99.2, 99.8],
        )
        r = touch(impl, b, entry=99.0, amount=2.0, fee=0.001, take_profit=0.02, stop_loss=0.02)
        assert outcome(r) == (1, 3, TP)
        assert r["fill_price"] == 99.0
        assert r["exit_price"] == approx(100.98)
        assert r["net_pnl_quote"] == approx(3.56004)
        assert r["cum_fees_quote"] == approx(0.39996)
        assert r["net_pnl_pct"] == approx(3.56004 / 198)
        assert r["filled_amount_quote"] == approx(399.96)

    def test_take_profit_sell_limit(self, impl):
        # sell entry 101: row 1 high 101.5 -> filled at 101. TP price 101 * 0.98 = 98.98:
        # row 2 opens 100.5, low 98.5 <= 98.98 -> TAKE_PROFIT at 98.98, gross 2.02.
        b = bars([100, 100.5, 99], highs=[None, 101.5, None], lows=[None, None, 98.5])
        r = touch(impl, b, side=SELL, entry=101.0, take_profit=0.02)
        assert outcome(r) == (1, 2, TP)
        assert r["fill_price"] == 101.0 and r["exit_price"] == approx(98.98)
        assert r["net_pnl_quote"] == approx(2.02)

    def test_stop_loss_inside_bar(self, impl):
        # market buy at 100, SL price 98. Row 1 low 99; row 2 opens 99.5, low 97.5 -> SL at 98.
        # gross -2; fees .001 * (100 + 98) = .198; net -2.198.
        b = bars([100, 99.5, 99], lows=[None, 99, 97.5])
        r = touch(impl, b, open_is_limit=0, stop_loss=0.02, fee=0.001)
        assert outcome(r) == (0, 2, SL)
        assert r["exit_price"] == approx(98.0)
        assert r["net_pnl_quote"] == approx(-2.198)
        assert r["net_pnl_pct"] == approx(-0.02198)

    def test_gap_through_stop_loss_fills_at_open(self, impl):
        # row 2 opens at 97.2, below the SL price 98 -> STOP_LOSS at the open, 97.2
        b = bars([100, 99.5, 97], opens=[None, None, 97.2])
        r = touch(impl, b, open_is_limit=0, stop_loss=0.02)
        assert outcome(r) == (0, 2, SL)
        assert r["exit_price"] == 97.2
        assert r["net_pnl_quote"] == approx(-2.8)

    def test_stop_loss_first_when_bar_reaches_both(self, impl):
        # row 1 range 97..103 covers SL 98 and TP 102 -> STOP_LOSS at 98
        b = bars([100, 101], highs=[None, 103], lows=[None, 97])
        r = touch(impl, b, open_is_limit=0, stop_loss=0.02, take_profit=0.02)
        assert outcome(r) == (0, 1, SL)
        assert r["exit_price"] == approx(98.0)

    @pytest.mark.parametrize(("tp_is_limit", "exit_price"), [(1, 102.0), (0, 103.0)])
    def test_gap_through_take_profit(self, impl, tp_is_limit, exit_price):
        # row 1 opens at 103, above the TP price 102: a limit TP fills at 102, a market TP at 103
        b = bars([100, 103.5], opens=[None, 103])
        r = touch(impl, b, open_is_limit=0, take_profit=0.02, tp_is_limit=tp_is_limit)
        assert outcome(r) == (0, 1, TP)
        assert r["exit_price"] == approx(exit_price)

    TRAIL_BARS: ClassVar[dict[str, list[float]]] = {
        "closes": [100, 100.8, 102, 102.5, 102.2],
        "opens": [100, 100, 100.8, 102, 102.6],
        "highs": [100, 101, 102.5, 103, 102.8],
        "lows": [100, 99.5, 100.5, 101.8, 101.9],
    }

    def test_trailing_stop(self, impl):
        # market buy at 100, activation .02, delta .01; best = best high return after the fill.
        # row 1: high 101 -> best .01 (the dip to 99.5 is before activation: nothing).
        # row 2: high 102.5 -> best .025 >= .02 -> active from row 3.
        # row 3: trail 100 * (1 + .025 - .01) = 101.5; open 102, low 101.8 -> holds; best .03.
        # row 4: trail 100 * (1 + .03 - .01) = 102; open 102.6, low 101.9 <= 102 -> TS at 102.
        b = bars(**self.TRAIL_BARS)
        r = touch(impl, b, open_is_limit=0, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 4, TS)
        assert r["exit_price"] == approx(102.0)

    def test_trailing_stop_gap_fills_at_open(self, impl):
        # same, but row 4 opens at 101.7 < 102 -> TRAILING_STOP at the open, 101.7
        spec = dict(self.TRAIL_BARS)
        spec["opens"] = [100, 100, 100.8, 102, 101.7]
        spec["lows"] = [100, 99.5, 100.5, 101.8, 101.7]
        r = touch(impl, bars(**spec), open_is_limit=0, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 4, TS)
        assert r["exit_price"] == 101.7

    def test_trailing_stop_needs_activation(self, impl):
        # highs reach 101.5 at most (best .015 < .02), then lows fall to 99 -> TIME_LIMIT
        b = bars(
            [100, 101, 99.5, 100], highs=[None, 101.5, None, None], lows=[None, None, 99, None]
        )
        r = touch(impl, b, open_is_limit=0, trail_activation=0.02, trail_delta=0.01)
        assert outcome(r) == (0, 3, TL)

    def test_time_limit(self, impl):
        # window of 120 s -> ends on row 2, exit at its close 101; fees .001 * (100 + 101)
        b = bars([100, 100.5, 101, 105])
        r = touch(impl, b, open_is_limit=0, time_limit_s=120, fee=0.001)
        assert outcome(r) == (0, 2, TL)
        assert r["exit_price"] == 101.0
        assert r["net_pnl_quote"] == approx(1 - 0.201)

    def test_unfilled_early_stop_at_refresh(self, impl):
        # entry 99; row 0's own low (98) is before the order exists; rows 1.. lows 99.5 -> no
        # fill. refresh 120 s -> stop row 3 < window end 5 -> EARLY_STOP on row 3.
        b = bars([100] * 6, lows=[98] + [99.5] * 5)
        r = touch(impl, b, entry=99.0, refresh_s=120)
        assert outcome(r) == (-1, 3, ES)

    def test_unfilled_time_limit_first(self, impl):
        b = bars([100] * 6)
        r = touch(impl, b, entry=99.0, refresh_s=120, time_limit_s=60)
        assert outcome(r) == (-1, 1, TL)

    def test_unfilled_refresh_and_time_limit_same_row(self, impl):
        # stop row 3 == window end 3 (180 s) -> TIME_LIMIT, as in the hummingbot model
        b = bars([100] * 6)
        r = touch(impl, b, entry=99.0, refresh_s=120, time_limit_s=180)
        assert outcome(r) == (-1, 3, TL)

    def test_fill_on_the_refresh_row_counts(self, impl):
        # row 3 (the stop row) low 98.9 <= 99 -> filled at 99 on row 3; TIME_LIMIT at row 5
        b = bars([100] * 6, lows=[100, 100, 100, 98.9, 100, 100])
        r = touch(impl, b, entry=99.0, refresh_s=120)
        assert outcome(r) == (3, 5, TL)
        assert r["fill_price"] == 99.0 and r["exit_price"] == 100.0

    @pytest.mark.parametrize(("side", "entry"), [(BUY, 100.0), (BUY, 101.0), (SELL, 99.0)])
    def test_marketable_limit_fills_at_close(self, impl, side, entry):
        # a buy limit at/above c[k] (a sell at/below) is marketable: filled at c[k] = 100
        b = bars([100, 100.5, 100.2])
        r = touch(impl, b, side=side, entry=entry)
        assert outcome(r) == (0, 2, TL)
        assert r["fill_price"] == 100.0

    def test_market_open(self, impl):
        b = bars([100, 101, 102])
        r = touch(impl, b, k=1, entry=50.0, open_is_limit=0)
        assert outcome(r) == (1, 2, TL)
        assert r["fill_price"] == 101.0 and r["exit_price"] == 102.0

    def test_stop_loss_on_the_fill_bar(self, impl):
        # row 1: low 96 reaches the entry 99 and the SL price 97.02 -> STOP_LOSS on the fill bar
        # at 97.02
        b = bars([100, 99.5, 100], lows=[None, 96, None])
        r = touch(impl, b, entry=99.0, stop_loss=0.02)
        assert outcome(r) == (1, 1, SL)
        assert r["exit_price"] == approx(97.02)

    def test_only_stop_loss_checked_on_the_fill_bar(self, impl):
        # row 1 fills at 99 and its high 105 passes the TP price 100.98, but the order of
        # prices inside the bar is unknown: no TP there. Later highs 100 -> TIME_LIMIT at 100.
        b = bars(
            [100, 99.5, 100, 100], highs=[None, 105, None, None], lows=[None, 98.5, None, None]
        )
        r = touch(impl, b, entry=99.0, take_profit=0.02)
        assert outcome(r) == (1, 3, TL)

    def test_market_fill_bar_range_is_not_checked(self, impl):
        # filled at the close of row 0: row 0's low 90 came before the fill
        b = bars([100, 100.5], lows=[90, None])
        r = touch(impl, b, open_is_limit=0, stop_loss=0.02)
        assert outcome(r) == (0, 1, TL)

    # exact boundaries (fill 64, binary-fraction barriers: prices are exact) ------------------

    def test_stop_loss_reached_exactly(self, impl):
        # SL price 64 * 0.875 = 56; row 1 low exactly 56 -> STOP_LOSS at 56
        r = touch(impl, bars([64, 60], lows=[None, 56]), open_is_limit=0, stop_loss=0.125)
        assert outcome(r) == (0, 1, SL)
        assert r["exit_price"] == 56.0

    def test_take_profit_reached_exactly(self, impl):
        # TP price 64 * 1.125 = 72; row 1 high exactly 72 -> TAKE_PROFIT at 72
        r = touch(impl, bars([64, 70], highs=[None, 72]), open_is_limit=0, take_profit=0.125)
        assert outcome(r) == (0, 1, TP)
        assert r["exit_price"] == 72.0

    def test_trailing_stop_reached_exactly(self, impl):
        # activation 0.125, delta 0.125. row 1 high 80: best 0.25, active from row 2.
        # row 2: trail 64 * (1 + 0.25 - 0.125) = 72; opens 76, low exactly 72 -> TS at 72
        b = bars([64, 78, 74], opens=[64, 64, 76], highs=[None, 80, 76], lows=[None, None, 72])
        r = touch(impl, b, open_is_limit=0, trail_activation=0.125, trail_delta=0.125)
        assert outcome(r) == (0, 2, TS)
        assert r["exit_price"] == 72.0

    def test_trailing_activation_at_exactly_the_threshold(self, impl):
        # NOT in the docstring, pinned as implemented: the touch model activates when the best
        # favourable return *reaches* the activation (>=), where the hummingbot model needs it
        # to exceed it. activation 0.25: row 1 high 80 -> best exactly 0.25 -> active; row 2
        # low 70 <= trail 72 -> TRAILING_STOP at 72.
        b = bars([64, 78, 74], opens=[64, 64, 76], highs=[None, 80, 76], lows=[None, None, 70])
        r = touch(impl, b, open_is_limit=0, trail_activation=0.25, trail_delta=0.125)
        assert outcome(r) == (0, 2, TS)
        assert r["exit_price"] == 72.0


# =============================================================================================
# market_making_nb scheduling


def mm(impl, b, levels, *, ref_price=None, mult=None, start_row=0, **kw) -> list[dict]:
    ref_price = b.c if ref_price is None else np.asarray(ref_price, dtype=float)
    mult = np.ones(b.n) if mult is None else np.asarray(mult, dtype=float)
    out = impl.market_making(b, start_row, ref_price, mult, levels, params(**kw))
    for r in out:
        assert_identities(r, kw.get("fee", 0.0), int(kw.get("fill_model", HUMMINGBOT)))
    return out


def col(records: list[dict], name: str) -> list:
    return [r[name] for r in records]


NAN = math.nan
BUY_1PCT = (BUY, 0.01, NAN, 1.0)  # buy 1 base at ref * 0.99


class TestMarketMaking:
    def test_refresh(self, impl):
        # flat closes at 100: the buy at 99 never fills. refresh 120 s, 10 rows.
        # A at row 0: stop row 3 (180 s > 120) < window end 9 -> EARLY_STOP 3; free on row 4.
        # B at row 4: stop row 7 -> EARLY_STOP 7; free on row 8.
        # C at row 8: no row more than 120 s later -> TIME_LIMIT at 9; free on row 9.
        # D at row 9 (last row): TIME_LIMIT at once.
        out = mm(impl, bars([100.0] * 10), [BUY_1PCT], refresh_s=120)
        assert col(out, "created_row") == [0, 4, 8, 9]
        assert col(out, "close_row") == [3, 7, 9, 9]
        assert col(out, "close_type") == [ES, ES, TL, TL]
        assert col(out, "fill_row") == [-1, -1, -1, -1]
        assert col(out, "entry_price") == [99.0] * 4

    def test_filled_executor_frees_level_on_close_row(self, impl):
        # A at 0, entry 99: filled row 1 at 98; pnl row 3 104/98-1 = .061 > .05 -> TP row 3.
        # B at row 3 (same row; the cooldown is for stop losses only): entry 104*0.99 = 102.96,
        # filled row 4 at 100, TIME_LIMIT on the last row 5. C at row 5: unfilled, TIME_LIMIT.
        b = bars([100, 98, 100, 104, 100, 100])
        out = mm(impl, b, [BUY_1PCT], take_profit=0.05, cooldown_s=600)
        assert col(out, "created_row") == [0, 3, 5]
        assert col(out, "fill_row") == [1, 4, -1]
        assert col(out, "close_row") == [3, 5, 5]
        assert col(out, "close_type") == [TP, TL, TL]
        assert out[1]["entry_price"] == approx(104 * 0.99)

    @pytest.mark.parametrize(
        ("cooldown", "next_row"),
        [(NAN, 2), (0, 2), (60, 3), (120, 4), (150, 5), (180, 5), (181, 6)],
    )
    def test_cooldown_after_stop_loss(self, impl, cooldown, next_row):
        # A at 0, entry 99: filled row 1 at 99; SL price 97.02; row 2 low 96 -> STOP_LOSS row 2.
        # The next executor: first row with ts - ts[2] >= cooldown (none: row 2 itself).
        b = bars([100, 99, 96, 97, 98, 99, 100, 100])
        out = mm(impl, b, [BUY_1PCT], stop_loss=0.02, cooldown_s=cooldown)
        assert outcome(out[0]) == (1, 2, SL)
        assert out[1]["created_row"] == next_row

    def test_nan_reference_price_skips_rows(self, impl):
        # rows 0-1 have no reference price -> first executor on row 2 (TIME_LIMIT at 4), then 4
        out = mm(impl, bars([100.0] * 5), [BUY_1PCT], ref_price=[NAN, NAN, 100, 100, 100])
        assert col(out, "created_row") == [2, 4]

    def test_nan_multiplier_skips_rows(self, impl):
        out = mm(impl, bars([100.0] * 3), [BUY_1PCT], mult=[NAN, 1, 1])
        assert col(out, "created_row") == [1, 2]

    def test_nan_after_early_stop(self, impl):
        # refresh 0: A at 0 stops at row 1 (EARLY_STOP), free on row 2, but row 2 has no
        # reference price -> B at 3 (stops at 4), C at 5 (last row: TIME_LIMIT).
        b = bars([100.0] * 6)
        out = mm(impl, b, [BUY_1PCT], ref_price=[100, 100, NAN, 100, 100, 100], refresh_s=0)
        assert col(out, "created_row") == [0, 3, 5]
        assert col(out, "close_type") == [ES, ES, TL]

    @pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH])
    @pytest.mark.parametrize(("spread", "fill_row"), [(0.01, -1), (0.0, 4)])
    def test_last_row_gets_an_executor_closing_at_once(self, impl, model, spread, fill_row):
        # start on the last row: one executor, created and closed there as TIME_LIMIT; at
        # spread 0 the entry equals the close, so it fills (pnl = -fees).
        b = bars([100.0] * 5)
        out = mm(impl, b, [(BUY, spread, NAN, 1.0)], start_row=4, fill_model=model, fee=0.001)
        assert len(out) == 1
        assert (out[0]["created_row"], *outcome(out[0])) == (4, fill_row, 4, TL)

    def test_start_past_the_end(self, impl):
        out = mm(impl, bars([100.0] * 3), [BUY_1PCT], start_row=3)
        assert out == []

    def test_levels_are_independent(self, impl):
        # buy 1% with 99 quote -> 1 base at 99; sell 2% with 102 quote -> 1 base at 102.
        # Flat closes, 3 rows: each level gets row 0 (TIME_LIMIT at 2) and row 2.
        b = bars([100.0] * 3)
        out = mm(impl, b, [(BUY, 0.01, 99.0, NAN), (SELL, 0.02, 102.0, NAN)])
        out.sort(key=lambda r: (r["level"], r["created_row"]))
        assert col(out, "level") == [0, 0, 1, 1]
        assert col(out, "side") == [1, 1, 2, 2]
        assert col(out, "created_row") == [0, 2, 0, 2]
        assert col(out, "entry_price") == [99.0, 99.0, 102.0, 102.0]
        assert col(out, "amount_base") == [approx(1.0)] * 4

    def test_spread_multiplier(self, impl):
        # multiplier 2 doubles the spread: 100 * (1 - 0.01 * 2) = 98
        out = mm(impl, bars([100.0] * 2), [BUY_1PCT], mult=[2, 2])
        assert out[0]["entry_price"] == approx(98.0)

    def test_negative_price_skips_row(self, impl):
        # spread 0.6 * multiplier 2 -> price 100 * (1 - 1.2) < 0 -> no executor on row 0
        out = mm(impl, bars([100.0] * 2), [(BUY, 0.6, 10.0, NAN)], mult=[2, 1])
        assert col(out, "created_row") == [1]

    @pytest.mark.parametrize(
        ("ref_price", "mult", "level"),
        [
            ([100, 100], [2, 1], (BUY, 0.5, 10.0, NAN)),  # 100 * (1 - 0.5 * 2) = 0
            ([0, 100], [1, 1], (BUY, 0.5, 10.0, NAN)),  # reference price 0
            ([100, 100], [2, 1], (BUY, 0.5, NAN, 1.0)),  # fixed base amount
        ],
        ids=["spread", "ref", "base-amount"],
    )
    def test_zero_price_skips_row(self, impl, ref_price, mult, level):
        # a zero price gets no executor (and must not raise: amount_quote / price). Found as a
        # ZeroDivisionError in the kernel while writing these tests; fixed upstream since.
        out = mm(impl, bars([100.0] * 2), [level], ref_price=ref_price, mult=mult)
        assert col(out, "created_row") == [1]

    def test_kernel_matrix_shape(self):
        from hbbacktest.engine import nb

        b = bars([100.0] * 3)
        p = params()
        matrix = nb.market_making_nb(
            b.ts,
            *b.ohlc(),
            0,
            b.c,
            np.ones(3),
            np.array([BUY]),
            np.array([0.01]),
            np.array([NAN]),
            np.array([1.0]),
            np.array([NAN]),
            np.empty(0),
            np.empty(0),
            p,
        )
        assert matrix.shape == (2, N_FIELDS)
        empty = nb.market_making_nb(
            b.ts,
            *b.ohlc(),
            3,
            b.c,
            np.ones(3),
            np.array([BUY]),
            np.array([0.01]),
            np.array([NAN]),
            np.array([1.0]),
            np.array([NAN]),
            np.empty(0),
            np.empty(0),
            p,
        )
        assert empty.shape == (0, N_FIELDS)

    def test_many_executors_grow_the_output(self, impl):
        # refresh 0 on 200 flat rows: an executor every other row (stopped on the next row, free
        # one later); the one created on row 198 runs into the end (TIME_LIMIT 199), then row
        # 199 gets one -> 101 records, more than the initial 64-row buffer.
        out = mm(impl, bars([100.0] * 200), [BUY_1PCT], refresh_s=0)
        assert col(out, "created_row") == [*range(0, 200, 2), 199]
