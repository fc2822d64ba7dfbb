"""``hummingbot.core.data_type.common`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    OrderType,
    PositionAction,
    PositionMode,
    PositionSide,
    PriceType,
    TradeType,
)

__all__ = ["OrderType", "PositionAction", "PositionMode", "PositionSide", "PriceType", "TradeType"]
