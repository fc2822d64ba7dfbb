"""``hummingbot.strategy_v2.executors.position_executor.data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    PositionExecutorConfig,
    TrailingStop,
    TripleBarrierConfig,
)

__all__ = ["PositionExecutorConfig", "TrailingStop", "TripleBarrierConfig"]
