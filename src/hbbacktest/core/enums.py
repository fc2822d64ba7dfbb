"""Domain enums with stable integer codes (the codes are what the engine's record arrays hold)."""

from __future__ import annotations

from enum import IntEnum


class TradeType(IntEnum):
    """Order side, with Hummingbot's names."""

    BUY = 1
    SELL = 2

    @property
    def sign(self) -> int:
        """+1 for BUY (long), -1 for SELL (short)."""
        return 1 if self is TradeType.BUY else -1


class CloseType(IntEnum):
    """Why an executor ended, with Hummingbot's names and codes."""

    TIME_LIMIT = 1
    STOP_LOSS = 2
    TAKE_PROFIT = 3
    EXPIRED = 4
    EARLY_STOP = 5
    TRAILING_STOP = 6
    INSUFFICIENT_BALANCE = 7
    FAILED = 8
    COMPLETED = 9
    POSITION_HOLD = 10


class OrderType(IntEnum):
    """Order types, with Hummingbot's names."""

    MARKET = 1
    LIMIT = 2
    LIMIT_MAKER = 3

    def is_limit_type(self) -> bool:
        """True for LIMIT and LIMIT_MAKER."""
        return self in (OrderType.LIMIT, OrderType.LIMIT_MAKER)


class PositionMode(IntEnum):
    """Perpetual position modes, with Hummingbot's names."""

    HEDGE = 1
    ONEWAY = 2


class FillModel(IntEnum):
    """How the engine decides fills (see docs/fill-models.md)."""

    HUMMINGBOT = 0
    TOUCH = 1
