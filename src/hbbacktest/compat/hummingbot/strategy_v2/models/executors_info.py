"""``hummingbot.strategy_v2.models.executors_info`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    ExecutorInfo,
)

__all__ = ["ExecutorInfo"]
