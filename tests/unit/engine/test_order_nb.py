"""The order executor kernel (``hbbacktest.engine.order_nb``): hand-worked cases, both fill models.

Bars are 1m; open = previous close, high = max(open, close), low = min(open, close) unless a
case says otherwise (``tests/kit/bars.py``). Strategies: 0 MARKET, 1 LIMIT, 2 LIMIT_MAKER,
3 LIMIT_CHASER (filled as a market order).
"""

from __future__ import annotations

import math

import pytest

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.order_nb import order_executor_nb
from tests.kit.bars import HUMMINGBOT, TOUCH, Bars, bars, new_rec, params, rec_dict

BUY = float(TradeType.BUY)
SELL = float(TradeType.SELL)
EXPIRED = int(CloseType.EXPIRED)
ES = int(CloseType.EARLY_STOP)
HOLD = int(CloseType.POSITION_HOLD)
MARKET, LIMIT, LIMIT_MAKER, LIMIT_CHASER = 0, 1, 2, 3
NAN = math.nan


def approx(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=1e-15)


def order(
    b: Bars,
    *,
    k: int = 0,
    stop_row: int | None = None,
    side: float = BUY,
    price: float = NAN,
    amount: float = 1.0,
    strategy: int = MARKET,
    **kw: float,
) -> dict:
    rec = new_rec()
    p = params(**kw)
    stop = b.n if stop_row is None else stop_row
    order_executor_nb(b.ts, *b.ohlc(), k, stop, side, float(price), float(amount), strategy, p, rec)
    r = rec_dict(rec)
    assert math.isnan(r["level"]), "the caller writes LEVEL"
    assert r["kind"] == 3 and r["side"] == int(side) and r["created_row"] == k
    assert r["amount_base"] == amount
    assert r["entry_price"] == (price if price > 0 else b.c[k])
    fee = kw.get("fee", 0.0)
    if r["fill_row"] < 0:
        assert r["close_type"] in (EXPIRED, ES)
        assert r["net_pnl_quote"] == r["cum_fees_quote"] == r["filled_amount_quote"] == 0.0
        assert math.isnan(r["fill_price"]) and r["hold_base"] == 0.0
        assert math.isnan(r["hold_price"])
    else:
        # held at once: no exit, no doubling, one fee; PnL marked at the fill row's close
        notional = amount * r["fill_price"]
        sgn = 1.0 if side == BUY else -1.0
        assert (r["close_type"], r["close_row"]) == (HOLD, r["fill_row"])
        assert r["filled_amount_quote"] == approx(notional)
        assert r["cum_fees_quote"] == approx(fee * notional)
        assert r["exit_price"] == b.c[r["fill_row"]]
        mark = sgn * (r["exit_price"] - r["fill_price"]) * amount
        assert r["net_pnl_quote"] == approx(mark - fee * notional)
        assert r["net_pnl_pct"] == approx(r["net_pnl_quote"] / notional)
        assert (r["hold_base"], r["hold_price"]) == (amount, r["fill_price"])
    return r


def fill(r: dict) -> tuple[int, float]:
    return r["fill_row"], r["fill_price"]


@pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH])
@pytest.mark.parametrize("strategy", [MARKET, LIMIT_CHASER])
def test_market_order_fills_at_the_creation_close(model, strategy) -> None:
    # 2 base at 101 (the close of row 1): 202 quote, fee 0.1 % of it = 0.202
    b = bars([100, 101, 99])
    r = order(b, k=1, amount=2.0, strategy=strategy, fee=0.001, fill_model=model)
    assert fill(r) == (1, 101.0)
    assert r["filled_amount_quote"] == approx(202.0)
    assert r["cum_fees_quote"] == approx(0.202) and r["net_pnl_quote"] == approx(-0.202)


def test_hummingbot_limit_buy_fills_at_the_first_close_at_or_below_it() -> None:
    # closes 100, 99.5, 98, 97: the first close <= 98.5 is row 2's 98 (better than the limit)
    b = bars([100, 99.5, 98, 97])
    assert fill(order(b, price=98.5, strategy=LIMIT)) == (2, 98.0)
    assert fill(order(b, price=98.5, strategy=LIMIT_MAKER)) == (2, 98.0)


def test_touch_limit_buy_fills_at_its_price_when_the_low_reaches_it() -> None:
    # row 1's low is 99.5; row 2's low 98 reaches 98.5 -> filled at 98.5 on row 2, marked at
    # that bar's close 98: 2 x (98 - 98.5) - 0.001 x 197 = -1.197
    b = bars([100, 99.5, 98, 97])
    for strategy in (LIMIT, LIMIT_MAKER):
        r = order(b, price=98.5, amount=2.0, strategy=strategy, fee=0.001, fill_model=TOUCH)
        assert fill(r) == (2, 98.5)
        assert r["net_pnl_quote"] == approx(-1.197)
        assert r["cum_fees_quote"] == approx(0.197)


def test_a_wick_fills_a_touch_limit_but_not_a_hummingbot_one() -> None:
    # row 1 wicks to 97 and closes at 100: touch fills at 98; hummingbot needs a close <= 98
    b = bars([100, 100, 100], lows=[None, 97, None])
    assert fill(order(b, price=98, strategy=LIMIT, fill_model=TOUCH)) == (1, 98.0)
    r = order(b, price=98, strategy=LIMIT)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 2, EXPIRED)


@pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH])
@pytest.mark.parametrize("strategy", [LIMIT, LIMIT_MAKER])
def test_limit_placed_through_the_market_fills_at_the_market(model, strategy) -> None:
    # a bid at 105 with the market at 100 (an ask at 95 for a sell) fills at 100 at once;
    # hummingbot: LIMIT because the close is <= 105, LIMIT_MAKER because it rests at min(105, 100)
    b = bars([100, 90])
    assert fill(order(b, price=105, strategy=strategy, fill_model=model)) == (0, 100.0)
    assert fill(order(b, side=SELL, price=95, strategy=strategy, fill_model=model)) == (0, 100.0)


def test_sell_limits_use_closes_or_highs() -> None:
    # closes 100, 101, 103; row 1's high wicks to 102.5
    b = bars([100, 101, 103], highs=[None, 102.5, None])
    assert fill(order(b, side=SELL, price=102, strategy=LIMIT)) == (2, 103.0)
    assert fill(order(b, side=SELL, price=102, strategy=LIMIT, fill_model=TOUCH)) == (1, 102.0)


def test_touch_limit_does_not_fill_from_the_creation_bar_range() -> None:
    # row 0 wicks to 95 before its close at 100, when the order is placed: it rests from row 1
    b = bars([100, 100], lows=[95, None], opens=[97, None])
    r = order(b, price=96, strategy=LIMIT, fill_model=TOUCH)
    assert (r["fill_row"], r["close_type"]) == (-1, EXPIRED)


@pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH])
def test_unfilled_order_is_stopped_by_the_controller_or_expires(model) -> None:
    b = bars([100, 101, 102, 103])
    r = order(b, k=1, stop_row=2, price=90, strategy=LIMIT, fill_model=model)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 2, ES)
    r = order(b, k=1, price=90, strategy=LIMIT, fill_model=model)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 3, EXPIRED)


@pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH])
def test_order_rests_up_to_and_including_the_stop_row(model) -> None:
    # the fill on row 2 comes before the controller's stop at that row's close
    b = bars([100, 99, 97, 96])
    assert fill(order(b, stop_row=2, price=97, strategy=LIMIT, fill_model=model))[0] == 2
    r = order(b, stop_row=1, price=97, strategy=LIMIT, fill_model=model)
    assert (r["close_row"], r["close_type"]) == (1, ES)


@pytest.mark.parametrize("model", [HUMMINGBOT, TOUCH])
@pytest.mark.parametrize("price", [NAN, 0.0, -1.0])
def test_limit_without_a_positive_price_never_fills(model, price) -> None:
    b = bars([100, 50, 200])
    r = order(b, price=price, strategy=LIMIT, fill_model=model)
    assert (r["fill_row"], r["close_row"], r["close_type"]) == (-1, 2, EXPIRED)
