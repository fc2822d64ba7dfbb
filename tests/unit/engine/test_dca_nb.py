"""Hand-worked cases for the DCA executor kernel ``hbbacktest.engine.dca_nb.simulate_dca_nb``.

Every case runs twice: against the kernel and against the pure-Python reference
(``reference_dca.py``), so the reference is itself pinned to hand-checked numbers.

Bars are 1m (ts = T0 + 60 * row). Unless a case says otherwise: open = previous close,
high = max(open, close), low = min(open, close) (see ``tests/kit/bars.py``); executor created at
row k = 0; BUY; MAKER entries; fee 0; no barriers; no time limit; no stop
(``stop_row = len(ts)``).

Notation: a_i = amounts_quote[i], p_i = prices[i], f_i = level i's fill price. Hummingbot
model: BE = Σ a_i p_i / Σ a_i (target average of the filled levels), every price a close.
Touch model: level i holds b_i = a_i / p_i base, avg = Σ b_i f_i / Σ b_i.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest

from hbbacktest.engine.dca_nb import simulate_dca_nb
from hbbacktest.engine.records import P_FEE, P_FILL_MODEL
from tests.kit.bars import HUMMINGBOT, TOUCH, Bars, bars, new_rec, params, params_dict, rec_dict

from . import reference_dca as ref

BUY, SELL = 1.0, 2.0
TL, SL, TP, ES, TS, PH = 1, 2, 3, 5, 6, 10
IF_UNFILLED, ALWAYS, KEEP = 0, 1, 2
MODELS = pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH], ids=["hummingbot", "touch"])


# ---------------------------------------------------------------------------------------------
# the two implementations behind one calling convention (also used by test_dca_parity.py)


class KernelDCA:
    name = "kernel"

    @staticmethod
    def simulate(
        b: Bars,
        k: int,
        stop_row: int,
        stop_mode: int,
        side: float,
        prices: Sequence[float],
        amounts: Sequence[float],
        p: np.ndarray,
    ) -> dict:
        rec = new_rec()
        simulate_dca_nb(
            b.ts,
            *b.ohlc(),
            k,
            stop_row,
            stop_mode,
            float(side),
            np.asarray(prices, dtype=np.float64),
            np.asarray(amounts, dtype=np.float64),
            p,
            rec,
        )
        d = rec_dict(rec)
        assert math.isnan(d.pop("level"))  # not written by simulate_dca_nb
        return d


class ReferenceDCA:
    name = "reference"

    @staticmethod
    def simulate(
        b: Bars,
        k: int,
        stop_row: int,
        stop_mode: int,
        side: float,
        prices: Sequence[float],
        amounts: Sequence[float],
        p: np.ndarray,
    ) -> dict:
        lists = [a.tolist() for a in b]
        return ref.simulate_dca(
            *lists,
            k,
            stop_row,
            stop_mode,
            float(side),
            [float(x) for x in prices],
            [float(x) for x in amounts],
            params_dict(p),
        )


IMPLS_DCA = (KernelDCA, ReferenceDCA)


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-12)


def close_enough(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def same_record(a: dict, b: dict) -> bool:
    """Equal field by field, NaN == NaN."""
    return a.keys() == b.keys() and all(
        a[f] == b[f] or (isinstance(a[f], float) and math.isnan(a[f]) and math.isnan(b[f]))
        for f in a
    )


def assert_dca_identities(
    r: dict, prices: Sequence[float], amounts: Sequence[float], fee: float, model: float
) -> None:
    """The accounting identities every DCA record satisfies (``simulate_dca_nb``'s docstring)."""
    assert r["kind"] == 1
    n_levels = len(prices)
    assert r["amount_base"] == approx(sum(a / p for a, p in zip(amounts, prices, strict=True)))
    if n_levels:
        assert r["entry_price"] == prices[0]
    else:
        assert math.isnan(r["entry_price"])
    hold = r["close_type"] == PH
    if r["fill_row"] < 0:
        assert math.isnan(r["fill_price"]) and math.isnan(r["exit_price"])
        assert r["net_pnl_pct"] == r["net_pnl_quote"] == 0.0
        assert r["cum_fees_quote"] == r["filled_amount_quote"] == r["hold_base"] == 0.0
        assert math.isnan(r["hold_price"])
        return
    assert r["created_row"] <= r["fill_row"] <= r["close_row"]
    volume, fp, px = r["filled_amount_quote"], r["fill_price"], r["exit_price"]
    if model == HUMMINGBOT:
        # entry notional E = Σ a_i over the filled levels (a prefix of the levels); the volume is
        # E once on an early stop / hold, 2 E on a natural close; fees 2 fee E (hold: fee E)
        once = r["close_type"] in (ES, PH)
        entry = volume if once else volume / 2
        assert any(close_enough(entry, sum(amounts[:m])) for m in range(1, n_levels + 1))
        assert close_enough(r["cum_fees_quote"], (1 if hold else 2) * fee * entry)
        assert px == r["exit_price"]
    else:
        # base B = Σ b_i over a prefix; E = B * fill_price; volume E + B * exit (hold: E)
        bases = [sum(a / p for a, p in zip(amounts[:m], prices[:m], strict=True)) for m in
                 range(1, n_levels + 1)]  # fmt: skip
        matching = [b for b in bases if close_enough(volume, b * fp + (0 if hold else b * px))]
        assert matching, (volume, bases)
        entry = matching[0] * fp
        assert close_enough(r["cum_fees_quote"], fee * volume)
    assert close_enough(r["net_pnl_pct"], r["net_pnl_quote"] / entry)
    if hold:
        assert close_enough(r["hold_base"] * r["hold_price"], entry)
        assert r["hold_price"] == approx(fp)
    else:
        assert r["hold_base"] == 0.0 and math.isnan(r["hold_price"])


@pytest.fixture(params=IMPLS_DCA, ids=lambda i: i.name)
def impl(request: pytest.FixtureRequest) -> object:
    return request.param


def run(
    impl,
    b: Bars,
    prices: Sequence[float],
    amounts: Sequence[float],
    *,
    k: int = 0,
    side: float = BUY,
    stop_row: int | None = None,
    stop_mode: int = IF_UNFILLED,
    **kw: float | None,
) -> dict:
    p = params(**kw)
    if stop_row is None:
        stop_row = b.n
    r = impl.simulate(b, k, stop_row, stop_mode, side, prices, amounts, p)
    assert r["side"] == int(side) and r["created_row"] == k
    assert_dca_identities(r, prices, amounts, p[P_FEE], p[P_FILL_MODEL])
    return r


def outcome(r: dict) -> tuple[int, int, int]:
    return r["fill_row"], r["close_row"], r["close_type"]


# the upstream worked example: BUY levels 99 / 98 / 96 for 10 / 20 / 40 quote
WORKED = (100, 99.5, 98.9, 99, 98, 95.9, 97, 98.5)
WORKED_PRICES = (99.0, 98.0, 96.0)
WORKED_AMOUNTS = (10.0, 20.0, 40.0)


# =============================================================================================
# Hummingbot fill model


class TestHummingbot:
    def test_upstream_worked_example(self, impl):
        # closes 100, 99.5, 98.9, 99, 98, 95.9, 97, 98.5:
        # row 2: 98.9 <= 99 -> level 0 at 98.9; BE = 99, TP 99 * 1.01 = 99.99
        # row 3: 99 < 99.99, 99 > 98: nothing
        # row 4: 98 <= 98 -> level 1 at 98; BE = (990 + 1960) / 30 = 98.33, TP 99.32
        # row 5: 95.9 <= 96 -> level 2 at 95.9; BE = 6790 / 70 = 97.0, TP 97.97, SL 92.15
        # row 6: close 97 < 97.97; low min(95.9, 97) = 95.9 > 92.15 (first row the SL may fire)
        # row 7: close 98.5 >= 97.97 -> TAKE_PROFIT, booked at 98.5
        # net = 10 (98.5/98.9 - 1) + 20 (98.5/98 - 1) + 40 (98.5/95.9 - 1) - 2 * 0.001 * 70
        #     = -0.040445 + 0.102041 + 1.084463 - 0.14 = 1.006059
        b = bars(WORKED)
        r = run(impl, b, WORKED_PRICES, WORKED_AMOUNTS, take_profit=0.01, stop_loss=0.05, fee=0.001)
        assert outcome(r) == (2, 7, TP)
        net = (
            sum(a * (98.5 / f - 1) for a, f in zip(WORKED_AMOUNTS, (98.9, 98, 95.9), strict=True))
            - 0.14
        )
        assert net == pytest.approx(1.006058905, abs=1e-9)
        assert r["net_pnl_quote"] == approx(net)
        assert r["net_pnl_pct"] == approx(net / 70)
        assert r["exit_price"] == 98.5
        # average fill by base: 70 / (10/98.9 + 20/98 + 40/95.9) = 96.913309
        assert r["fill_price"] == approx(70 / (10 / 98.9 + 20 / 98 + 40 / 95.9))
        assert r["cum_fees_quote"] == approx(0.14)  # 2 * 0.001 * 70
        assert r["filled_amount_quote"] == approx(140.0)  # entry + exit: 2 * 70
        assert r["entry_price"] == 99.0
        assert r["amount_base"] == approx(10 / 99 + 20 / 98 + 40 / 96)

    def test_filled_levels_are_booked_when_a_later_level_never_fills(self, impl):
        """Upstream's defect: its simulator books from a leftover loop variable, i.e. nothing at
        all when any level stays unfilled. Here the filled level is booked from its own fill.

        Levels 99 / 95, 10 quote each, TP 1%, fee 0.1%. Row 1: 98 <= 99 -> level 0 at 98
        (95 never trades). BE = 99 (the level price, not the 98 fill), TP 99.99: row 2's 99
        does not reach it (it would against the fill: 98 * 1.01 = 98.98); row 3's 101 does.
        net = 10 (101/98 - 1) - 2 * 0.001 * 10 = 0.306122 - 0.02 = 0.286122."""
        b = bars([100, 98, 99, 101])
        r = run(impl, b, [99, 95], [10, 10], take_profit=0.01, fee=0.001)
        assert outcome(r) == (1, 3, TP)
        assert r["fill_price"] == 98.0 and r["exit_price"] == 101.0
        assert r["net_pnl_quote"] == approx(10 * (101 / 98 - 1) - 0.02)
        assert r["net_pnl_pct"] == approx((10 * (101 / 98 - 1) - 0.02) / 10)
        assert r["cum_fees_quote"] == approx(0.02)
        assert r["filled_amount_quote"] == approx(20.0)

    def test_several_levels_fill_on_one_bar(self, impl):
        # levels 99 / 98 / 97 for 10 / 20 / 30: row 1's close 96.5 crosses all three -> all
        # filled at 96.5 on row 1. BE = (990 + 1960 + 2910) / 60 = 97.667, TP 98.643:
        # row 2 97.5 no, row 3 99 -> TAKE_PROFIT. net = 60 (99/96.5 - 1) = 1.554404
        b = bars([100, 96.5, 97.5, 99])
        r = run(impl, b, [99, 98, 97], [10, 20, 30], take_profit=0.01)
        assert outcome(r) == (1, 3, TP)
        assert r["fill_price"] == approx(96.5)
        assert r["net_pnl_quote"] == approx(60 * (99 / 96.5 - 1))
        assert r["filled_amount_quote"] == approx(120.0)

    def test_stop_loss_not_on_the_last_fill_bar(self, impl):
        # levels 99 / 98, 10 each, SL 1%. Row 1: 99 -> level 0. Row 2: close 98 -> level 1
        # (all filled), BE 98.5, SL 98.5 * 0.99 = 97.515; row 2's low 97 is below it but it is
        # the last fill's bar. Row 3: low min(98, 98.2) = 98. Row 4: low 97 <= 97.515 ->
        # STOP_LOSS, booked at the close 97.
        # net = 10 (97/99 - 1) + 10 (97/98 - 1) = -0.202020 - 0.102041 = -0.304061
        b = bars([100, 99, 98, 98.2, 97], lows=[None, None, 97, None, None])
        r = run(impl, b, [99, 98], [10, 10], stop_loss=0.01)
        assert outcome(r) == (1, 4, SL)
        assert r["exit_price"] == 97.0
        assert r["net_pnl_quote"] == approx(10 * (97 / 99 - 1) + 10 * (97 / 98 - 1))

    def test_trailing_stop_restarts_after_a_new_level(self, impl):
        # levels 100 / 99.2, 10 each; trailing: activation 1%, delta 2% (price-based).
        # row 1: 100 -> level 0, BE 100, activation at 101
        # row 2: 101.1 >= 101 -> activated, best 101.1, stop at 101.1 * 0.98 = 99.078
        # row 3: 99.1 > 99.078: no stop; 99.1 <= 99.2 -> level 1; BE (1000 + 992) / 20 = 99.6:
        #        the trailing stop restarts, activation at 99.6 * 1.01 = 100.596
        # row 4: 99.0 (the old trailing stop would fire: 99.0 <= 99.078); not activated
        # row 5: 100.7 >= 100.596 -> activated, best 100.7, stop at 98.686
        # row 6: 98.6 <= 98.686 -> TRAILING_STOP at 98.6
        # net = 10 (98.6/100 - 1) + 10 (98.6/99.1 - 1) = -0.14 - 0.050454 = -0.190454
        b = bars([100.5, 100, 101.1, 99.1, 99.0, 100.7, 98.6])
        r = run(impl, b, [100, 99.2], [10, 10], trail_activation=0.01, trail_delta=0.02)
        assert outcome(r) == (1, 6, TS)
        assert r["net_pnl_quote"] == approx(10 * (98.6 / 100 - 1) + 10 * (98.6 / 99.1 - 1))

    @pytest.mark.parametrize(("tp", "want"), [(0.01, TP), (None, TS)])
    def test_take_profit_beats_trailing_stop_on_one_bar(self, impl, tp, want):
        # one level 100. Row 0: close 100 <= 100 -> filled on the creation row (k included).
        # Row 1: 100.6 < TP 101; >= 100.5 -> trailing activated (delta 0). Row 2: 101.5 >= 101
        # -> take profit; and 101.5 <= best 101.5 * (1 - 0) -> trailing stop too: TP wins.
        b = bars([100, 100.6, 101.5])
        r = run(impl, b, [100], [10], take_profit=tp, trail_activation=0.005, trail_delta=0.0)
        assert outcome(r) == (0, 2, want)
        assert r["net_pnl_quote"] == approx(10 * (101.5 / 100 - 1))

    @pytest.mark.parametrize(("sl", "want"), [(0.01, SL), (None, TS)])
    def test_stop_loss_beats_trailing_stop_on_one_bar(self, impl, sl, want):
        # one level 100, filled on row 0. Row 1: 100.6 -> trailing activated, stop at
        # 100.6 * 0.999 = 100.4994. Row 2: low 98.5 <= SL 99 -> stop loss; close 99 <=
        # 100.4994 -> trailing stop too: SL wins. Both booked at the close 99.
        b = bars([100, 100.6, 99], lows=[None, None, 98.5])
        r = run(impl, b, [100], [10], stop_loss=sl, trail_activation=0.005, trail_delta=0.001)
        assert outcome(r) == (0, 2, want)
        assert r["exit_price"] == 99.0

    def test_taker_fills_like_maker(self, impl):
        # the hummingbot model has one trigger for both: the close crossing the level
        b = bars(WORKED)
        kw = {"take_profit": 0.01, "stop_loss": 0.05, "fee": 0.001}
        maker = run(impl, b, WORKED_PRICES, WORKED_AMOUNTS, **kw)
        taker = run(impl, b, WORKED_PRICES, WORKED_AMOUNTS, open_is_limit=0, **kw)
        assert same_record(taker, maker)

    def test_sell_mirror(self, impl):
        # SELL levels 101 / 102 / 104 for 10 / 20 / 40; closes mirror the worked example:
        # row 2: 101.1 >= 101 -> level 0; row 4: 102 -> level 1; row 5: 104.1 -> level 2;
        # BE = (1010 + 2040 + 4160) / 70 = 103.0, TP 103 * 0.99 = 101.97, SL 108.15
        # row 6: 103 > 101.97, high 104.1 < 108.15; row 7: 101.5 <= 101.97 -> TAKE_PROFIT
        # net = Σ a_i (1 - 101.5/f_i) - 0.14
        #     = 0.039565 + 0.098039 + 0.999039 - 0.14 = 0.917514
        b = bars([100, 100.5, 101.1, 101, 102, 104.1, 103, 101.5])
        amounts = [10, 20, 40]
        r = run(
            impl,
            b,
            [101, 102, 104],
            amounts,
            side=SELL,
            take_profit=0.01,
            stop_loss=0.05,
            fee=0.001,
        )
        assert outcome(r) == (2, 7, TP)
        net = (
            sum(a * (1 - 101.5 / f) for a, f in zip(amounts, (101.1, 102, 104.1), strict=True))
            - 0.14
        )
        assert net == pytest.approx(0.9175138, abs=1e-7)
        assert r["net_pnl_quote"] == approx(net)
        assert r["fill_price"] == approx(70 / (10 / 101.1 + 20 / 102 + 40 / 104.1))


# =============================================================================================
# Touch fill model


class TestTouch:
    def test_worked_example(self, impl):
        # the worked example's bars, limit fills at the level prices:
        # row 2: o 99.5, low 98.9 <= 99 -> level 0 at 99; row 4: o 99, low 98 -> level 1 at 98;
        # row 5: o 98, low 95.9 <= 96 -> level 2 at 96 (all filled; low 95.9 > SL, see below)
        # base B = 10/99 + 20/98 + 40/96 = 0.721758, avg = 70 / B = 96.985362
        # SL = avg * 0.95 = 92.136, TP = avg * 1.01 = 97.955216
        # row 6: o 95.9, high 97 < TP; row 7: o 97, high 98.5 >= TP -> TAKE_PROFIT at TP
        # gross = B * (TP - avg) = 0.01 * 70 = 0.7; fees = 0.001 * (70 + 70.7) = 0.1407
        b = bars(WORKED)
        r = run(
            impl,
            b,
            WORKED_PRICES,
            WORKED_AMOUNTS,
            take_profit=0.01,
            stop_loss=0.05,
            fee=0.001,
            fill_model=TOUCH,
        )
        base = 10 / 99 + 20 / 98 + 40 / 96
        avg = 70 / base
        assert outcome(r) == (2, 7, TP)
        assert r["fill_price"] == approx(avg)
        assert r["exit_price"] == approx(avg * 1.01)
        assert r["net_pnl_quote"] == approx(0.7 - 0.1407)
        assert r["net_pnl_pct"] == approx((0.7 - 0.1407) / 70)
        assert r["cum_fees_quote"] == approx(0.1407)
        assert r["filled_amount_quote"] == approx(140.7)

    def test_several_levels_fill_on_one_bar_at_their_prices(self, impl):
        # levels 99 / 98 / 97 for 10 / 20 / 30: row 1 opens 100 and its low 96.5 reaches all
        # three -> filled at 99, 98, 97. avg = 60 / (10/99 + 20/98 + 30/97) = 97.65, TP 98.63:
        # row 2 high 97.5; row 3 high 99 -> TAKE_PROFIT at TP: gross 0.01 * 60 = 0.6
        b = bars([100, 96.5, 97.5, 99])
        r = run(impl, b, [99, 98, 97], [10, 20, 30], take_profit=0.01, fill_model=TOUCH)
        avg = 60 / (10 / 99 + 20 / 98 + 30 / 97)
        assert outcome(r) == (1, 3, TP)
        assert r["fill_price"] == approx(avg)
        assert r["exit_price"] == approx(avg * 1.01)
        assert r["net_pnl_quote"] == approx(0.6)

    @pytest.mark.parametrize(
        ("side", "prices", "closes", "opens", "fill", "gross"),
        [
            # BUY 99: row 1 opens at 97.5, below the level -> filled at the open 97.5;
            # TIME_LIMIT on row 2 at 98: gross = 10/99 * (98 - 97.5) = 0.050505
            (BUY, [99], [100, 97, 98], [None, 97.5, None], 97.5, 10 / 99 * 0.5),
            # no gap: row 1 opens 100, low 97 -> filled at the level 99; gross 10/99 * -1
            (BUY, [99], [100, 97, 98], None, 99.0, 10 / 99 * -1.0),
            # SELL 101: row 1 opens at 102.5 -> filled at 102.5; exit 102: 10/101 * 0.5
            (SELL, [101], [100, 103, 102], [None, 102.5, None], 102.5, 10 / 101 * 0.5),
        ],
    )
    def test_limit_fills_at_the_level_or_at_a_gapped_open(
        self, impl, side, prices, closes, opens, fill, gross
    ):
        b = bars(closes, opens=opens)
        r = run(impl, b, prices, [10], side=side, fill_model=TOUCH)
        assert outcome(r) == (1, 2, TL)
        assert r["fill_price"] == fill and r["exit_price"] == closes[2]
        assert r["net_pnl_quote"] == approx(gross)

    def test_marketable_at_creation_fills_at_the_creation_close(self, impl):
        # BUY 101 / 99, 10 each. Row 0 close 100 <= 101 -> level 0 at 100 on row 0; level 1
        # rests: row 1 low 100; row 2 low 98.5 <= 99 -> at 99. TIME_LIMIT on row 3 at 100.
        # b = 10/101, 10/99; entry = 10/101 * 100 + 10 = 19.900990
        # gross = 10/101 * 0 + 10/99 * 1 = 0.101010
        b = bars([100, 100.5, 98.5, 100])
        r = run(impl, b, [101, 99], [10, 10], fill_model=TOUCH)
        assert outcome(r) == (0, 3, TL)
        entry = 10 / 101 * 100 + 10
        assert r["fill_price"] == approx(entry / (10 / 101 + 10 / 99))
        assert r["net_pnl_quote"] == approx(10 / 99)
        assert r["filled_amount_quote"] == approx(entry + (10 / 101 + 10 / 99) * 100)

    @pytest.mark.parametrize(
        ("open_is_limit", "fill_row", "fill_prices"),
        [
            # MAKER: row 1 low 98.5 <= 99 -> 99; row 3 (o 98.9, low 97.5) <= 98 -> 98
            (1, 1, (99.0, 98.0)),
            # TAKER: the close must reach the level: row 1 99.5 no; row 2 98.9 -> level 0 at
            # 98.9; row 3 97.5 -> level 1 at 97.5
            (0, 2, (98.9, 97.5)),
        ],
    )
    def test_taker_fills_at_the_close(self, impl, open_is_limit, fill_row, fill_prices):
        # TIME_LIMIT on row 4 at 99: gross = Σ b_i (99 - f_i), b = 10/99, 10/98
        b = bars([100, 99.5, 98.9, 97.5, 99], lows=[None, 98.5, None, None, None])
        r = run(impl, b, [99, 98], [10, 10], open_is_limit=open_is_limit, fill_model=TOUCH)
        bases = (10 / 99, 10 / 98)
        assert outcome(r) == (fill_row, 4, TL)
        assert r["fill_price"] == approx(
            sum(x * f for x, f in zip(bases, fill_prices, strict=True)) / sum(bases)
        )
        assert r["net_pnl_quote"] == approx(
            sum(x * (99 - f) for x, f in zip(bases, fill_prices, strict=True))
        )

    def test_taker_level_marketable_at_creation(self, impl):
        # TAKER, BUY 101 / 99: the creation close 100 already reaches 101 -> filled at 100 on
        # row 0; 99 waits for a close at or below it: row 2 (98.5), not row 1 (low 98, close
        # 100.5). TIME_LIMIT on row 3 at 100: gross = 10/101 * 0 + 10/99 * 1.5 = 0.151515
        b = bars([100, 100.5, 98.5, 100], lows=[None, 98, None, None])
        r = run(impl, b, [101, 99], [10, 10], open_is_limit=0, fill_model=TOUCH)
        assert outcome(r) == (0, 3, TL)
        assert r["net_pnl_quote"] == approx(10 / 99 * 1.5)

    def test_stop_loss_on_the_bar_that_fills_the_last_level(self, impl):
        # the bars of the hummingbot model's "not on the last fill bar" case: row 1 -> 99;
        # row 2 (o 99, low 97) -> 98, all filled: avg = 20 / (10/99 + 10/98) = 98.497462,
        # SL = avg * 0.99 = 97.512487; the fill bar's low 97 reaches it (worst case: the low
        # came after the fill) -> STOP_LOSS on row 2 at SL. gross = B (SL - avg) = -0.01 * 20
        b = bars([100, 99, 98, 98.2, 97], lows=[None, None, 97, None, None])
        r = run(impl, b, [99, 98], [10, 10], stop_loss=0.01, fill_model=TOUCH)
        avg = 20 / (10 / 99 + 10 / 98)
        assert outcome(r) == (1, 2, SL)
        assert r["exit_price"] == approx(avg * 0.99)
        assert r["net_pnl_quote"] == approx(-0.2)

    def test_stop_loss_at_a_gapped_open(self, impl):
        # one level 100: row 1 (o 100.5, low 100) -> 100; SL 99. Row 2 low 99.5. Row 3 opens
        # at 98.5 <= 99 -> STOP_LOSS at the open 98.5. gross = 0.1 * -1.5 = -0.15
        b = bars([100.5, 100, 99.5, 98], opens=[None, None, None, 98.5])
        r = run(impl, b, [100], [10], stop_loss=0.01, fill_model=TOUCH)
        assert outcome(r) == (1, 3, SL)
        assert r["exit_price"] == 98.5
        assert r["net_pnl_quote"] == approx(-0.15)

    def test_take_profit_at_a_gapped_open_is_at_its_price(self, impl):
        # one level 100 filled on row 1; TP 101. Row 2 high 100.5. Row 3 opens at 101.5 ->
        # TAKE_PROFIT at 101 (its price, a limit). gross = 0.1 * 1 = 0.1
        b = bars([100.5, 100, 100.5, 102], opens=[None, None, None, 101.5])
        r = run(impl, b, [100], [10], take_profit=0.01, fill_model=TOUCH)
        assert outcome(r) == (1, 3, TP)
        assert r["exit_price"] == approx(101.0)
        assert r["net_pnl_quote"] == approx(0.1)

    def test_trailing_stop(self, impl):
        # one level 100: row 1 (o 100.5, low 99.8) -> 100. Row 2: high 101.5 -> best 1.5%
        # >= 1% -> activated (from row 3), stop at 100 (1 + 0.015 - 0.005) = 101.0. Row 3:
        # open 101.2 above it, low 100.9 <= 101 -> TRAILING_STOP at 101. gross = 0.1 * 1
        b = bars(
            [100.5, 100.2, 101, 101.1],
            highs=[None, None, 101.5, 101.3],
            lows=[None, 99.8, None, 100.9],
            opens=[None, None, None, 101.2],
        )
        r = run(impl, b, [100], [10], trail_activation=0.01, trail_delta=0.005, fill_model=TOUCH)
        assert outcome(r) == (1, 3, TS)
        assert r["exit_price"] == approx(101.0)
        assert r["net_pnl_quote"] == approx(0.1)


# =============================================================================================
# both models: time limit, stops, zero levels, accounting


@MODELS
def test_take_profit_when_the_price_reaches_it_exactly(impl, model):
    # one level 96, TP 1/32: 96 * 1.03125 = 99.0 exactly. hummingbot: filled on row 0 (close
    # 96), BE 96; row 2's close 99 reaches 99 -> TAKE_PROFIT at 99. touch: row 0's close 96
    # is marketable -> filled at 96; row 1 high 97; row 2 high 99 reaches it -> TP at 99.
    # Both: gross = 10/96 * 3 = 0.3125
    b = bars([96, 97, 99, 100])
    r = run(impl, b, [96], [10], take_profit=0.03125, fill_model=model)
    assert outcome(r) == (0, 2, TP)
    assert r["exit_price"] == 99.0
    assert r["net_pnl_quote"] == approx(0.3125)


@MODELS
def test_trailing_activation_when_the_price_reaches_it_exactly(impl, model):
    # one level 96; trailing activation 1/32 (at 99.0 exactly), delta 1/64.
    # hummingbot: filled on row 0; row 1's close 99 >= 99 -> activated, best 99, stop at
    #   99 * (1 - 1/64) = 97.453125; row 2's close 97 -> TRAILING_STOP at 97:
    #   10 (97/96 - 1) = 0.104167
    # touch: filled on row 0 at 96; row 1 high 99: best 99/96 - 1 = 1/32 >= 1/32 -> activated,
    #   stop at 96 (1 + 1/32 - 1/64) = 97.5; row 2 (o 99, low 97) -> TRAILING_STOP at 97.5:
    #   10/96 * 1.5 = 0.15625
    b = bars([96, 99, 97])
    r = run(impl, b, [96], [10], trail_activation=0.03125, trail_delta=0.015625, fill_model=model)
    assert outcome(r) == (0, 2, TS)
    if model == HUMMINGBOT:
        assert r["exit_price"] == 97.0
        assert r["net_pnl_quote"] == approx(10 * (97 / 96 - 1))
    else:
        assert r["exit_price"] == 97.5
        assert r["net_pnl_quote"] == approx(0.15625)


@MODELS
def test_stop_loss_waits_for_every_level(impl, model):
    # levels 99 / 90, SL 2%: level 0 at 99 on row 1 (both models: close 99 / low 99);
    # SL price 99 * 0.98 = 97.02, but 90 never fills, so lows 96, 95, 94 do not stop it:
    # TIME_LIMIT on the last row at 94. net = 10/99 * (94 - 99) = 10 (94/99 - 1) = -0.505051
    b = bars([100, 99, 96, 95, 94])
    r = run(impl, b, [99, 90], [10, 10], stop_loss=0.02, fill_model=model)
    assert outcome(r) == (1, 4, TL)
    assert r["net_pnl_quote"] == approx(10 * (94 / 99 - 1))


@MODELS
def test_time_limit(impl, model):
    # 180 s from row 0 -> the window ends on row 3. Level 0 (99) fills on row 1: at the close
    # 98 (hummingbot) / at 99 (touch, o 100, low 98); 97 never. TIME_LIMIT on row 3 at 99.
    # hummingbot: 10 (99/98 - 1) - 2 * 0.001 * 10 = 0.102041 - 0.02 = 0.082041, volume 20
    # touch: 10/99 * (99 - 99) - 0.001 * (10 + 10) = -0.02, volume 20
    b = bars([100, 98, 98.5, 99, 100])
    r = run(impl, b, [99, 97], [10, 10], time_limit_s=180, fee=0.001, fill_model=model)
    assert outcome(r) == (1, 3, TL)
    assert r["exit_price"] == 99.0
    want = 10 * (99 / 98 - 1) - 0.02 if model == HUMMINGBOT else -0.02
    assert r["net_pnl_quote"] == approx(want)
    assert r["filled_amount_quote"] == approx(20.0)


@MODELS
@pytest.mark.parametrize("stop_mode", [IF_UNFILLED, ALWAYS, KEEP])
def test_time_limit_unfilled(impl, model, stop_mode):
    # nothing reaches 99 within the 120 s window (rows 0..2): TIME_LIMIT on row 2, no PnL.
    # A stop on the window's last row (2) is no early stop.
    b = bars([100, 100, 100, 98])
    r = run(
        impl, b, [99], [10], time_limit_s=120, stop_row=2, stop_mode=stop_mode, fill_model=model
    )
    assert outcome(r) == (-1, 2, TL)


@MODELS
def test_refresh_when_nothing_filled(impl, model):
    # STOP_IF_UNFILLED at row 2: nothing reached 99 by row 2 -> EARLY_STOP on row 2, no PnL
    b = bars([100, 100, 100, 98, 97])
    r = run(impl, b, [99], [10], stop_row=2, fill_model=model)
    assert outcome(r) == (-1, 2, ES)
    assert r["net_pnl_quote"] == 0.0 and r["filled_amount_quote"] == 0.0


@MODELS
def test_refresh_fill_on_the_stop_row_counts(impl, model):
    # stop_row 2 and row 2 reaches 99 (close 98.5 / low 98.5): filled on the stop row, so the
    # refresh does not stop it; it runs to the last row: TIME_LIMIT on row 3 at 100.5.
    # hummingbot: 10 (100.5/98.5 - 1) = 0.203046; touch (at 99): 10/99 * 1.5 = 0.151515
    b = bars([100, 100, 98.5, 100.5])
    r = run(impl, b, [99], [10], stop_row=2, fill_model=model)
    assert outcome(r) == (2, 3, TL)
    want = 10 * (100.5 / 98.5 - 1) if model == HUMMINGBOT else 10 / 99 * 1.5
    assert r["net_pnl_quote"] == approx(want)


STOP_BARS = (100, 98, 98.5, 99.5, 101)


@MODELS
def test_stop_always_closes_at_the_stop_rows_close(impl, model):
    # levels 99 / 97; level 0 fills on row 1 (hummingbot at 98, touch at 99); stop row 3 ->
    # EARLY_STOP on row 3 at its close 99.5 (the 101 of row 4 is never seen)
    # hummingbot: net 10 (99.5/98 - 1) - 2 * 0.001 * 10 = 0.153061 - 0.02 = 0.133061;
    #   fees 0.02, volume once: 10
    # touch: b = 10/99; gross 10/99 * 0.5 = 0.050505; exit notional 10/99 * 99.5 = 10.050505;
    #   fees 0.001 * 20.050505 = 0.020051; net 0.030455; volume 20.050505
    b = bars(STOP_BARS)
    r = run(impl, b, [99, 97], [10, 10], stop_row=3, stop_mode=ALWAYS, fee=0.001, fill_model=model)
    assert outcome(r) == (1, 3, ES)
    assert r["exit_price"] == 99.5
    if model == HUMMINGBOT:
        assert r["net_pnl_quote"] == approx(10 * (99.5 / 98 - 1) - 0.02)
        assert r["cum_fees_quote"] == approx(0.02)
        assert r["filled_amount_quote"] == approx(10.0)
    else:
        exit_quote = 10 / 99 * 99.5
        assert r["net_pnl_quote"] == approx(10 / 99 * 0.5 - 0.001 * (10 + exit_quote))
        assert r["cum_fees_quote"] == approx(0.001 * (10 + exit_quote))
        assert r["filled_amount_quote"] == approx(10 + exit_quote)
    assert r["hold_base"] == 0.0 and math.isnan(r["hold_price"])


@MODELS
def test_stop_always_with_nothing_filled(impl, model):
    b = bars([100, 100, 100, 100, 98])
    r = run(impl, b, [99], [10], stop_row=3, stop_mode=ALWAYS, fill_model=model)
    assert outcome(r) == (-1, 3, ES)


@MODELS
def test_stop_keep_position_hands_the_position_to_a_hold(impl, model):
    # the bars of the STOP_ALWAYS case: on row 3 the position goes to a hold instead
    # hummingbot: hold 10/98 base at 98; entry fee only 0.01; volume 10;
    #   net = 10 (99.5/98 - 1) - 0.01 = 0.143061 (marked at the stop row's close)
    # touch: hold 10/99 base at 99; fee 0.01; volume 10; net = 10/99 * 0.5 - 0.01 = 0.040505
    b = bars(STOP_BARS)
    r = run(impl, b, [99, 97], [10, 10], stop_row=3, stop_mode=KEEP, fee=0.001, fill_model=model)
    assert outcome(r) == (1, 3, PH)
    assert r["cum_fees_quote"] == approx(0.01)
    assert r["filled_amount_quote"] == approx(10.0)
    if model == HUMMINGBOT:
        assert r["hold_base"] == approx(10 / 98) and r["hold_price"] == approx(98.0)
        assert r["net_pnl_quote"] == approx(10 * (99.5 / 98 - 1) - 0.01)
    else:
        assert r["hold_base"] == approx(10 / 99) and r["hold_price"] == approx(99.0)
        assert r["net_pnl_quote"] == approx(10 / 99 * 0.5 - 0.01)


@MODELS
def test_stop_keep_position_with_nothing_filled(impl, model):
    # as the live executor's early_stop(keep_position=True): POSITION_HOLD, nothing held
    b = bars([100, 100, 100, 100, 98])
    r = run(impl, b, [99], [10], stop_row=3, stop_mode=KEEP, fill_model=model)
    assert outcome(r) == (-1, 3, PH)
    assert r["hold_base"] == 0.0 and math.isnan(r["hold_price"])


@MODELS
def test_a_take_profit_on_the_stop_row_wins(impl, model):
    # one level 100 filled on row 0 (hummingbot: close 100; touch: marketable at c[0]).
    # TP 101; stop row 2 whose close/high 101.5 reaches the TP: TAKE_PROFIT, not EARLY_STOP.
    # hummingbot at the close 101.5; touch at the TP price 101
    b = bars([100, 100.5, 101.5, 99])
    r = run(impl, b, [100], [10], take_profit=0.01, stop_row=2, stop_mode=ALWAYS, fill_model=model)
    assert outcome(r) == (0, 2, TP)
    assert r["exit_price"] == approx(101.5 if model == HUMMINGBOT else 101.0)


@MODELS
@pytest.mark.parametrize("stop_mode", [IF_UNFILLED, ALWAYS, KEEP])
@pytest.mark.parametrize(("stop_row", "want"), [(4, (3, TL)), (2, (2, ES))])
def test_zero_levels(impl, model, stop_mode, stop_row, want):
    # no levels: never fills; EARLY_STOP at a stop before the window's end (any stop mode),
    # else TIME_LIMIT on the last row. entry_price NaN, amount_base 0.
    b = bars([100, 99, 98, 97])
    r = run(impl, b, [], [], stop_row=stop_row, stop_mode=stop_mode, fill_model=model)
    assert outcome(r) == (-1, *want)
    assert math.isnan(r["entry_price"]) and r["amount_base"] == 0.0


@pytest.mark.parametrize(
    ("stop_row", "stop_mode", "legs"),
    [(8, IF_UNFILLED, 2), (6, ALWAYS, 1), (6, KEEP, 1)],
    ids=["natural", "early-stop", "hold"],
)
def test_hummingbot_accounting(impl, stop_row, stop_mode, legs):
    # the worked example (E = 70 quote filled by row 5), closed naturally on row 7 or stopped on
    # row 6 (close 97): volume 2 E on a natural close, E on an early stop or a hold; fees
    # 2 fee E except on a hold (fee E); net_pnl_pct = net / E
    b = bars(WORKED)
    r = run(
        impl,
        b,
        WORKED_PRICES,
        WORKED_AMOUNTS,
        take_profit=0.01,
        fee=0.001,
        stop_row=stop_row,
        stop_mode=stop_mode,
    )
    assert r["filled_amount_quote"] == approx(legs * 70.0)
    fee_legs = 1 if stop_mode == KEEP else 2
    assert r["cum_fees_quote"] == approx(fee_legs * 0.001 * 70)
    x = r["exit_price"]
    net = (
        sum(a * (x / f - 1) for a, f in zip(WORKED_AMOUNTS, (98.9, 98, 95.9), strict=True))
        - fee_legs * 0.07
    )
    assert r["net_pnl_quote"] == approx(net)
    assert r["net_pnl_pct"] == approx(net / 70)


def test_creation_row_later_than_zero(impl):
    # created at row 2 of the worked example: row 2's close 98.9 fills level 0 at once (the
    # hummingbot model counts from k), the rest as before: TAKE_PROFIT on row 7
    b = bars(WORKED)
    r = run(impl, b, WORKED_PRICES, WORKED_AMOUNTS, k=2, take_profit=0.01)
    assert outcome(r) == (2, 7, TP)
    # a row-3 creation: level 0 (99) is crossed by row 3's close 99 -> filled at 99 on row 3
    r = run(impl, b, WORKED_PRICES, WORKED_AMOUNTS, k=3, take_profit=0.01)
    assert outcome(r) == (3, 7, TP)
    assert r["net_pnl_quote"] == approx(
        sum(a * (98.5 / f - 1) for a, f in zip(WORKED_AMOUNTS, (99, 98, 95.9), strict=True))
    )


def test_reference_and_kernel_agree_on_the_record_keys():
    b = bars(WORKED)
    p = params(take_profit=0.01)
    got = KernelDCA.simulate(b, 0, b.n, 0, BUY, WORKED_PRICES, WORKED_AMOUNTS, p)
    want = ReferenceDCA.simulate(b, 0, b.n, 0, BUY, WORKED_PRICES, WORKED_AMOUNTS, p)
    assert set(got) == set(want)


@MODELS
def test_last_level_filled_without_a_stop_loss_runs_on(impl, model):
    """Upstream's DCA simulator raises IndexError here (it reads ``prices[N]`` for the level
    after the last one when ``stop_loss`` is unset): one level at 99 fills on row 1, and with no
    stop loss, take profit or time limit the executor runs to the end of the data."""
    b = bars([100, 98, 97, 96, 95])
    r = run(impl, b, [99], [10], fill_model=model)
    assert outcome(r) == (1, 4, TL)


# =============================================================================================
# degenerate levels (found by this suite: the kernel used to raise ZeroDivisionError)


@MODELS
@pytest.mark.parametrize(
    ("prices", "amounts"),
    [([99.0], [0.0]), ([99.0, 97.0], [0.0, 10.0]), ([0.0], [10.0])],
    ids=["zero-amount", "leading-zero-amount", "zero-price"],
)
def test_kernel_never_raises_on_a_zero_amount_or_a_zero_price(model, prices, amounts):
    """Reachable from configs (dca_amounts '0,1'); kernels must never raise.

    Row 1's close 98 crosses 99: a zero-size level "fills" but makes no position, so nothing can
    exit it; a level priced 0 can never be placed. The executor ends by its window, flat.
    """
    b = bars([100, 98, 101])
    p = params(take_profit=0.01, fill_model=model)
    r = KernelDCA.simulate(b, 0, b.n, IF_UNFILLED, BUY, prices, amounts, p)
    assert outcome(r) == (-1, 2, TL)  # in the second case the 10-quote level at 97 never fills
    assert r["net_pnl_quote"] == 0.0 and r["filled_amount_quote"] == 0.0
