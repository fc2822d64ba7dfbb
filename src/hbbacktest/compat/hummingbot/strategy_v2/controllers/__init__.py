"""``hummingbot.strategy_v2.controllers`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    ControllerBase,
    ControllerConfigBase,
    DirectionalTradingControllerBase,
    DirectionalTradingControllerConfigBase,
    MarketMakingControllerBase,
    MarketMakingControllerConfigBase,
)

__all__ = [
    "ControllerBase",
    "ControllerConfigBase",
    "DirectionalTradingControllerBase",
    "DirectionalTradingControllerConfigBase",
    "MarketMakingControllerBase",
    "MarketMakingControllerConfigBase",
]
