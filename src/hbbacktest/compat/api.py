"""Hummingbot V2's controller API, implemented on hbbacktest.

The modules under ``hbbacktest.compat.hummingbot`` re-export these names at Hummingbot's import
paths, so a controller file written for Hummingbot runs unchanged. Semantics follow Hummingbot's
``strategy_v2`` (source release 20260922), except where its backtest is wrong (see
docs/differences-from-hummingbot.md): executors are stamped with simulated time, the directional
limit counts the signal's side only, and a spot rebalance is seen by the next decision.
"""

from __future__ import annotations

import asyncio
import inspect
import math
from collections.abc import Callable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hbbacktest.config.controller import (
    CandlesConfig,
    TrailingStop,
    TripleBarrierConfig,
)
from hbbacktest.config.controller import (
    ControllerConfigBase as _NativeConfigBase,
)
from hbbacktest.config.controller import (
    DirectionalTradingControllerConfigBase as _NativeDirectionalConfig,
)
from hbbacktest.config.controller import (
    MarketMakingControllerConfigBase as _NativeMarketMakingConfig,
)
from hbbacktest.config.parsing import enum_by_name
from hbbacktest.controllers.actions import (
    CreateExecutor,
    DCASpec,
    ExecutorSpec,
    ExecutorState,
    GridSpec,
    OrderSpec,
    PositionSpec,
    StopExecutor,
)
from hbbacktest.core.enums import CloseType, OrderType, PositionMode, TradeType

ExecutorInfo = ExecutorState


def _dec(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


# --------------------------------------------------------------------------------------------
# hummingbot.core.data_type.common


class PriceType(Enum):
    """Which price ``get_price_by_type`` returns; in a backtest every one is the bar's close."""

    MidPrice = 1
    BestBid = 2
    BestAsk = 3
    LastTrade = 4
    LastOwnTrade = 5
    InventoryCost = 6
    Custom = 7


class PositionAction(Enum):
    """Open or close a perpetual position."""

    OPEN = "OPEN"
    CLOSE = "CLOSE"
    NIL = "NIL"


class PositionSide(Enum):
    """Perpetual position side."""

    LONG = "LONG"
    SHORT = "SHORT"
    BOTH = "BOTH"


class RunnableStatus(Enum):
    """Executor status (``hummingbot.strategy_v2.models.base``)."""

    NOT_STARTED = 1
    RUNNING = 2
    SHUTTING_DOWN = 3
    TERMINATED = 4


# --------------------------------------------------------------------------------------------
# executor configs


class _ExecutorConfigBase(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True, extra="allow")

    id: str | None = None
    type: str = ""
    timestamp: float | None = None
    controller_id: str = "main"

    @field_validator("side", mode="before", check_fields=False)
    @classmethod
    def _side(cls, value: Any) -> Any:
        return enum_by_name(TradeType, value)


ExecutorConfigBase = _ExecutorConfigBase


class PositionExecutorConfig(_ExecutorConfigBase):
    """Hummingbot's ``PositionExecutorConfig`` (amount in base)."""

    type: str = "position_executor"
    trading_pair: str
    connector_name: str
    side: TradeType
    entry_price: Decimal | None = None
    amount: Decimal
    triple_barrier_config: TripleBarrierConfig = Field(default_factory=TripleBarrierConfig)
    leverage: int = 1
    activation_bounds: list[Decimal] | None = None
    level_id: str | None = None


class DCAMode(Enum):
    """MAKER: limit entries; TAKER: market entries."""

    MAKER = "MAKER"
    TAKER = "TAKER"


class DCAExecutorConfig(_ExecutorConfigBase):
    """Hummingbot's ``DCAExecutorConfig``."""

    type: str = "dca_executor"
    connector_name: str
    trading_pair: str
    side: TradeType
    leverage: int = 1
    amounts_quote: list[Decimal]
    prices: list[Decimal]
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    trailing_stop: TrailingStop | None = None
    time_limit: int | None = None
    mode: DCAMode = DCAMode.MAKER
    activation_bounds: list[Decimal] | None = None
    level_id: str | None = None


class GridExecutorConfig(_ExecutorConfigBase):
    """Hummingbot's ``GridExecutorConfig``."""

    type: str = "grid_executor"
    connector_name: str
    trading_pair: str
    start_price: Decimal
    end_price: Decimal
    limit_price: Decimal
    side: TradeType = TradeType.BUY
    total_amount_quote: Decimal
    min_spread_between_orders: Decimal = Decimal("0.0005")
    min_order_amount_quote: Decimal = Decimal("5")
    max_open_orders: int = 5
    max_orders_per_batch: int | None = None
    order_frequency: int = 0
    activation_bounds: Decimal | None = None
    safe_extra_spread: Decimal = Decimal("0.0001")
    triple_barrier_config: TripleBarrierConfig
    leverage: int = 20
    level_id: str | None = None
    deduct_base_fees: bool = False
    keep_position: bool = False
    coerce_tp_to_step: bool = False


class ExecutionStrategy(Enum):
    """How an order executor places its order."""

    LIMIT = "LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"
    MARKET = "MARKET"
    LIMIT_CHASER = "LIMIT_CHASER"


class LimitChaserConfig(BaseModel):
    """Limit chaser settings (accepted; the backtest fills a chaser as a market order)."""

    distance: Decimal
    refresh_threshold: Decimal


class OrderExecutorConfig(_ExecutorConfigBase):
    """Hummingbot's ``OrderExecutorConfig`` (amount in base)."""

    type: str = "order_executor"
    trading_pair: str
    connector_name: str
    side: TradeType
    amount: Decimal
    position_action: PositionAction = PositionAction.OPEN
    price: Decimal | None = None
    chaser_config: LimitChaserConfig | None = None
    execution_strategy: ExecutionStrategy
    leverage: int = 1
    level_id: str | None = None


# --------------------------------------------------------------------------------------------
# actions


class ExecutorAction(BaseModel):
    """Base of the actions a controller returns."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    controller_id: str | None = "main"


class CreateExecutorAction(ExecutorAction):
    """Create the executor described by ``executor_config``."""

    executor_config: Any


class StopExecutorAction(ExecutorAction):
    """Stop an executor; ``keep_position`` hands its position to the position hold."""

    executor_id: str
    keep_position: bool | None = False


class StoreExecutorAction(ExecutorAction):
    """Accepted and ignored (there is no database in a backtest)."""

    executor_id: str


def executor_spec(config: Any) -> ExecutorSpec:
    """The engine spec of a Hummingbot executor config.

    Raises:
        TypeError: for executor types the backtest cannot simulate (arbitrage, XEMM, TWAP …).
    """
    if isinstance(config, PositionExecutorConfig):
        entry = _float(config.entry_price)
        return PositionSpec(
            side=TradeType(config.side),
            entry_price=entry if entry is not None else math.nan,
            amount=float(config.amount),
            barrier=config.triple_barrier_config,
            level_id=config.level_id,
        )
    if isinstance(config, DCAExecutorConfig):
        trailing = config.trailing_stop
        return DCASpec(
            side=TradeType(config.side),
            prices=tuple(float(p) for p in config.prices),
            amounts_quote=tuple(float(a) for a in config.amounts_quote),
            take_profit=_float(config.take_profit),
            stop_loss=_float(config.stop_loss),
            trailing_activation=None if trailing is None else trailing.activation_price,
            trailing_delta=None if trailing is None else trailing.trailing_delta,
            time_limit=_float(config.time_limit),
            taker=config.mode is DCAMode.TAKER,
            level_id=config.level_id,
        )
    if isinstance(config, GridExecutorConfig):
        barrier = config.triple_barrier_config
        return GridSpec(
            side=TradeType(config.side),
            start_price=float(config.start_price),
            end_price=float(config.end_price),
            limit_price=float(config.limit_price),
            total_amount_quote=float(config.total_amount_quote),
            min_spread_between_orders=float(config.min_spread_between_orders),
            min_order_amount_quote=float(config.min_order_amount_quote),
            take_profit=float(barrier.take_profit or 0.0),
            stop_loss=barrier.stop_loss,
            time_limit=_float(barrier.time_limit),
            keep_position=config.keep_position,
            level_id=config.level_id,
        )
    if isinstance(config, OrderExecutorConfig):
        strategy = {
            ExecutionStrategy.LIMIT: OrderType.LIMIT,
            ExecutionStrategy.LIMIT_MAKER: OrderType.LIMIT_MAKER,
        }.get(config.execution_strategy, OrderType.MARKET)
        return OrderSpec(
            side=TradeType(config.side),
            amount=float(config.amount),
            price=_float(config.price),
            order_type=strategy,
            level_id=config.level_id,
        )
    raise TypeError(
        f"executor config {type(config).__name__} cannot be backtested; supported: "
        "PositionExecutorConfig, DCAExecutorConfig, GridExecutorConfig, OrderExecutorConfig"
    )


# --------------------------------------------------------------------------------------------
# controller configs: Hummingbot's numeric fields are Decimals, so user code can mix them with
# Decimal prices; they are mutable, as controllers assign e.g. ``config.candles_config``.


class ControllerConfigBase(_NativeConfigBase):
    """Hummingbot's ``ControllerConfigBase``."""

    model_config = ConfigDict(frozen=False, extra="allow", validate_default=True)

    total_amount_quote: Decimal = Field(default=Decimal("100"), gt=0)  # type: ignore[assignment]

    def update_markets(self, markets: Any) -> Any:
        """Hummingbot registers the markets a controller trades; nothing to do in a backtest."""
        return markets


# Pure functions of a config's values, memoised by those values (hashable, immutable): a run
# asks for them once per executor.
_SPREADS_CACHE: dict[tuple[Any, ...], tuple[list[float], list[Decimal]]] = {}
_BARRIER_CACHE: dict[tuple[Any, ...], TripleBarrierConfig] = {}
_LEVEL_IDS: dict[tuple[type, int, int], list[str]] = {}


class MarketMakingControllerConfigBase(_NativeMarketMakingConfig):
    """Hummingbot's ``MarketMakingControllerConfigBase``."""

    model_config = ConfigDict(frozen=False, extra="allow", validate_default=True)

    total_amount_quote: Decimal = Field(default=Decimal("100"), gt=0)  # type: ignore[assignment]
    stop_loss: Decimal | None = Field(default=Decimal("0.03"), gt=0)  # type: ignore[assignment]
    take_profit: Decimal | None = Field(default=Decimal("0.02"), gt=0)  # type: ignore[assignment]
    position_rebalance_threshold_pct: Decimal = Field(default=Decimal("0.05"), ge=0)  # type: ignore[assignment]

    def get_spreads_and_amounts_in_quote(
        self, trade_type: TradeType
    ) -> tuple[list[float], list[Decimal]]:
        """Spreads and quote amounts of one side; weights normalised over both sides."""
        key = (
            trade_type,
            tuple(self.buy_spreads),
            tuple(self.sell_spreads),
            tuple(self.buy_amounts_pct or ()),
            tuple(self.sell_amounts_pct or ()),
            self.total_amount_quote,
        )
        cached = _SPREADS_CACHE.get(key)
        if cached is None:
            cached = self._spreads_and_amounts(trade_type)
            _SPREADS_CACHE[key] = cached
        return list(cached[0]), list(cached[1])

    def _spreads_and_amounts(self, trade_type: TradeType) -> tuple[list[float], list[Decimal]]:
        buy = [_dec(a) for a in self.amounts_pct(TradeType.BUY)]
        sell = [_dec(a) for a in self.amounts_pct(TradeType.SELL)]
        total = sum(buy) + sum(sell)
        chosen = buy if trade_type == TradeType.BUY else sell
        spreads = self.buy_spreads if trade_type == TradeType.BUY else self.sell_spreads
        return list(spreads), [a / total * self.total_amount_quote for a in chosen]

    @property
    def triple_barrier_config(self) -> TripleBarrierConfig:
        """The barrier every level's executor gets (built once per distinct set of fields)."""
        key = (
            self.stop_loss,
            self.take_profit,
            self.time_limit,
            self.trailing_stop,
            self.take_profit_order_type,
        )
        cached = _BARRIER_CACHE.get(key)
        if cached is None:
            cached = self.barrier(OrderType.LIMIT)
            _BARRIER_CACHE[key] = cached
        return cached

    def get_required_base_amount(self, reference_price: Decimal) -> Decimal:
        """Base inventory the sell levels need at ``reference_price``."""
        _, amounts = self.get_spreads_and_amounts_in_quote(TradeType.SELL)
        return sum(amounts, Decimal(0)) / _dec(reference_price)

    def update_markets(self, markets: Any) -> Any:
        """Nothing to register in a backtest."""
        return markets


class DirectionalTradingControllerConfigBase(_NativeDirectionalConfig):
    """Hummingbot's ``DirectionalTradingControllerConfigBase``."""

    model_config = ConfigDict(frozen=False, extra="allow", validate_default=True)

    total_amount_quote: Decimal = Field(default=Decimal("100"), gt=0)  # type: ignore[assignment]
    stop_loss: Decimal | None = Field(default=Decimal("0.03"), gt=0)  # type: ignore[assignment]
    take_profit: Decimal | None = Field(default=Decimal("0.02"), gt=0)  # type: ignore[assignment]

    def update_markets(self, markets: Any) -> Any:
        """Nothing to register in a backtest."""
        return markets


# --------------------------------------------------------------------------------------------
# market data


class MarketDataProvider:
    """Hummingbot's ``MarketDataProvider`` over one run's candles, never ahead of the bar."""

    def __init__(self, candles: dict[tuple[str, str, str], pd.DataFrame], bars: Any) -> None:
        self._candles = candles
        self._bars = bars
        self._row = len(bars) - 1
        self._full = True

    def _at(self, row: int, full: bool) -> None:
        self._row = row
        self._full = full

    def time(self) -> float:
        """The current bar's timestamp (Hummingbot labels bars by open time)."""
        return float(self._bars.ts[self._row])

    def get_price_by_type(
        self, connector_name: str, trading_pair: str, price_type: Any = PriceType.MidPrice
    ) -> Decimal:
        """The current bar's close, whatever the price type (as Hummingbot's backtest)."""
        return Decimal(repr(float(self._bars.close[self._row])))

    def get_candles_df(
        self, connector_name: str, trading_pair: str, interval: str, max_records: int = 500
    ) -> pd.DataFrame:
        """The candles of a declared feed, warm-up history included.

        While features are computed (once per run) this is the whole run's frame: write
        indicators that look back only (rolling windows) — the engine shows each row once its
        candle has closed, so a causal indicator cannot see the future.
        """
        key = (connector_name, trading_pair.upper(), interval)
        if key not in self._candles:
            declared = ", ".join(f"{c}/{p}/{i}" for c, p, i in self._candles) or "none"
            raise KeyError(
                f"no candles for {connector_name}/{trading_pair}/{interval}: declare them in "
                f"get_candles_config() (declared: {declared})"
            )
        return self._candles[key].copy()

    def quantize_order_amount(self, connector_name: str, trading_pair: str, amount: Any) -> Any:
        """No exchange trading rules in a backtest: amounts are kept as given."""
        return amount

    def quantize_order_price(self, connector_name: str, trading_pair: str, price: Any) -> Any:
        """No exchange trading rules in a backtest: prices are kept as given."""
        return price

    def get_trading_rules(self, connector_name: str, trading_pair: str) -> None:
        """No exchange trading rules in a backtest."""
        return None

    def initialize_candles_feed(self, config: Any) -> None:
        """Feeds are loaded by the engine from the controller's candle configs."""


# --------------------------------------------------------------------------------------------
# controllers


class ControllerBase:
    """Hummingbot's ``ControllerBase``: ``update_processed_data`` + ``determine_executor_actions``."""

    def __init__(
        self,
        config: Any,
        market_data_provider: MarketDataProvider | None = None,
        actions_queue: Any = None,
        update_interval: float = 1.0,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.config = config
        self.market_data_provider: MarketDataProvider = market_data_provider  # type: ignore[assignment]
        self.actions_queue = actions_queue
        self.update_interval = update_interval
        self.executors_info: list[ExecutorState] = []
        self.positions_held: list[Any] = []
        self.processed_data: dict[str, Any] = {}

    def get_candles_config(self) -> list[CandlesConfig]:
        """Candle feeds to load (default: the config's ``candles_config``)."""
        return list(getattr(self.config, "candles_config", []) or [])

    async def update_processed_data(self) -> None:
        """Compute ``processed_data`` (default: nothing)."""

    def determine_executor_actions(self) -> list[Any]:
        """Actions for this bar (default: none)."""
        return []

    def filter_executors(
        self,
        executors: Sequence[ExecutorState] | None = None,
        executor_filter: Any = None,
        filter_func: Callable[[ExecutorState], bool] | None = None,
    ) -> list[ExecutorState]:
        """The executors (default: all visible) passing ``filter_func``."""
        pool = self.executors_info if executors is None else executors
        if filter_func is None:
            return list(pool)
        return [executor for executor in pool if filter_func(executor)]

    def get_active_executors(self, *args: Any, **kwargs: Any) -> list[ExecutorState]:
        """Active executors."""
        return [e for e in self.executors_info if e.is_active]

    def get_completed_executors(self, *args: Any, **kwargs: Any) -> list[ExecutorState]:
        """Executors that ended (within the engine's retention window)."""
        return [e for e in self.executors_info if not e.is_active]

    def get_current_price(
        self, connector_name: str, trading_pair: str, price_type: Any = PriceType.MidPrice
    ) -> Decimal:
        """The bar's close."""
        return self.market_data_provider.get_price_by_type(connector_name, trading_pair, price_type)

    def to_format_status(self) -> list[str]:
        """Status lines (unused in a backtest)."""
        return []

    def get_custom_info(self) -> dict[str, Any]:
        """Custom info (unused in a backtest)."""
        return {}


class MarketMakingControllerBase(ControllerBase):
    """Hummingbot's ``MarketMakingControllerBase``: one executor per free level."""

    def determine_executor_actions(self) -> list[Any]:
        """Creates first, then stops (Hummingbot's order)."""
        return [*self.create_actions_proposal(), *self.stop_actions_proposal()]

    def create_actions_proposal(self) -> list[Any]:
        """Rebalance (spot), then one executor per level not working."""
        actions: list[Any] = []
        rebalance = self.check_position_rebalance()
        if rebalance is not None:
            actions.append(rebalance)
        for level_id in self.get_levels_to_execute():
            price, amount = self.get_price_and_amount(level_id)
            executor_config = self.get_executor_config(level_id, price, amount)
            if executor_config is not None:
                actions.append(
                    CreateExecutorAction(
                        controller_id=self.config.id, executor_config=executor_config
                    )
                )
        return actions

    def get_levels_to_execute(self) -> list[str]:
        """Levels without an active executor and not cooling down after a stop loss."""
        now = self.market_data_provider.time()
        cooldown = self.config.cooldown_time
        working = {
            e.custom_info["level_id"]
            for e in self.executors_info
            if e.is_active
            or (e.close_type == CloseType.STOP_LOSS and now - (e.close_timestamp or 0.0) < cooldown)
        }
        return self.get_not_active_levels_ids(list(working))

    def stop_actions_proposal(self) -> list[Any]:
        """Refreshes, then early stops."""
        return [*self.executors_to_refresh(), *self.executors_to_early_stop()]

    def executors_to_refresh(self) -> list[Any]:
        """Unfilled executors older than ``executor_refresh_time``."""
        now = self.market_data_provider.time()
        refresh = self.config.executor_refresh_time
        return [
            StopExecutorAction(controller_id=self.config.id, executor_id=e.id)
            for e in self.executors_info
            if not e.is_trading and e.is_active and now - e.timestamp > refresh
        ]

    def executors_to_early_stop(self) -> list[Any]:
        """None by default."""
        return []

    async def update_processed_data(self) -> None:
        """Reference price = mid price, spread multiplier = 1."""
        price = self.market_data_provider.get_price_by_type(
            self.config.connector_name, self.config.trading_pair, PriceType.MidPrice
        )
        self.processed_data = {"reference_price": Decimal(price), "spread_multiplier": Decimal(1)}

    def get_executor_config(self, level_id: str, price: Decimal, amount: Decimal) -> Any:
        """The executor for a level; controllers override it."""
        raise NotImplementedError("get_executor_config must be implemented by the controller")

    def get_price_and_amount(self, level_id: str) -> tuple[Decimal, Decimal]:
        """The level's order price and base amount."""
        level = self.get_level_from_level_id(level_id)
        trade_type = self.get_trade_type_from_level_id(level_id)
        spreads, amounts_quote = self.config.get_spreads_and_amounts_in_quote(trade_type)
        reference_price = _dec(self.processed_data["reference_price"])
        spread = _dec(spreads[level]) * _dec(self.processed_data["spread_multiplier"])
        side = Decimal(-1) if trade_type == TradeType.BUY else Decimal(1)
        price = reference_price * (1 + side * spread)
        if price.is_finite() and price <= 0:
            # A buy spread of 100 % or more: no amount can be bought at that price (dividing
            # would raise DivisionByZero at 0). The adapter drops the executor and warns.
            return price, Decimal(0)
        return price, _dec(amounts_quote[level]) / price

    def get_level_id_from_side(self, trade_type: TradeType, level: int) -> str:
        """The level id of a side and level number (``buy_0``, ``sell_1`` …)."""
        return f"{trade_type.name.lower()}_{level}"

    def get_trade_type_from_level_id(self, level_id: str) -> TradeType:
        """BUY for ``buy_*`` ids."""
        return TradeType.BUY if level_id.startswith("buy") else TradeType.SELL

    def get_level_from_level_id(self, level_id: str) -> int:
        """The level number of an id."""
        return int(level_id.split("_")[1])

    def get_not_active_levels_ids(self, active_levels_ids: list[str]) -> list[str]:
        """Every buy then sell level id not in ``active_levels_ids``."""
        active = set(active_levels_ids)
        key = (type(self), len(self.config.buy_spreads), len(self.config.sell_spreads))
        ids = _LEVEL_IDS.get(key)
        if ids is None:
            ids = self._level_ids()
            _LEVEL_IDS[key] = ids
        return [level_id for level_id in ids if level_id not in active]

    def _level_ids(self) -> list[str]:
        ids = [
            self.get_level_id_from_side(TradeType.BUY, i)
            for i in range(len(self.config.buy_spreads))
        ]
        ids += [
            self.get_level_id_from_side(TradeType.SELL, i)
            for i in range(len(self.config.sell_spreads))
        ]
        return ids

    def check_position_rebalance(self) -> Any:
        """A MARKET order bringing spot inventory to what the sell levels need (see the module)."""
        config = self.config
        if "_perpetual" in config.connector_name or config.skip_rebalance:
            return None
        if "reference_price" not in self.processed_data:
            return None
        if any(
            e.is_active and e.custom_info.get("level_id") == "position_rebalance"
            for e in self.executors_info
        ):
            return None
        reference = _dec(self.processed_data["reference_price"])
        if not reference.is_finite() or reference <= 0:
            return None
        required = config.get_required_base_amount(reference)
        current = self.get_current_base_position()
        diff = required - current
        if abs(diff) > required * _dec(config.position_rebalance_threshold_pct):
            side = TradeType.BUY if diff > 0 else TradeType.SELL
            return self.create_position_rebalance_order(side, abs(diff))
        return None

    def get_current_base_position(self) -> Decimal:
        """Net base of the position hold."""
        total = Decimal(0)
        for position in self.positions_held:
            amount = _dec(position.amount)
            total += amount if position.side == TradeType.BUY else -amount
        return total

    def create_position_rebalance_order(self, side: TradeType, amount: Decimal) -> Any:
        """The MARKET order executor of a rebalance."""
        return CreateExecutorAction(
            controller_id=self.config.id,
            executor_config=OrderExecutorConfig(
                timestamp=self.market_data_provider.time(),
                connector_name=self.config.connector_name,
                trading_pair=self.config.trading_pair,
                execution_strategy=ExecutionStrategy.MARKET,
                side=side,
                amount=amount,
                price=_dec(self.processed_data["reference_price"]),
                level_id="position_rebalance",
                controller_id=self.config.id or "main",
            ),
        )


class DirectionalTradingControllerBase(ControllerBase):
    """Hummingbot's ``DirectionalTradingControllerBase``: a signal opens an executor."""

    def determine_executor_actions(self) -> list[Any]:
        """Creates, then stops."""
        return [*self.create_actions_proposal(), *self.stop_actions_proposal()]

    async def update_processed_data(self) -> None:
        """No signal by default."""
        self.processed_data = {"signal": 0, "features": pd.DataFrame()}

    def create_actions_proposal(self) -> list[Any]:
        """At most one executor per bar, on a non-zero signal."""
        signal = self.processed_data.get("signal", 0)
        if signal is None or (isinstance(signal, float) and math.isnan(signal)) or signal == 0:
            return []
        if not self.can_create_executor(signal):
            return []
        price = self.market_data_provider.get_price_by_type(
            self.config.connector_name, self.config.trading_pair, PriceType.MidPrice
        )
        amount = (
            _dec(self.config.total_amount_quote) / price / _dec(self.config.max_executors_per_side)
        )
        trade_type = TradeType.BUY if signal > 0 else TradeType.SELL
        executor_config = self.get_executor_config(trade_type, price, amount)
        if executor_config is None:
            return []
        return [CreateExecutorAction(controller_id=self.config.id, executor_config=executor_config)]

    def can_create_executor(self, signal: Any) -> bool:
        """Fewer than ``max_executors_per_side`` active on the signal's side, cooldown over.

        Hummingbot counts both sides for sell signals (an operator-precedence slip); the side
        of the signal is what the limit means.
        """
        side = TradeType.BUY if signal > 0 else TradeType.SELL
        active = [e for e in self.executors_info if e.is_active and e.side == side]
        newest = max((e.timestamp for e in active), default=0.0)
        now = self.market_data_provider.time()
        return (
            len(active) < self.config.max_executors_per_side
            and now - newest > self.config.cooldown_time
        )

    def stop_actions_proposal(self) -> list[Any]:
        """None by default."""
        return []

    def get_executor_config(self, trade_type: TradeType, price: Decimal, amount: Decimal) -> Any:
        """A position executor at market with the config's triple barrier."""
        return PositionExecutorConfig(
            timestamp=self.market_data_provider.time(),
            connector_name=self.config.connector_name,
            trading_pair=self.config.trading_pair,
            side=trade_type,
            entry_price=price,
            amount=amount,
            triple_barrier_config=self.config.triple_barrier_config,
            leverage=self.config.leverage,
        )


def run_coroutine(value: Any) -> Any:
    """Run ``update_processed_data`` whether the user wrote it ``async`` or not."""
    if inspect.isawaitable(value):
        return asyncio.run(_await(value))
    return value


async def _await(value: Any) -> Any:
    return await value


class Distributions:
    """Hummingbot's ``Distributions`` helpers (lists of Decimals)."""

    @staticmethod
    def linear(n_levels: int, start: float = 0.0, end: float = 1.0) -> list[Decimal]:
        """``n_levels`` evenly spaced values from ``start`` to ``end``."""
        if n_levels == 1:
            return [Decimal(str(start))]
        return [Decimal(str(v)) for v in np.linspace(start, end, n_levels)]

    @staticmethod
    def geometric(n_levels: int, start: float, ratio: float) -> list[Decimal]:
        """``start * ratio**i``."""
        return [Decimal(str(start * ratio**i)) for i in range(n_levels)]

    @staticmethod
    def fibonacci(n_levels: int, start: float = 0.01) -> list[Decimal]:
        """``start`` times the Fibonacci numbers (1, 2, 3, 5 …)."""
        out: list[Decimal] = []
        a, b = 1, 2
        for _ in range(n_levels):
            out.append(Decimal(str(start * a)))
            a, b = b, a + b
        return out

    @staticmethod
    def arithmetic(n_levels: int, start: float, step: float) -> list[Decimal]:
        """``start + step * i``."""
        return [Decimal(str(start + step * i)) for i in range(n_levels)]


class ClientFieldData:
    """Old-style prompt metadata on config fields (accepted and ignored)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.kwargs = kwargs


__all__ = [
    "CandlesConfig",
    "ClientFieldData",
    "CloseType",
    "ControllerBase",
    "ControllerConfigBase",
    "CreateExecutor",
    "CreateExecutorAction",
    "DCAExecutorConfig",
    "DCAMode",
    "DirectionalTradingControllerBase",
    "DirectionalTradingControllerConfigBase",
    "Distributions",
    "ExecutionStrategy",
    "ExecutorAction",
    "ExecutorConfigBase",
    "ExecutorInfo",
    "GridExecutorConfig",
    "LimitChaserConfig",
    "MarketDataProvider",
    "MarketMakingControllerBase",
    "MarketMakingControllerConfigBase",
    "OrderExecutorConfig",
    "OrderType",
    "PositionAction",
    "PositionExecutorConfig",
    "PositionMode",
    "PositionSide",
    "PriceType",
    "RunnableStatus",
    "StopExecutor",
    "StopExecutorAction",
    "StoreExecutorAction",
    "TradeType",
    "TrailingStop",
    "TripleBarrierConfig",
    "executor_spec",
]
