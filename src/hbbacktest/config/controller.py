"""Controller configuration models, accepting Hummingbot V2 YAML/JSON configs as they are.

Configs are frozen after validation. Unknown keys are kept (``model_extra``) and reported by
:func:`config_warnings` instead of failing, because configs found in the wild carry keys from
other Hummingbot versions.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hbbacktest.config.limits import (
    MAX_DURATION_S,
    MAX_LEVELS_PER_SIDE,
    MAX_LEVERAGE,
    MAX_LIST_ITEMS,
    MAX_LOOKBACK,
    MAX_NAME_CHARS,
    MAX_PAIR_PART_CHARS,
    MAX_TEXT_CHARS,
    check_list_length,
    check_number_input,
    json_safe,
    numeric_field,
)
from hbbacktest.config.parsing import blank_to_none, comma_list, enum_by_name
from hbbacktest.core.enums import OrderType, PositionMode, TradeType
from hbbacktest.core.time import interval_to_seconds

# Hummingbot connector names: lower-case words joined by underscores (binance_perpetual, gate_io).
_CONNECTOR_RE = re.compile(rf"^[a-z0-9][a-z0-9_]{{0,{MAX_NAME_CHARS - 1}}}$")
# BASE-QUOTE with token symbols such as 1000PEPE or USDC.E.
_TOKEN = rf"[A-Z0-9][A-Z0-9.]{{0,{MAX_PAIR_PART_CHARS - 1}}}"
_PAIR_RE = re.compile(rf"^{_TOKEN}-{_TOKEN}$")
_NAME_RE = re.compile(rf"^[A-Za-z_][A-Za-z0-9_]{{0,{MAX_NAME_CHARS - 1}}}$")


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 40 else repr(value[:40]) + f"… ({len(value)} characters)"


def check_connector(value: Any) -> str:
    """A Hummingbot connector name (``binance``, ``binance_perpetual``), lower-cased.

    Raises:
        ValueError: for anything that is not lower-case letters, digits and ``_``.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected a connector name like 'binance', got {value!r}")
    name = value.strip().lower()
    if not _CONNECTOR_RE.match(name):
        raise ValueError(
            f"expected a Hummingbot connector name like 'binance' or 'binance_perpetual' "
            f"(letters, digits and '_', at most {MAX_NAME_CHARS}), got {_shown(value)}"
        )
    return name


def check_pair(value: Any) -> str:
    """A Hummingbot trading pair ``BASE-QUOTE`` (``BTC-USDT``), upper-cased.

    Raises:
        ValueError: naming the expected form, with a suggestion for ``BTCUSDT``/``BTC/USDT``.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected BASE-QUOTE like 'BTC-USDT', got {value!r}")
    pair = value.strip().upper()
    if _PAIR_RE.match(pair):
        return pair
    hint = ""
    for sep in ("/", "_", ":"):
        if sep in pair and len(pair) <= 2 * MAX_PAIR_PART_CHARS + 1:
            hint = f" (did you mean {pair.split(':')[0].replace(sep, '-')!r}?)"
            break
    else:
        for quote in ("USDT", "USDC", "USD", "BTC", "ETH", "EUR", "FDUSD"):
            if pair.endswith(quote) and len(pair) > len(quote) and len(pair) < 40:
                hint = f" (did you mean {pair[: -len(quote)] + '-' + quote!r}?)"
                break
    raise ValueError(
        f"expected Hummingbot's BASE-QUOTE like 'BTC-USDT' (each part letters, digits or '.', "
        f"at most {MAX_PAIR_PART_CHARS}), got {_shown(value)}{hint}"
    )


# Field types that validate (and normalise) Hummingbot's names wherever a model uses them.
ConnectorName = Annotated[str, BeforeValidator(check_connector)]
TradingPair = Annotated[str, BeforeValidator(check_pair)]


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
    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=False, allow_inf_nan=False
    )


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
    time_limit: int | None = Field(default=None, gt=0, le=MAX_DURATION_S)
    trailing_stop: TrailingStop | None = None
    open_order_type: OrderType = OrderType.LIMIT
    take_profit_order_type: OrderType = OrderType.MARKET
    stop_loss_order_type: OrderType = OrderType.MARKET
    time_limit_order_type: OrderType = OrderType.MARKET


class CandlesConfig(_Frozen):
    """A candle feed a controller reads (Hummingbot's ``CandlesConfig``)."""

    connector: ConnectorName
    trading_pair: TradingPair
    interval: str = "1m"
    max_records: int = Field(default=500, gt=0, le=MAX_LOOKBACK)

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

    model_config = ConfigDict(
        frozen=True, extra="allow", validate_default=True, allow_inf_nan=False
    )

    id: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    controller_name: str
    controller_type: str = "generic"
    connector_name: ConnectorName = "binance_perpetual"
    trading_pair: TradingPair = "WLD-USDT"
    total_amount_quote: float = Field(default=100.0, gt=0, description="Capital (quote).")
    manual_kill_switch: bool = False
    initial_positions: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)
    candles_config: list[CandlesConfig] = Field(default_factory=list, max_length=MAX_LIST_ITEMS)

    @model_validator(mode="before")
    @classmethod
    def _plain_free_form(cls, data: Any) -> Any:
        # Unknown keys and initial_positions are only echoed into the result: make them plain
        # JSON here, so a NaN or a 100-digit integer there can never stop the result being written.
        if not isinstance(data, dict):
            return data
        out = {}
        for key, value in data.items():
            known = key in cls.model_fields and key != "initial_positions"
            out[key] = value if known else json_safe(value)
        return out

    @field_validator("*", mode="before")
    @classmethod
    def _plain_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        check_list_length(value)
        if info.field_name and numeric_field(cls, info.field_name):
            check_number_input(value)
        if info.field_name == "interval" and isinstance(value, str):
            interval_to_seconds(value)  # every controller's candle interval, checked at load
        return value

    @field_validator("id", mode="before")
    @classmethod
    def _id_text(cls, value: Any) -> Any:
        # Hummingbot ids are text, but YAML reads `id: 1` as a number.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @field_validator("controller_name", "controller_type")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                f"expected a name of letters, digits and '_' like 'pmm_simple' (at most "
                f"{MAX_NAME_CHARS}), got {_shown(value)}"
            )
        return value

    @property
    def is_perpetual(self) -> bool:
        """True for perpetual-futures connectors (``*_perpetual``)."""
        return "_perpetual" in self.connector_name

    def degenerate_warnings(self) -> list[str]:
        """Legal settings that cannot do what was probably meant (a side that never quotes …).

        Subclasses extend the list; :func:`config_warnings` puts it in ``result.warnings``.
        """
        notes = []
        stop_loss = getattr(self, "stop_loss", None)
        if isinstance(stop_loss, float) and stop_loss >= 1:
            notes.append(
                f"stop_loss {stop_loss:g} is a loss of {stop_loss:.0%} of the entry: a long "
                "position can never reach it (stop losses are fractions, 0.03 = 3 %)"
            )
        return notes


class TripleBarrierFields(BaseModel):
    """Risk fields shared by the market-making and directional families (Hummingbot defaults)."""

    model_config = ConfigDict(
        frozen=True, extra="allow", validate_default=True, allow_inf_nan=False
    )

    leverage: int = Field(default=20, ge=1, le=MAX_LEVERAGE)
    position_mode: PositionMode = PositionMode.HEDGE
    stop_loss: float | None = Field(
        default=0.03, gt=0, description="Stop loss, fraction of the entry (0.03 = 3 %)."
    )
    take_profit: float | None = Field(
        default=0.02, gt=0, description="Take profit, fraction of the entry (0.02 = 2 %)."
    )
    time_limit: int | None = Field(
        default=2700, gt=0, le=MAX_DURATION_S, description="Executor lifetime (seconds)."
    )
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

    # Spreads are fractions of the price (pmm_dynamic's are NATR multiples and say False).
    spreads_are_fractions: ClassVar[bool] = True

    controller_type: str = "market_making"
    buy_spreads: list[float] = Field(default=[0.01, 0.02], max_length=MAX_LEVELS_PER_SIDE)
    sell_spreads: list[float] = Field(default=[0.01, 0.02], max_length=MAX_LEVELS_PER_SIDE)
    buy_amounts_pct: list[float] | None = Field(default=None, max_length=MAX_LEVELS_PER_SIDE)
    sell_amounts_pct: list[float] | None = Field(default=None, max_length=MAX_LEVELS_PER_SIDE)
    executor_refresh_time: int = Field(default=300, ge=0, le=MAX_DURATION_S)
    cooldown_time: int = Field(default=15, ge=0, le=MAX_DURATION_S)
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

    def degenerate_warnings(self) -> list[str]:
        """A buy spread of 1 (100 %) or more prices that level at or below zero: it never quotes."""
        notes = super().degenerate_warnings()
        never = [s for s in self.buy_spreads if s >= 1] if self.spreads_are_fractions else []
        if never:
            notes.append(
                f"buy_spreads {never} are 100 % or more below the price: those buy levels would "
                "be priced at or below 0 and never quote (spreads are fractions, 0.01 = 1 %)"
            )
        return notes

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
    max_executors_per_side: int = Field(default=2, ge=1, le=MAX_LIST_ITEMS)
    cooldown_time: int = Field(default=300, ge=0, le=MAX_DURATION_S)

    @property
    def triple_barrier_config(self) -> TripleBarrierConfig:
        """The barrier of every executor (market open: a taker controller)."""
        return self.barrier(OrderType.MARKET)


def config_warnings(config: ControllerConfigBase) -> list[str]:
    """Recoverable oddities of a validated config, for ``result.warnings``.

    Unknown keys are ignored with a warning (configs from other Hummingbot versions carry them).
    """
    warnings = config.degenerate_warnings()
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
