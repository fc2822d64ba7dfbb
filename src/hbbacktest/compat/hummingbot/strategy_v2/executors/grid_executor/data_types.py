"""``hummingbot.strategy_v2.executors.grid_executor.data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    GridExecutorConfig,
)

__all__ = ["GridExecutorConfig"]
