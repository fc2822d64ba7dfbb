"""grid_strike: one grid executor at a time over a fixed price range (Hummingbot's ``grid_strike``).

The controller has no candles and no features: at every bar where no grid is active and the
close is inside ``[start_price, end_price]``, it starts a grid executor (``engine/grid_nb.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from hbbacktest.config.controller import (
    CandlesConfig,
    ControllerConfigBase,
    TripleBarrierConfig,
    _trailing_stop,
)
from hbbacktest.config.parsing import blank_to_none, enum_by_name
from hbbacktest.controllers.base import ControllerBase
from hbbacktest.core.enums import OrderType, PositionMode, TradeType

_ORDER_TYPE_KEYS = (
    "open_order_type",
    "take_profit_order_type",
    "stop_loss_order_type",
    "time_limit_order_type",
)
_BARRIER_NUMBER_KEYS = ("stop_loss", "take_profit", "time_limit")

# Upstream's grid barrier: take profit 0.1 % per level, maker orders both ways.
GRID_TRIPLE_BARRIER = TripleBarrierConfig(
    take_profit=0.001,
    open_order_type=OrderType.LIMIT_MAKER,
    take_profit_order_type=OrderType.LIMIT_MAKER,
)

# Order-flow fields the live executor uses to pace its orders; the backtest places every level
# at once, as upstream's simulator does.
UNSIMULATED_FIELDS = (
    "max_open_orders",
    "max_orders_per_batch",
    "order_frequency",
    "activation_bounds",
)


class GridStrikeConfig(ControllerConfigBase):
    """Config of :class:`GridStrikeController`, with upstream's names and defaults.

    Prices are in quote currency; ``min_spread_between_orders`` is a fraction of
    ``start_price`` (0.001 = 0.1 %), ``triple_barrier_config.take_profit`` the per-level take
    profit (a fraction of the level's price). ``limit_price`` stops the grid when the close
    crosses it on the losing side (below the range for BUY, above it for SELL), closing the
    inventory, or keeping it when ``keep_position``.
    """

    controller_type: str = "generic"
    controller_name: str = "grid_strike"
    connector_name: str = "okx"
    trading_pair: str = "WLD-USDT"
    leverage: int = Field(default=20, ge=1)
    position_mode: PositionMode = PositionMode.HEDGE
    side: TradeType = TradeType.BUY
    start_price: float = Field(default=0.38, gt=0)
    end_price: float = Field(default=0.75, gt=0)
    limit_price: float | None = Field(default=0.35, gt=0)
    total_amount_quote: float = Field(default=1000.0, gt=0)
    min_spread_between_orders: float | None = Field(default=0.001, ge=0)
    min_order_amount_quote: float | None = Field(default=5.0, gt=0)
    max_open_orders: int = Field(default=2, ge=1)
    max_orders_per_batch: int | None = Field(default=1, ge=1)
    order_frequency: int = Field(default=3, ge=0)
    activation_bounds: float | None = Field(default=None, gt=0)
    keep_position: bool = False
    triple_barrier_config: TripleBarrierConfig = GRID_TRIPLE_BARRIER

    @field_validator("side", mode="before")
    @classmethod
    def _parse_side(cls, value: Any) -> Any:
        return enum_by_name(TradeType, value)

    @field_validator("position_mode", mode="before")
    @classmethod
    def _parse_position_mode(cls, value: Any) -> Any:
        return enum_by_name(PositionMode, value)

    @field_validator(
        "limit_price",
        "min_spread_between_orders",
        "min_order_amount_quote",
        "max_orders_per_batch",
        "activation_bounds",
        mode="before",
    )
    @classmethod
    def _blank_optional(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("triple_barrier_config", mode="before")
    @classmethod
    def _parse_barrier(cls, value: Any) -> Any:
        # Hummingbot YAML writes order types as names or codes and unset numbers as ''.
        if not isinstance(value, dict):
            return value
        parsed = dict(value)
        for key in _ORDER_TYPE_KEYS:
            if key in parsed:
                if parsed[key] is None:
                    del parsed[key]
                else:
                    parsed[key] = enum_by_name(OrderType, parsed[key])
        for key in _BARRIER_NUMBER_KEYS:
            if key in parsed:
                parsed[key] = blank_to_none(parsed[key])
        if "trailing_stop" in parsed:
            parsed["trailing_stop"] = _trailing_stop(parsed["trailing_stop"])
        return parsed

    @field_validator("triple_barrier_config")
    @classmethod
    def _check_barrier(cls, value: TripleBarrierConfig) -> TripleBarrierConfig:
        if value.take_profit is None:
            raise ValueError(
                "take_profit is required: it is each grid level's take profit, e.g. 0.001"
            )
        for key in ("stop_loss_order_type", "time_limit_order_type"):
            if getattr(value, key) is not OrderType.MARKET:
                raise ValueError(
                    f"{key} must be MARKET: the grid executor closes its inventory with a market "
                    "order (Hummingbot refuses other types)"
                )
        return value

    @model_validator(mode="after")
    def _check_prices(self) -> GridStrikeConfig:
        if not self.start_price < self.end_price:
            raise ValueError(
                f"start_price ({self.start_price}) must be below end_price ({self.end_price})"
            )
        limit = self.limit_price
        if limit is not None:
            if self.side is TradeType.BUY and not limit < self.start_price:
                raise ValueError(
                    f"limit_price ({limit}) must be below start_price ({self.start_price}) for a "
                    "BUY grid: it stops the grid when the price falls out of the range"
                )
            if self.side is TradeType.SELL and not limit > self.end_price:
                raise ValueError(
                    f"limit_price ({limit}) must be above end_price ({self.end_price}) for a "
                    "SELL grid: it stops the grid when the price rises out of the range"
                )
        return self


class GridStrikeController(ControllerBase[GridStrikeConfig]):
    """One grid executor at a time, started when none is active and the close is in range.

    Upstream's controller, which the engine runs as ``grid_strike_nb``: no candles, no features,
    no stop actions; a grid ends on its own barriers (global take profit above the range for
    BUY, below it for SELL; the limit price; stop loss; time limit) or at the end of the data.
    """

    config_class = GridStrikeConfig

    def candles_configs(self) -> list[CandlesConfig]:
        """None: the grid reads the trading bars only."""
        return []

    def warnings(self) -> list[str]:
        """Fields that are accepted but do not change the simulation, when they are set."""
        config = self.config
        fields = type(config).model_fields
        notes = []
        for name in UNSIMULATED_FIELDS:
            value = getattr(config, name)
            if value != fields[name].default:
                notes.append(
                    f"{name}={value!r} is not simulated: the backtest places every grid level's "
                    "order at once, as Hummingbot's backtesting does"
                )
        barrier = config.triple_barrier_config
        if barrier.trailing_stop is not None:
            notes.append(
                "triple_barrier_config.trailing_stop is not simulated for grids (Hummingbot's "
                "backtesting ignores it too)"
            )
        for key in ("open_order_type", "take_profit_order_type"):
            if getattr(barrier, key) is OrderType.MARKET:
                notes.append(
                    f"triple_barrier_config.{key} is MARKET, but grid levels are simulated as "
                    "limit orders at their prices (a live grid would trade each level at market)"
                )
        return notes
