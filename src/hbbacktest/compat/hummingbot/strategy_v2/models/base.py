"""``hummingbot.strategy_v2.models.base`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    RunnableStatus,
)

__all__ = ["RunnableStatus"]
