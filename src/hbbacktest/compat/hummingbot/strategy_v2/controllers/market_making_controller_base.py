"""``hummingbot.strategy_v2.controllers.market_making_controller_base`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    MarketMakingControllerBase,
    MarketMakingControllerConfigBase,
)

__all__ = ["MarketMakingControllerBase", "MarketMakingControllerConfigBase"]
