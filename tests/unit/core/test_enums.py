"""Domain enums and their stable codes (Hummingbot's)."""

from __future__ import annotations

from hbbacktest.core.enums import CloseType, FillModel, OrderType, PositionMode, TradeType


def test_trade_type_codes_and_sign() -> None:
    assert (TradeType.BUY, TradeType.SELL) == (1, 2)
    assert TradeType.BUY.sign == 1
    assert TradeType.SELL.sign == -1


def test_close_type_codes_are_hummingbots() -> None:
    assert {c.name: c.value for c in CloseType} == {
        "TIME_LIMIT": 1,
        "STOP_LOSS": 2,
        "TAKE_PROFIT": 3,
        "EXPIRED": 4,
        "EARLY_STOP": 5,
        "TRAILING_STOP": 6,
        "INSUFFICIENT_BALANCE": 7,
        "FAILED": 8,
        "COMPLETED": 9,
        "POSITION_HOLD": 10,
    }


def test_order_types() -> None:
    assert (OrderType.MARKET, OrderType.LIMIT, OrderType.LIMIT_MAKER) == (1, 2, 3)
    assert not OrderType.MARKET.is_limit_type()
    assert OrderType.LIMIT.is_limit_type()
    assert OrderType.LIMIT_MAKER.is_limit_type()


def test_position_mode_and_fill_model() -> None:
    assert (PositionMode.HEDGE, PositionMode.ONEWAY) == (1, 2)
    assert (FillModel.HUMMINGBOT, FillModel.TOUCH) == (0, 1)
    assert FillModel["TOUCH"] is FillModel.TOUCH
