"""Controller configuration models, accepting Hummingbot V2 YAML/JSON configs as they are.

Configs are frozen after validation. Unknown keys are kept (``model_extra``) and reported by
:func:`config_warnings` instead of failing, because configs found in the wild carry keys from
other Hummingbot versions.
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hbbacktest.config.parsing import blank_to_none, comma_list, enum_by_name
from hbbacktest.core.enums import OrderType, PositionMode, TradeType
from hbbacktest.core.time import interval_to_seconds


def _trailing_stop(value: Any) -> Any:
    """Read Hummingbot's ``"activation_price,trailing_delta"`` string form of a trailing stop."""
    value = blank_to_none(value)
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",")]
        if len(parts) != 2:
            raise ValueError(
                f"expected 'activation_price,trailing_delta' like '0.015,0.003', got {value!r}"
            )
        return {"activation_price": parts[0], "trailing_delta": parts[1]}
    return value


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=False)


class TrailingStop(_Frozen):
    """Trailing stop of a position (fractions, 0.01 = 1 %).

    It activates once net PnL % exceeds ``activation_price``, then closes the position when PnL
    falls ``trailing_delta`` below its best value since activation.
    """

    activation_price: float = Field(ge=0)
    trailing_delta: float = Field(gt=0)


class TripleBarrierConfig(_Frozen):
    """Take profit, stop loss, time limit and trailing stop of one position (fractions, seconds)."""

    stop_loss: float | None = Field(default=None, gt=0)
    take_profit: float | None = Field(default=None, gt=0)
    time_limit: int | None = Field(default=None, gt=0)
    trailing_stop: TrailingStop | None = None
    open_order_type: OrderType = OrderType.LIMIT
    take_profit_order_type: OrderType = OrderType.MARKET
    stop_loss_order_type: OrderType = OrderType.MARKET
    time_limit_order_type: OrderType = OrderType.MARKET


class CandlesConfig(_Frozen):
    """A candle feed a controller reads (Hummingbot's ``CandlesConfig``)."""

    connector: str
    trading_pair: str
    interval: str = "1m"
    max_records: int = Field(default=500, gt=0)

    @field_validator("interval")
    @classmethod
    def _check_interval(cls, value: str) -> str:
        interval_to_seconds(value)
        return value


class ControllerConfigBase(BaseModel):
    """Fields every Hummingbot V2 controller config has.

    Attributes:
        id: the controller id; optional here (Hummingbot generates one), used as the run label.
        controller_name: which controller runs, e.g. ``pmm_simple``.
        controller_type: its family, e.g. ``market_making``.
        connector_name: the exchange connector, e.g. ``binance`` or ``binance_perpetual``.
        trading_pair: ``BASE-QUOTE``, e.g. ``BTC-USDT``.
        total_amount_quote: capital in quote currency the controller may deploy.
    """

    model_config = ConfigDict(frozen=True, extra="allow", validate_default=True)

    id: str | None = None
    controller_name: str
    controller_type: str = "generic"
    connector_name: str = "binance_perpetual"
    trading_pair: str = "WLD-USDT"
    total_amount_quote: float = Field(default=100.0, gt=0)
    manual_kill_switch: bool = False
    initial_positions: list[dict[str, Any]] = Field(default_factory=list)
    candles_config: list[CandlesConfig] = Field(default_factory=list)

    @field_validator("trading_pair")
    @classmethod
    def _check_pair(cls, value: str) -> str:
        parts = value.split("-")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"expected BASE-QUOTE like 'BTC-USDT', got {value!r}")
        return value.upper()

    @field_validator("connector_name")
    @classmethod
    def _check_connector(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty; use an exchange like 'binance' or 'demo'")
        return value.strip()

    @property
    def is_perpetual(self) -> bool:
        """True for perpetual-futures connectors (``*_perpetual``)."""
        return "_perpetual" in self.connector_name


class TripleBarrierFields(BaseModel):
    """Risk fields shared by the market-making and directional families (Hummingbot defaults)."""

    model_config = ConfigDict(frozen=True, extra="allow", validate_default=True)

    leverage: int = Field(default=20, ge=1)
    position_mode: PositionMode = PositionMode.HEDGE
    stop_loss: float | None = Field(default=0.03, gt=0)
    take_profit: float | None = Field(default=0.02, gt=0)
    time_limit: int | None = Field(default=2700, gt=0)
    take_profit_order_type: OrderType = OrderType.LIMIT
    trailing_stop: TrailingStop | None = None

    @field_validator("stop_loss", "take_profit", "time_limit", mode="before")
    @classmethod
    def _blank_barrier(cls, value: Any) -> Any:
        return blank_to_none(value)

    @field_validator("trailing_stop", mode="before")
    @classmethod
    def _parse_trailing_stop(cls, value: Any) -> Any:
        return _trailing_stop(value)

    @field_validator("take_profit_order_type", mode="before")
    @classmethod
    def _parse_tp_order_type(cls, value: Any) -> Any:
        # Hummingbot reads a missing/None take-profit order type as MARKET.
        return OrderType.MARKET if value is None else enum_by_name(OrderType, value)

    @field_validator("position_mode", mode="before")
    @classmethod
    def _parse_position_mode(cls, value: Any) -> Any:
        return enum_by_name(PositionMode, value)

    def barrier(self, open_order_type: OrderType) -> TripleBarrierConfig:
        """The executors' triple barrier; stop loss and time limit close with market orders."""
        return TripleBarrierConfig(
            stop_loss=self.stop_loss,
            take_profit=self.take_profit,
            time_limit=self.time_limit,
            trailing_stop=self.trailing_stop,
            open_order_type=open_order_type,
            take_profit_order_type=self.take_profit_order_type,
            stop_loss_order_type=OrderType.MARKET,
            time_limit_order_type=OrderType.MARKET,
        )


class MarketMakingControllerConfigBase(TripleBarrierFields, ControllerConfigBase):
    """Market-making family: one position executor per level (``buy_0``, ``sell_1`` …).

    Defaults are Hummingbot's. Spreads are fractions of the reference price (0.01 = 1 %), amounts
    are relative weights normalised over both sides and applied to ``total_amount_quote``.
    """

    controller_type: str = "market_making"
    buy_spreads: list[float] = Field(default=[0.01, 0.02])
    sell_spreads: list[float] = Field(default=[0.01, 0.02])
    buy_amounts_pct: list[float] | None = None
    sell_amounts_pct: list[float] | None = None
    executor_refresh_time: int = Field(default=300, ge=0)
    cooldown_time: int = Field(default=15, ge=0)
    position_rebalance_threshold_pct: float = Field(default=0.05, ge=0)
    skip_rebalance: bool = False

    @field_validator("buy_spreads", "sell_spreads", mode="before")
    @classmethod
    def _parse_spreads(cls, value: Any) -> Any:
        return comma_list(value)

    @field_validator("buy_spreads", "sell_spreads")
    @classmethod
    def _check_spreads(cls, value: list[float]) -> list[float]:
        if any(spread < 0 for spread in value):
            raise ValueError(f"spreads must be >= 0 (fractions, 0.01 = 1 %), got {value}")
        return value

    @field_validator("buy_amounts_pct", "sell_amounts_pct", mode="before")
    @classmethod
    def _parse_amounts(cls, value: Any) -> Any:
        return comma_list(blank_to_none(value)) or None

    @field_validator("buy_amounts_pct", "sell_amounts_pct")
    @classmethod
    def _check_amounts(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if value is None:
            return None
        if any(amount < 0 for amount in value):
            raise ValueError(f"amounts must be >= 0, got {value}")
        spreads_field = str(info.field_name).replace("amounts_pct", "spreads")
        spreads = info.data.get(spreads_field)
        if spreads is not None and len(value) != len(spreads):
            raise ValueError(
                f"has {len(value)} values but {spreads_field} has {len(spreads)}; give one "
                "amount per spread, or leave it empty to split equally"
            )
        return value

    @model_validator(mode="after")
    def _check_levels(self) -> MarketMakingControllerConfigBase:
        if not self.buy_spreads and not self.sell_spreads:
            raise ValueError("buy_spreads and sell_spreads are both empty: give at least one level")
        total = sum(self.amounts_pct(TradeType.BUY)) + sum(self.amounts_pct(TradeType.SELL))
        if total <= 0:
            raise ValueError("buy_amounts_pct and sell_amounts_pct sum to 0: no level has capital")
        return self

    def amounts_pct(self, side: TradeType) -> list[float]:
        """The amount weights of one side (equal weights when not given)."""
        spreads = self.buy_spreads if side is TradeType.BUY else self.sell_spreads
        given = self.buy_amounts_pct if side is TradeType.BUY else self.sell_amounts_pct
        return list(given) if given is not None else [1.0] * len(spreads)

    def spreads_and_amounts_quote(self, side: TradeType) -> tuple[list[float], list[float]]:
        """Spreads and quote amounts of one side; weights are normalised over both sides."""
        total = sum(self.amounts_pct(TradeType.BUY)) + sum(self.amounts_pct(TradeType.SELL))
        spreads = self.buy_spreads if side is TradeType.BUY else self.sell_spreads
        amounts = [w / total * self.total_amount_quote for w in self.amounts_pct(side)]
        return list(spreads), amounts

    @property
    def triple_barrier_config(self) -> TripleBarrierConfig:
        """The barrier every level's executor gets (limit open: a maker controller)."""
        return self.barrier(OrderType.LIMIT)


class DirectionalTradingControllerConfigBase(TripleBarrierFields, ControllerConfigBase):
    """Directional family: a signal (-1/0/1) opens market-entry position executors.

    Defaults are Hummingbot's. At most ``max_executors_per_side`` executors are active per side,
    and a new one on a side waits ``cooldown_time`` seconds after the newest active one there.
    """

    controller_type: str = "directional_trading"
    max_executors_per_side: int = Field(default=2, ge=1)
    cooldown_time: int = Field(default=300, ge=0)

    @property
    def triple_barrier_config(self) -> TripleBarrierConfig:
        """The barrier of every executor (market open: a taker controller)."""
        return self.barrier(OrderType.MARKET)


def config_warnings(config: ControllerConfigBase) -> list[str]:
    """Recoverable oddities of a validated config, for ``result.warnings``.

    Unknown keys are ignored with a warning (configs from other Hummingbot versions carry them).
    """
    warnings = []
    expected_type = type(config).model_fields["controller_type"].default
    if config.controller_type != expected_type:
        warnings.append(
            f"controller_type is {config.controller_type!r} but {config.controller_name} is a "
            f"{expected_type!r} controller; the type was ignored"
        )
    for key in sorted(config.model_extra or {}):
        warnings.append(
            f"config key {key!r} is not a field of {config.controller_name} and was ignored"
        )
    return warnings
