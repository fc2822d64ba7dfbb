"""The grid kernels (``hbbacktest.engine.grid_nb``): hand-worked cases, fixed upstream defects,
and parity with the slow reference (``reference_grid.py``).

Every executor case runs against the kernel and the reference. Bars are 1m (ts = T0 + 60 *
row); open = previous close, high = max(open, close), low = min(open, close) unless a case
says otherwise (``tests/kit/bars.py``). The standard grid is upstream's worked example: start
90, end 110, total 100 quote, min spread 0.05, mid 100 → levels L0..L3 at 90, 96.67, 103.33,
110 with 25 quote each.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.grid_nb import grid_executor_nb, grid_levels_nb, grid_strike_nb
from hbbacktest.engine.records import P_FEE
from tests.kit.bars import HUMMINGBOT, T0, TOUCH, Bars, bars, matrix_dicts, new_rec, params
from tests.kit.bars import params_dict as to_dict

from . import reference_grid as ref
from .impls import diff_records

BUY = int(TradeType.BUY)
SELL = int(TradeType.SELL)
TL = int(CloseType.TIME_LIMIT)
SL = int(CloseType.STOP_LOSS)
TP = int(CloseType.TAKE_PROFIT)
ES = int(CloseType.EARLY_STOP)
HOLD = int(CloseType.POSITION_HOLD)
NAN = math.nan

P0, P1, P2, P3 = 90.0, 90.0 + 20.0 / 3, 90.0 + 40.0 / 3, 110.0
Q = 25.0


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# the kernel and the reference behind one calling convention


class Kernel:
    name = "kernel"

    @staticmethod
    def executor(
        b: Bars,
        k: int,
        stop_row: int,
        side: int,
        start: float,
        end: float,
        limit: float,
        prices: Sequence[float],
        amounts: Sequence[float],
        take_profit: float,
        keep: bool,
        p: np.ndarray,
    ) -> dict:
        rec = new_rec()
        grid_executor_nb(
            b.ts,
            *b.ohlc(),
            k,
            stop_row,
            float(side),
            float(start),
            float(end),
            float(limit),
            np.asarray(prices, dtype=np.float64),
            np.asarray(amounts, dtype=np.float64),
            float(take_profit),
            bool(keep),
            p,
            rec,
        )
        records = matrix_dicts(rec.reshape(1, -1))
        d = records[0]
        assert math.isnan(d.pop("level")), "the caller writes LEVEL"
        return d

    @staticmethod
    def strike(b: Bars, start_row: int, side: int, *grid: float, keep: bool, p: np.ndarray):
        start, end, limit, total, spread, min_amount, take_profit = (float(x) for x in grid)
        matrix = grid_strike_nb(
            b.ts,
            *b.ohlc(),
            start_row,
            float(side),
            start,
            end,
            limit,
            total,
            spread,
            min_amount,
            take_profit,
            bool(keep),
            p,
        )
        return matrix_dicts(matrix)


class Reference:
    name = "reference"

    @staticmethod
    def executor(b: Bars, k: int, stop_row: int, side: int, *rest, p: np.ndarray) -> dict:
        lists = [a.tolist() for a in b]
        start, end, limit, prices, amounts, take_profit, keep = rest
        return ref.grid_executor(
            *lists,
            k,
            stop_row,
            side,
            start,
            end,
            limit,
            list(prices),
            list(amounts),
            take_profit,
            keep,
            to_dict(p),
        )

    @staticmethod
    def strike(b: Bars, start_row: int, side: int, *grid: float, keep: bool, p: np.ndarray):
        lists = [a.tolist() for a in b]
        return ref.grid_strike(*lists, start_row, side, *grid, keep, to_dict(p))


@pytest.fixture(params=(Kernel, Reference), ids=lambda i: i.name)
def impl(request: pytest.FixtureRequest) -> object:
    return request.param


def check_identities(r: dict, fee: float) -> None:
    """What every grid record satisfies, whatever happened."""
    assert r["kind"] == 2
    # every fee is charged on a traded notional: fees = fee x volume, in both fill models
    assert r["cum_fees_quote"] == pytest.approx(fee * r["filled_amount_quote"], abs=1e-12)
    assert r["created_row"] <= r["close_row"]
    if r["fill_row"] < 0:
        assert r["net_pnl_quote"] == r["cum_fees_quote"] == r["filled_amount_quote"] == 0.0
        assert r["net_pnl_pct"] == 0.0 and math.isnan(r["fill_price"])
    else:
        assert r["created_row"] <= r["fill_row"] <= r["close_row"]
    if r["close_type"] == HOLD:
        assert r["hold_base"] > 0 and r["hold_price"] == r["fill_price"]
    else:
        assert r["hold_base"] == 0.0 and math.isnan(r["hold_price"])


def run(
    impl,
    b: Bars,
    *,
    k: int = 0,
    stop_row: int | None = None,
    side: int = BUY,
    start: float = 90.0,
    end: float = 110.0,
    limit: float = NAN,
    levels: tuple[Sequence[float], Sequence[float]] | None = None,
    take_profit: float = 0.01,
    keep: bool = False,
    **kw: float,
) -> dict:
    """One grid created at row ``k`` (default: the standard grid); never stopped by default."""
    p = params(**kw)
    if levels is None:
        levels = ([P0, P1, P2, P3], [Q] * 4)
    prices, amounts = levels
    stop = b.n if stop_row is None else stop_row
    r = impl.executor(b, k, stop, side, start, end, limit, prices, amounts, take_profit, keep, p=p)
    assert r["side"] == side and r["created_row"] == k
    assert r["entry_price"] == b.c[k] and r["exit_price"] == b.c[r["close_row"]]
    assert r["amount_base"] == approx(sum(amounts) / b.c[k])
    check_identities(r, kw.get("fee", 0.0))
    return r


# ---------------------------------------------------------------------------------------------
# level generation


def levels(*args: float) -> tuple[list[float], list[float]]:
    prices, amounts = grid_levels_nb(*(float(a) for a in args))
    return prices.tolist(), amounts.tolist()


def test_upstream_worked_example_levels() -> None:
    # min notional max(5, 5) * 1.05 = 5.25 quote -> int(100 / 5.25) = 19 levels affordable;
    # range (110 - 90) / 90 = 0.2222, / 0.05 = 4.44 -> 4 levels by step; n = 4, 100 / 4 = 25
    prices, amounts = levels(90, 110, 100, 0.05, 5, 100)
    assert prices == pytest.approx([90.0, 96.6666666667, 103.3333333333, 110.0])
    assert amounts == [25.0] * 4


def test_min_order_amount_above_5_raises_the_minimum_notional() -> None:
    # min notional 20 * 1.05 = 21 -> int(100 / 21) = 4 affordable; step allows 4 -> 4 x 25
    assert levels(90, 110, 100, 0.01, 20, 100)[1] == [25.0] * 4
    # min notional 30 * 1.05 = 31.5 -> 3 affordable -> 3 levels of 33.33 at 90, 100, 110
    prices, amounts = levels(90, 110, 100, 0.01, 30, 100)
    assert prices == pytest.approx([90.0, 100.0, 110.0])
    assert amounts == pytest.approx([100 / 3] * 3)


def test_total_below_one_minimum_level_gives_one_minimum_level_at_the_middle() -> None:
    # int(3 / 5.25) = 0 affordable -> one level of 5.25 quote at (90 + 110) / 2
    assert levels(90, 110, 3, 0.05, 5, 100) == ([100.0], [5.25])


def test_range_narrower_than_min_spread_gives_one_level_instead_of_division_by_zero() -> None:
    # range 0.01 / 100 = 0.0001 < 0.05 -> 0 levels by step; upstream divides 100 by 0 levels
    assert levels(100, 100.01, 100, 0.05, 5, 100) == ([100.005], [100.0])


def test_decimal_whole_step_ratio_is_not_floored_one_short() -> None:
    # range 0.3 / 0.1 is 3 in decimal (as upstream computes it), 2.9999999999999996 in floats
    assert levels(100, 130, 100, 0.1, 5, 100)[0] == pytest.approx([100.0, 115.0, 130.0])


def test_level_count_is_cut_in_floats_as_upstream() -> None:
    # range 1.0 / 0.09 -> 11 levels of 100 / 11 quote; upstream then takes
    # int(float(100) / float(100 / 11)) = int(10.999999999999998) = 10 levels of 9.09
    prices, amounts = levels(100, 200, 100, 0.09, 5, 100)
    assert len(prices) == 10 and amounts == pytest.approx([100 / 11] * 10)
    assert prices[0] == 100.0 and prices[-1] == 200.0


def test_zero_min_spread_means_no_step_limit() -> None:
    # 100 / 5.25 = 19 affordable, no step limit -> 19 levels of 100 / 19
    prices, amounts = levels(90, 110, 100, 0.0, 5, 100)
    assert len(prices) == 19 and amounts == pytest.approx([100 / 19] * 19)


@pytest.mark.parametrize(
    "args",
    [(0, 110, 100, 0.05, 5, 100), (90, 110, 100, 0.05, 5, 0), (90, 110, 100, 0.05, 5, NAN)],
)
def test_non_positive_prices_give_no_levels_instead_of_division_by_zero(args) -> None:
    assert levels(*args) == ([], [])


# ---------------------------------------------------------------------------------------------
# executor: hand-worked walks


def test_hummingbot_walk_take_profits_reentry_and_global_take_profit(impl) -> None:
    # row 0, c=100: L2 and L3 sit above the market -> fill at 100 (0.25 base each)
    # row 1, l=97: nothing (L1 96.67 below the low)
    # row 2, l=95: L1 fills at 96.67 (25/96.67 base); its TP is 96.67 * 1.01 = 97.63
    # row 3, h=99: L1 takes profit: 0.01 * 25 - 2 * 0.001 * 25 = 0.2; the same bar's low 95
    #        re-enters L1 at 96.67 (upstream lets a level re-enter on its TP bar)
    # row 4, h=104: L1 takes profit again (+0.2); L2's TP 103.33 * 1.01 = 104.37 not reached
    # row 5, c=111 > 110: global take profit; first L2's TP is reached (h=111):
    #        (104.3667 - 100) * 0.25 - 0.05 = 1.041667; L3 stays open, closed at 111:
    #        (111 - 100) * 0.25 - 0.05 = 2.7
    b = bars([100, 97, 95, 99, 104, 111])
    r = run(impl, b, fee=0.001)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (0, 5, TP)
    assert r["net_pnl_quote"] == approx(0.2 + 0.2 + (P2 * 1.01 - 100) * 0.25 - 0.05 + 2.7)
    assert r["net_pnl_quote"] == approx(4.141666666666667)
    # four entries of 25 (L1 twice, L2, L3), each traded both ways
    assert r["filled_amount_quote"] == approx(200.0)
    assert r["cum_fees_quote"] == approx(0.2)
    assert r["net_pnl_pct"] == approx(4.141666666666667 / 100)
    assert r["fill_price"] == 100.0  # L3, still open at the close


def test_touch_walk_no_reentry_on_the_take_profit_bar_and_fees_on_notionals(impl) -> None:
    # same bars; touch differs on row 3: L1 takes profit (h=99 >= 97.63) but does not re-enter
    # (the low 95 may have come before the high), and fees are on the actual notionals:
    #   L1 trip: 0.25 - 0.001 * (25 + 25.25) = 0.19975 (exit notional 25 * 1.01)
    #   L2 trip on row 5: 1.0916667 - 0.001 * (25 + 0.25 * 104.36667) = 1.0405750
    #   L3 closed at 111: 2.75 - 0.001 * (25 + 27.75) = 2.69725
    b = bars([100, 97, 95, 99, 104, 111])
    r = run(impl, b, fee=0.001, fill_model=TOUCH)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (0, 5, TP)
    l2_exit = 0.25 * P2 * 1.01
    expected = 0.19975 + (l2_exit - 25 - 0.001 * (25 + l2_exit)) + 2.69725
    assert r["net_pnl_quote"] == approx(expected)
    assert r["net_pnl_quote"] == approx(3.937575)
    assert r["filled_amount_quote"] == approx(50.25 + 25 + l2_exit + 52.75)
    assert r["net_pnl_pct"] == approx(expected / 75)  # three entries of 25


def test_touch_level_reenters_on_its_take_profit_bar_when_the_close_is_below_it(impl) -> None:
    # touch: row 1 (l=96) fills L1 at 96.67; row 2 reaches its TP 97.63 (h=98) and closes at 96,
    # below L1: the close comes after the TP, so the re-placed L1 filled at 96.67 on row 2.
    # The window ends on row 2 (TIME_LIMIT): L1 (96.67) and L2, L3 (100) marked at 96.
    b = bars([100, 96, 96], highs=[None, None, 98])
    r = run(impl, b, fill_model=TOUCH)
    assert (r["close_row"], r["close_type"]) == (2, TL)
    l1_base = Q / P1
    assert r["net_pnl_quote"] == approx(0.25 + (96 - P1) * l1_base + 2 * (96 - 100) * 0.25)
    assert r["filled_amount_quote"] == approx(25 + 25.25 + 25 + l1_base * 96 + 2 * (25 + 24))
    # hummingbot: the same bar's low (96) re-enters L1 too, so the numbers agree here
    assert run(impl, b)["net_pnl_quote"] == approx(r["net_pnl_quote"])


def test_sell_grid_walk(impl) -> None:
    # SELL: levels at or below the market sell at it; TP = P * (1 - 0.01)
    # row 0, c=100: L0 (90) and L1 (96.67) sell at 100, 0.25 base each
    # row 1, h=104: L2 (103.33) sells at 103.33; L3 (110) not reached
    # row 2, l=95: L1's TP 95.70 -> +(100 - 95.70) * 0.25 = 1.075; L2's TP 102.30 -> +0.25;
    #        L0's TP 89.1 not reached; the high 104 re-enters L1 at 96.67 and L2 at 103.33
    # row 3, c=89 < 90: global take profit; l=89 reaches L0's TP 89.1 (+2.725) and the TPs of
    #        L1 and L2 again (+0.25 each); nothing stays open
    b = bars([100, 104, 95, 89])
    r = run(impl, b, side=SELL)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (0, 3, TP)
    assert r["net_pnl_quote"] == approx(1.075 + 0.25 + 2.725 + 0.25 + 0.25)
    assert r["filled_amount_quote"] == approx(5 * 50.0)
    assert math.isnan(r["fill_price"])  # nothing open at the close


def test_early_stop_marks_open_levels_at_the_stop_row_close(impl) -> None:
    # L2, L3 fill at 100 on row 0; nothing else fills; the controller stops the grid on row 2:
    # 2 * (97 - 100) * 0.25 = -1.5
    b = bars([100, 98, 97, 105])
    r = run(impl, b, stop_row=2)
    assert (r["close_row"], r["close_type"]) == (2, ES)
    assert r["net_pnl_quote"] == approx(-1.5)
    assert r["filled_amount_quote"] == approx(100.0)


@pytest.mark.parametrize("stop_row", [2, 3, 4])
def test_time_limit_from_creation_wins_over_a_later_or_same_row_stop(impl, stop_row) -> None:
    # time limit 120 s from row 0 -> the window ends on row 2; a stop on row 2 or later comes
    # too late (the executor's own close on its last row wins)
    b = bars([100, 98, 97, 105])
    r = run(impl, b, stop_row=stop_row, time_limit_s=120)
    assert (r["close_row"], r["close_type"]) == (2, TL)
    assert r["net_pnl_quote"] == approx(-1.5)


def test_limit_price_without_keep_position_is_a_stop_loss(impl) -> None:
    # rows: L2, L3 at 100; row 1 (l=96) fills L1 at 96.67; row 2 closes at 88 <= 89: STOP_LOSS,
    # everything closed at 88 (hummingbot: no entries on that bar, so L0 at 90 stays unfilled)
    b = bars([100, 96, 88])
    r = run(impl, b, limit=89)
    assert (r["close_row"], r["close_type"]) == (2, SL)
    assert r["net_pnl_quote"] == approx((88 - P1) * Q / P1 + 2 * (88 - 100) * 0.25)


def test_touch_fills_levels_the_market_went_through_on_the_bar_that_ends_the_grid(impl) -> None:
    # touch: the low 88 of row 2 went through L0 (90) before the close crossed the limit
    b = bars([100, 96, 88])
    r = run(impl, b, limit=89, fill_model=TOUCH)
    assert (r["close_row"], r["close_type"]) == (2, SL)
    expected = (88 - 90) * Q / 90 + (88 - P1) * Q / P1 + 2 * (88 - 100) * 0.25
    assert r["net_pnl_quote"] == approx(expected)


def test_touch_skips_level_take_profits_on_the_bar_the_limit_price_ends(impl) -> None:
    # row 1 fills L1 (l=96); row 2 wicks to 98 (L1's TP 97.63) but closes at 88 <= limit 89.
    # hummingbot (upstream) books L1's TP first; touch assumes the drop came first.
    b = bars([100, 96, 88], highs=[None, None, 98])
    hb = run(impl, b, limit=89)
    touch = run(impl, b, limit=89, fill_model=TOUCH)
    assert hb["net_pnl_quote"] == approx(0.25 + 2 * (88 - 100) * 0.25)
    l0, l1 = (88 - 90) * Q / 90, (88 - P1) * Q / P1
    assert touch["net_pnl_quote"] == approx(l0 + l1 + 2 * (88 - 100) * 0.25)


def test_global_stop_loss_on_aggregate_pnl(impl) -> None:
    # L2, L3 at 100 (50 quote); row 1 closes at 97: -1.5 / 50 = -0.030 > -0.04;
    # row 2 closes at 96: L1 fills too (l=96): (-2.0 - 0.1724) / 75 = -0.0290;
    # row 3 closes at 95: (-2.5 - 0.4310) / 75 = -0.0391;
    # row 4 closes at 94: (-3.0 - 0.6897) / 75 = -0.0492 <= -0.04 -> STOP_LOSS
    b = bars([100, 97, 96, 95, 94, 93])
    r = run(impl, b, stop_loss=0.04)
    assert (r["close_row"], r["close_type"]) == (4, SL)
    assert r["net_pnl_quote"] == approx(2 * (94 - 100) * 0.25 + (94 - P1) * Q / P1)


def test_global_stop_loss_overrides_the_limit_price_on_the_same_bar(impl) -> None:
    # row 2 closes at 88 <= limit 89 with keep_position, but the book (L1 at 96.67, L2 and L3
    # at 100, all at 88) is at -8.24 / 75 = -0.11 <= -0.06: STOP_LOSS, nothing held
    b = bars([100, 96, 88])
    r = run(impl, b, limit=89, keep=True, stop_loss=0.06)
    assert (r["close_row"], r["close_type"]) == (2, SL)
    assert r["hold_base"] == 0.0


def test_global_stop_loss_overrides_a_same_bar_take_profit(impl) -> None:
    # one level at 100 (start 99, end 101, total 5 -> one level of 5.25 at the middle); created
    # at 100.5, above it, so it rests. Row 1 wicks to 99.9 and closes at 101.1 > 101 (global
    # TP). touch: the level filled at 100 on the way, and with fee 1 % per side the book is
    # 0.011 - 0.02 = -0.009 of its volume <= -0.005: STOP_LOSS (upstream's simulator and the
    # live executor check the stop loss first). hummingbot fills nothing on a take-profit bar.
    # (In that model the book never is at its worst on a take-profit bar, so the override shows
    # with the limit price only, above.)
    one = levels(99, 101, 5, 0.05, 5, 100)
    b = bars([100.5, 101.1], lows=[None, 99.9])
    grid = {"start": 99, "end": 101, "levels": one, "take_profit": 0.02, "fee": 0.01}
    r = run(impl, b, **grid, stop_loss=0.005, fill_model=TOUCH)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (1, 1, SL)
    assert r["net_pnl_pct"] == approx(0.011 - 0.01 * (1 + 1.011))
    r = run(impl, b, **grid, fill_model=TOUCH)
    assert (r["close_row"], r["close_type"]) == (1, TP)
    r = run(impl, b, **grid, stop_loss=0.005)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 1, TP)


# ---------------------------------------------------------------------------------------------
# executor: the fixed upstream defects


def test_buy_level_above_the_market_fills_at_the_market_not_at_its_price(impl) -> None:
    # created at c=100: L2 (103.33) and L3 (110) are bids above the market; upstream fills them
    # at 103.33 and 110 (an instant -3.08 mark). They fill at 100. One-row window: TIME_LIMIT.
    b = bars([100])
    for model in (HUMMINGBOT, TOUCH):
        r = run(impl, b, fill_model=model)
        assert (r["fill_row"], r["close_row"], r["close_type"]) == (0, 0, TL)
        assert r["fill_price"] == 100.0
        assert r["net_pnl_quote"] == 0.0
        assert r["filled_amount_quote"] == approx(100.0)  # two levels, both ways


def test_sell_level_below_the_market_fills_at_the_market_not_at_its_price(impl) -> None:
    b = bars([100])
    r = run(impl, b, side=SELL)
    assert r["fill_price"] == 100.0 and r["net_pnl_quote"] == 0.0
    assert r["filled_amount_quote"] == approx(100.0)  # L0 and L1


def test_marketable_level_keeps_its_take_profit_price_from_the_level(impl) -> None:
    # L2 filled at 100 keeps its TP at 103.33 * 1.01 = 104.37 (the live executor prices the
    # close order from the level): a high of 104 does not take profit, 104.4 does
    b = bars([100, 104, 104.4])
    r = run(impl, b, levels=([P2], [Q]))
    assert r["net_pnl_quote"] == approx((P2 * 1.01 - 100) * 0.25)
    assert math.isnan(r["fill_price"])  # closed by its TP on row 2


def test_creation_bar_low_does_not_fill_levels_before_the_executor_exists(impl) -> None:
    # row 0 opens at 97, wicks to 95, closes at 100; the grid is created at that close, so
    # L1 (96.67) must not fill on row 0 (upstream fills it from the wick)
    b = bars([100, 100], lows=[95, None], opens=[97, None])
    r = run(impl, b)
    assert r["filled_amount_quote"] == approx(100.0)  # L2 and L3 only
    assert r["fill_price"] == 100.0


def test_position_hold_reports_open_inventory_not_doubled_volume(impl) -> None:
    # row 0: L2, L3 at 100. row 1 (l=96): L1 at 96.67. row 2 (h=98): L1's TP 97.63:
    # +0.25 - 2 * 0.001 * 25 = +0.2; the low 96 re-enters it. row 3 (h=97): nothing.
    # row 4 closes at 88 <= 89: POSITION_HOLD of L1 (25/96.67 base) and L2, L3 (0.25 each).
    # Upstream: filled = 2 x 25 (the round trip, doubled) -> a hold of 50 / 98.86 = 0.506 base.
    b = bars([100, 96, 97, 92, 88], highs=[None, None, 98, None, None])
    r = run(impl, b, limit=89, keep=True, fee=0.001)
    assert (r["close_row"], r["close_type"]) == (4, HOLD)
    held_base = 0.5 + Q / P1
    assert r["hold_base"] == approx(held_base)
    assert r["hold_price"] == approx(75 / held_base)  # cost basis 98.8636
    assert r["hold_price"] == approx(98.86363636363636)
    # the held levels are marked at 88 (as every record marks what is open at its exit price)
    # and pay their entry fee only; the realized part is the round trip minus all fees paid
    marked = (88 - P1) * Q / P1 + 2 * (88 - 100) * 0.25
    assert r["net_pnl_quote"] == approx(0.2 + marked - 0.075)
    realized = r["net_pnl_quote"] - (r["exit_price"] - r["hold_price"]) * r["hold_base"]
    assert realized == approx(0.2 - 0.075)
    assert r["cum_fees_quote"] == approx(0.05 + 0.075)
    assert r["filled_amount_quote"] == approx(50 + 75)  # the trip both ways, held entries once
    assert r["net_pnl_pct"] == approx((0.2 + marked - 0.075) / 100)


def test_position_hold_with_nothing_open_is_an_early_stop(impl) -> None:
    # one level of 5.25 at 100 (start 90, end 110, total 5); created at 105, above it. Row 1
    # crashes to 80 <= limit 85: hummingbot fills nothing on that bar -> nothing to hold ->
    # EARLY_STOP, as the live executor reports it. touch went through 100 -> holds it.
    one = levels(90, 110, 5, 0.05, 5, 100)
    b = bars([105, 80])
    r = run(impl, b, limit=85, keep=True, levels=one)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 1, ES)
    r = run(impl, b, limit=85, keep=True, levels=one, fill_model=TOUCH)
    assert (r["fill_row"], r["close_type"]) == (1, HOLD)
    assert r["hold_base"] == approx(5.25 / 100) and r["hold_price"] == 100.0
    assert r["net_pnl_quote"] == approx((80 - 100) * 5.25 / 100)  # marked at 80, no fee


def test_no_division_by_zero_with_zero_prices_amounts_or_no_levels(impl) -> None:
    b = bars([100, 90, 80])
    r = run(impl, b, levels=([0.0, 100.0], [Q, 0.0]), stop_loss=0.01)
    assert r["fill_row"] == -1 and r["net_pnl_quote"] == 0.0
    r = run(impl, b, levels=([], []), stop_loss=0.01)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 2, TL)
    assert r["amount_base"] == 0.0


# ---------------------------------------------------------------------------------------------
# grid_strike loop


def strike(impl, b: Bars, *, start_row: int = 0, side: int = BUY, limit: float = NAN, **kw):
    p = params(**kw)
    grid = (90.0, 110.0, limit, 100.0, 0.05, 5.0, 0.01)
    out = impl.strike(b, start_row, side, *grid, keep=False, p=p)
    for r in out:
        assert r["level"] == 0
        check_identities(r, kw.get("fee", 0.0))
    return out


def test_grid_strike_restarts_when_the_price_is_back_in_range(impl) -> None:
    # grid 1 at row 0, global TP on row 1 (111 > 110); rows 1, 2 out of range; grid 2 at row 3
    # (105), open until the end of data (row 4, TIME_LIMIT); that frees row 4, where grid 3
    # starts and ends at once (as market_making_nb reports levels free on the last row)
    out = strike(impl, bars([100, 111, 112, 105, 100]))
    assert [(r["created_row"], r["close_row"], r["close_type"]) for r in out] == [
        (0, 1, TP),
        (3, 4, TL),
        (4, 4, TL),
    ]


def test_grid_strike_next_grid_starts_on_the_close_row_of_the_previous(impl) -> None:
    # time limit 60 s: each grid ends on the row after its creation, the next starts there;
    # the last one, created on the last row, ends there
    out = strike(impl, bars([100, 101, 102, 103]), time_limit_s=60)
    assert [(r["created_row"], r["close_row"]) for r in out] == [(0, 1), (1, 2), (2, 3), (3, 3)]


def test_grid_strike_waits_for_start_row_and_the_range(impl) -> None:
    out = strike(impl, bars([100, 100, 120, 95]), start_row=2)
    assert [(r["created_row"], r["close_row"]) for r in out] == [(3, 3)]
    assert strike(impl, bars([80, 120])) == []


def test_grid_strike_levels_use_the_close_as_mid(impl) -> None:
    # created at 105: L3 (110) fills at 105, then the book is marked at 104 on the last row
    out = strike(impl, bars([105, 104]))
    assert [r["created_row"] for r in out] == [0, 1]
    assert out[0]["fill_price"] == 105.0 and out[0]["net_pnl_quote"] == approx(-25 / 105)


# ---------------------------------------------------------------------------------------------
# parity with the reference

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def grid_bars(draw: st.DrawFn) -> Bars:
    n = draw(st.integers(1, 12))
    gaps = draw(st.lists(st.sampled_from([60, 60, 60, 120, 300]), min_size=n, max_size=n))
    ts = [T0]
    for gap in gaps[1:]:
        ts.append(ts[-1] + gap)
    mode = draw(st.sampled_from(["walk", "walk", "grid", "float"]))
    if mode == "float":
        price = st.floats(86.0, 114.0, allow_nan=False, allow_infinity=False)
        wick = st.floats(0.0, 4.0, allow_nan=False, allow_infinity=False)
    else:  # a 0.5 grid: closes and wicks land exactly on levels, TPs and limits
        price = st.integers(172, 228).map(lambda i: i / 2)
        wick = st.integers(0, 8).map(lambda i: i / 2)
    if mode == "walk":  # a random walk from 100: stays inside the grid's range for a while
        steps = draw(st.lists(st.integers(-8, 8), min_size=n, max_size=n))
        closes = [100.0 + sum(steps[: i + 1]) / 2 for i in range(n)]
    else:
        closes = draw(st.lists(price, min_size=n, max_size=n))
    opens = [closes[0] if i == 0 else closes[i - 1] for i in range(n)]
    opens = [draw(price) if draw(st.booleans()) else x for x in opens]
    highs = [max(x, y) + draw(wick) for x, y in zip(opens, closes, strict=True)]
    lows = [min(x, y) - draw(wick) for x, y in zip(opens, closes, strict=True)]
    return bars(closes, highs=highs, lows=lows, opens=opens, ts=ts)


@st.composite
def grid_params(draw: st.DrawFn) -> np.ndarray:
    return params(
        fee=draw(st.sampled_from([0.0, 0.001, 0.0025])),
        stop_loss=draw(st.sampled_from([NAN, NAN, 0.005, 0.02, 0.05])),
        time_limit_s=draw(st.sampled_from([NAN, NAN, 0, 60, 120, 300])),
        fill_model=draw(st.sampled_from([HUMMINGBOT, TOUCH])),
    )


@st.composite
def grid_setups(draw: st.DrawFn) -> tuple:
    side = draw(st.sampled_from([BUY, SELL]))
    start = draw(st.sampled_from([90.0, 95.0]))
    end = draw(st.sampled_from([105.0, 110.0]))
    if side == BUY:
        limit = draw(st.sampled_from([NAN, 0.0, 88.0, 89.5, 93.0]))
    else:
        limit = draw(st.sampled_from([NAN, 0.0, 107.0, 111.0, 112.5]))
    total = draw(st.sampled_from([3.0, 20.0, 50.0, 100.0]))
    spread = draw(st.sampled_from([0.0, 0.01, 0.02, 0.05, 0.5]))
    min_amount = draw(st.sampled_from([NAN, 5.0, 12.5]))
    take_profit = draw(st.sampled_from([NAN, 0.005, 0.01, 0.03125]))
    keep = draw(st.booleans())
    return side, start, end, limit, total, spread, min_amount, take_profit, keep


def show(b: Bars, *rest: object) -> str:
    return (
        f"ts={b.ts.tolist()} o={b.o.tolist()} h={b.h.tolist()} l={b.l.tolist()} "
        f"c={b.c.tolist()} rest={rest}"
    )


@SETTINGS
@given(b=grid_bars(), p=grid_params(), setup=grid_setups(), data=st.data())
def test_grid_executor_matches_reference(b, p, setup, data) -> None:
    side, start, end, limit, total, spread, min_amount, take_profit, keep = setup
    k = data.draw(st.integers(0, b.n - 1))
    stop_row = data.draw(st.integers(k, b.n))
    mid = b.c[k] if data.draw(st.booleans()) else 100.0
    prices, amounts = ref.grid_levels(start, end, total, spread, min_amount, mid)
    args = (start, end, limit, prices, amounts, take_profit, keep)
    got = Kernel.executor(b, k, stop_row, side, *args, p=p)
    want = Reference.executor(b, k, stop_row, side, *args, p=p)
    problems = diff_records(got, want)
    assert not problems, (problems, show(b, to_dict(p), k, stop_row, side, *args))
    check_identities(got, p[P_FEE])


@SETTINGS
@given(b=grid_bars(), p=grid_params(), setup=grid_setups(), data=st.data())
def test_grid_strike_matches_reference(b, p, setup, data) -> None:
    side, start, end, limit, total, spread, min_amount, take_profit, keep = setup
    start_row = data.draw(st.integers(0, b.n))
    grid = (start, end, limit, total, spread, min_amount, take_profit)
    got = Kernel.strike(b, start_row, side, *grid, keep=keep, p=p)
    want = Reference.strike(b, start_row, side, *grid, keep=keep, p=p)
    context = show(b, to_dict(p), start_row, side, grid, keep)
    assert len(got) == len(want), (len(got), len(want), context)
    for g, w in zip(got, want, strict=True):
        problems = diff_records(g, w)
        assert not problems, (problems, g, w, context)
    for a, b_ in itertools.pairwise(got):  # one grid at a time
        assert b_["created_row"] >= max(a["close_row"], a["created_row"] + 1)


@SETTINGS
@given(
    pair=st.sampled_from(
        [(0.38, 0.75), (90.0, 110.0), (100.0, 130.0), (100.0, 100.01), (2500.5, 2600.0), (1, 3)]
    ),
    total=st.sampled_from([3.0, 5.25, 100.0, 1000.0, 777.7, 10000.0]),
    spread=st.sampled_from([0.0, 0.0005, 0.001, 0.05, 0.1, 0.3, NAN]),
    min_amount=st.sampled_from([NAN, 1.0, 5.0, 10.0, 37.5]),
    mid=st.sampled_from([0.5, 97.3, 100.0, 2550.0]),
)
def test_grid_levels_match_upstream_decimal_arithmetic(pair, total, spread, min_amount, mid):
    start, end = pair
    got_prices, got_amounts = levels(start, end, total, spread, min_amount, mid)
    want_prices, want_amounts = ref.grid_levels(start, end, total, spread, min_amount, mid)
    assert len(got_prices) == len(want_prices)
    assert got_prices == pytest.approx(want_prices, rel=1e-12)
    assert got_amounts == pytest.approx(want_amounts, rel=1e-12)
