"""``hummingbot.strategy_v2.controllers.controller_base`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    ControllerBase,
    ControllerConfigBase,
)

__all__ = ["ControllerBase", "ControllerConfigBase"]
