"""``hummingbot.strategy_v2.models.executor_actions`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    CreateExecutorAction,
    ExecutorAction,
    StopExecutorAction,
    StoreExecutorAction,
)

__all__ = ["CreateExecutorAction", "ExecutorAction", "StopExecutorAction", "StoreExecutorAction"]
