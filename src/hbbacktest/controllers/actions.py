"""What a bar-by-bar controller asks the engine to do: create an executor, or stop one.

Used by :class:`~hbbacktest.controllers.base.StepControllerBase` (user controllers written in
Python, and Hummingbot controller files through ``hbbacktest.compat``). The specs carry plain
floats; the engine simulates them with the same kernels as the built-in controllers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hbbacktest.config.controller import TripleBarrierConfig
from hbbacktest.core.enums import OrderType, TradeType


@dataclass(frozen=True)
class PositionSpec:
    """A position executor: one entry, a triple barrier."""

    side: TradeType
    entry_price: float
    amount: float  # base
    barrier: TripleBarrierConfig
    level_id: str | None = None


@dataclass(frozen=True)
class DCASpec:
    """A DCA executor: entries at ``prices`` for ``amounts_quote``, exits on the average entry."""

    side: TradeType
    prices: tuple[float, ...]
    amounts_quote: tuple[float, ...]
    take_profit: float | None = None
    stop_loss: float | None = None
    trailing_activation: float | None = None
    trailing_delta: float | None = None
    time_limit: float | None = None
    taker: bool = False
    level_id: str | None = None


@dataclass(frozen=True)
class GridSpec:
    """A grid executor over ``[start_price, end_price]``."""

    side: TradeType
    start_price: float
    end_price: float
    limit_price: float
    total_amount_quote: float
    min_spread_between_orders: float
    min_order_amount_quote: float
    take_profit: float
    stop_loss: float | None = None
    time_limit: float | None = None
    keep_position: bool = False
    level_id: str | None = None


@dataclass(frozen=True)
class OrderSpec:
    """A single order (``MARKET``, ``LIMIT`` or ``LIMIT_MAKER``) whose fill becomes a hold."""

    side: TradeType
    amount: float  # base
    price: float | None = None
    order_type: OrderType = OrderType.MARKET
    level_id: str | None = None


ExecutorSpec = PositionSpec | DCASpec | GridSpec | OrderSpec


@dataclass(frozen=True)
class CreateExecutor:
    """Create an executor at this bar's close; ``config`` is shown back to the controller."""

    spec: ExecutorSpec
    config: Any = None
    executor_id: str | None = None


@dataclass(frozen=True)
class StopExecutor:
    """Stop an active executor at this bar's close (``keep_position``: hand it to a hold)."""

    executor_id: str
    keep_position: bool = False


Action = CreateExecutor | StopExecutor


@dataclass
class ExecutorState:
    """An executor as the controller sees it at the current bar (Hummingbot's ``ExecutorInfo``).

    The engine updates these in place every bar; attribute names are Hummingbot's.
    """

    id: str
    timestamp: float
    type: str
    side: TradeType
    config: Any
    level_id: str | None
    is_active: bool = True
    is_trading: bool = False
    status: str = "RUNNING"
    close_type: Any = None
    close_timestamp: float | None = None
    net_pnl_pct: float = 0.0
    net_pnl_quote: float = 0.0
    cum_fees_quote: float = 0.0
    filled_amount_quote: float = 0.0
    controller_id: str = "main"
    custom_info: dict[str, Any] = field(default_factory=dict)

    @property
    def trading_pair(self) -> str:
        """The executor config's trading pair."""
        return str(getattr(self.config, "trading_pair", ""))

    @property
    def connector_name(self) -> str:
        """The executor config's connector."""
        return str(getattr(self.config, "connector_name", ""))

    def to_dict(self) -> dict[str, Any]:
        """Plain fields (Hummingbot's ``ExecutorInfo.to_dict``)."""
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "type": self.type,
            "side": self.side.name,
            "level_id": self.level_id,
            "is_active": self.is_active,
            "is_trading": self.is_trading,
            "status": self.status,
            "close_type": getattr(self.close_type, "name", self.close_type),
            "close_timestamp": self.close_timestamp,
            "net_pnl_pct": self.net_pnl_pct,
            "net_pnl_quote": self.net_pnl_quote,
            "cum_fees_quote": self.cum_fees_quote,
            "filled_amount_quote": self.filled_amount_quote,
            "controller_id": self.controller_id,
            "custom_info": dict(self.custom_info),
        }
