"""``hummingbot.strategy_v2.executors.order_executor.data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    ExecutionStrategy,
    LimitChaserConfig,
    OrderExecutorConfig,
)

__all__ = ["ExecutionStrategy", "LimitChaserConfig", "OrderExecutorConfig"]
