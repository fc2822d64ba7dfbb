"""``hummingbot.strategy_v2.controllers.directional_trading_controller_base`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    DirectionalTradingControllerBase,
    DirectionalTradingControllerConfigBase,
)

__all__ = ["DirectionalTradingControllerBase", "DirectionalTradingControllerConfigBase"]
