"""``hummingbot.strategy_v2.models.executors`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    CloseType,
)

__all__ = ["CloseType"]
