"""``hummingbot.strategy_v2.executors.data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    ExecutorConfigBase,
)

__all__ = ["ExecutorConfigBase"]
