"""``hummingbot.strategy_v2.executors.dca_executor.data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    DCAExecutorConfig,
    DCAMode,
)

__all__ = ["DCAExecutorConfig", "DCAMode"]
