"""Controller bases.

A controller has two parts, like backtesting.py's ``Strategy.init``/``next``:

1. :meth:`ControllerBase.compute_features` runs **once per run**, vectorised, over the candles the
   controller asked for (warm-up history included). It returns a :class:`FeatureTable` stamped
   with the *open time and interval of the candles it was computed from*. The engine — not the
   controller — aligns it to the bars, showing row ``i`` only once its candle has closed. A
   controller therefore cannot look ahead, however it computes its features.
2. The family's decision rules (market making: one executor per level, refresh, cooldown) run
   per bar inside the engine, parameterised by the controller's config and levels.

Controller code is user code: whatever it raises (``SystemExit`` included) becomes a
:class:`~hbbacktest.core.errors.ControllerError` naming its file and line, and each phase of it
runs under :attr:`ControllerBase.time_limit_s`. The engine guards the hooks it calls
(``compute_features``, ``prepare``, ``on_bar``); the hooks called from elsewhere once per run
(:data:`GUARDED_HOOKS`) are guarded where a subclass defines them, whoever calls them.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from abc import ABC
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

import numpy as np

from hbbacktest.config.controller import (
    CandlesConfig,
    ControllerConfigBase,
    DirectionalTradingControllerConfigBase,
    MarketMakingControllerConfigBase,
)
from hbbacktest.controllers.actions import Action, ExecutorState
from hbbacktest.core.enums import TradeType
from hbbacktest.core.errors import ControllerError, call_controller, code_location
from hbbacktest.core.time import interval_to_seconds
from hbbacktest.data.candles import Candles

C = TypeVar("C", bound=ControllerConfigBase)

#: Hooks run once per run outside the engine's timed phases; a subclass's own definitions of
#: these are wrapped in :func:`~hbbacktest.core.errors.call_controller` with its time limit.
GUARDED_HOOKS = ("candles_configs", "warnings", "levels", "dca_levels")

# What the guarded hooks whose results the engine does not check must return lists of.
_RESULT_ITEMS: dict[str, type] = {"candles_configs": CandlesConfig, "warnings": str}


def _guarded(hook: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``hook`` run through :func:`~hbbacktest.core.errors.call_controller`."""
    item_type = _RESULT_ITEMS.get(name)

    @functools.wraps(hook)
    def guarded(self: ControllerBase[Any], *args: Any, **kwargs: Any) -> Any:
        controller_name = getattr(getattr(self, "config", None), "controller_name", None)
        result = call_controller(
            lambda: hook(self, *args, **kwargs),
            controller_name=controller_name or type(self).__name__,
            during=name,
            time_limit_s=self.time_limit_s,
        )
        if item_type is not None and not (
            isinstance(result, list | tuple) and all(isinstance(x, item_type) for x in result)
        ):
            # Their callers (the service) would fail on it far from the controller's code.
            file, line = type(self).hook_location(name)
            text = repr(result)
            raise ControllerError(
                f"controller {controller_name!r}: {name} (defined at {file}:{line}) returned "
                f"{type(result).__name__} {text[:80]}; expected a list of {item_type.__name__}",
                controller_name=controller_name,
                file=file,
                line=line,
            )
        return result

    guarded._hbbacktest_guarded = True  # type: ignore[attr-defined]
    return guarded


@dataclass(frozen=True)
class MarketData:
    """What a controller may read while computing features.

    Attributes:
        bars: the trading market's candles at the backtest resolution, warm-up included.
        feeds: candles of each ``(connector, trading_pair, interval)`` the controller declared
            in :meth:`ControllerBase.candles_configs`, warm-up included.
        start: first bar of the backtest window (epoch seconds); rows before it are history.
    """

    bars: Candles
    feeds: Mapping[tuple[str, str, str], Candles]
    start: int

    def candles(self, connector: str, trading_pair: str, interval: str) -> Candles:
        """Candles of a declared feed."""
        return self.feeds[(connector, trading_pair.upper(), interval)]


@dataclass(frozen=True)
class FeatureTable:
    """Feature columns computed from one candle series.

    Attributes:
        ts: open times (epoch seconds) of the candles the rows were computed from.
        interval_s: interval of those candles; row ``i`` is visible from ``ts[i] + interval_s``.
        columns: name → float array, one value per row (NaN = not available yet).
    """

    ts: np.ndarray
    interval_s: int
    columns: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Level:
    """One market-making level: an order side, a spread and an amount.

    ``amount_quote`` is the order's value in quote currency (the base amount is
    ``amount_quote / price``); ``amount_base``, when set, is a fixed base amount instead.
    """

    level_id: str
    side: TradeType
    spread: float
    amount_quote: float = float("nan")
    amount_base: float = float("nan")
    refresh_s: float = float("nan")  # NaN: the config's executor_refresh_time


class ControllerBase(ABC, Generic[C]):
    """Base of every controller. Subclasses set ``config_class`` and override the hooks.

    Attributes:
        config_class: the config model of this controller.
        required_features: feature columns :meth:`compute_features` must return (the family's
            decision rules read them); a table without one is a ``ControllerError``.
        time_limit_s: time limit of each phase of this controller's code in one run (``None``:
            none); set by the registry that created it, from ``Settings.controller_timeout_s``.
    """

    config_class: type[ControllerConfigBase] = ControllerConfigBase
    required_features: ClassVar[tuple[str, ...]] = ()
    #: Config fields :meth:`compute_features` reads, besides the candles; None: unknown (a
    #: run's features are never reused). Declaring them lets a sweep compute the features of
    #: 100 configs that differ only in spreads once (checked by a test against the code).
    feature_fields: ClassVar[tuple[str, ...] | None] = None
    time_limit_s: float | None = None

    def __init__(self, config: C) -> None:
        self.config = config

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in GUARDED_HOOKS:
            hook = cls.__dict__.get(name)
            if inspect.isfunction(hook) and not getattr(hook, "_hbbacktest_guarded", False):
                setattr(cls, name, _guarded(hook, name))

    @classmethod
    def hook_location(cls, hook: str) -> tuple[str | None, int | None]:
        """File and line of the code behind ``hook`` (e.g. ``compute_features``), for messages.

        Example:
            >>> file, line = MarketMakingControllerBase.hook_location("compute_features")
            >>> file.endswith("base.py")
            True
        """
        return code_location(getattr(cls, hook, None))

    def candles_configs(self) -> list[CandlesConfig]:
        """Candle feeds the controller reads besides the trading bars (default: the config's)."""
        return list(self.config.candles_config)

    def warnings(self) -> list[str]:
        """Recoverable oddities of this controller's setup, reported in ``result.warnings``."""
        return []

    def dca_levels(self) -> tuple[list[float], list[float]]:
        """Entry levels of a DCA executor: offsets from the executor's price and amount weights.

        Empty (the default) means the family's position executor. Weights sum to 1.
        """
        return [], []

    def compute_features(self, data: MarketData) -> FeatureTable:
        """Features computed once per run; default: none (an empty table on the bars)."""
        bars = data.bars
        return FeatureTable(ts=bars.ts, interval_s=bars.interval_s)

    def feature_key(self, data: MarketData) -> Hashable | None:
        """What this run's features depend on, or None when that is not declared.

        Two runs with equal keys compute equal features: the controller class, the values of
        :attr:`feature_fields`, and a digest of every candle series the run reads.
        """
        fields = self.feature_fields
        if fields is None:
            return None
        values = tuple(repr(getattr(self.config, name, None)) for name in fields)
        series = [("bars", data.bars), *sorted(data.feeds.items(), key=lambda kv: kv[0])]
        return (type(self).__module__, type(self).__qualname__, values, *map(_digest, series))


#: The config fields ``candles_source()`` reads: part of every feature key that reads it.
CANDLES_SOURCE_FIELDS = (
    "candles_connector",
    "candles_trading_pair",
    "connector_name",
    "trading_pair",
)


def _digest(named: tuple[Any, Candles]) -> tuple[Any, int, int, str]:
    """A candle series' identity for :meth:`ControllerBase.feature_key`.

    Its key, size, interval and a digest of every column (~0.5 ms for 43k candles).
    """
    name, candles = named
    digest = hashlib.blake2b(digest_size=16)
    for column in (candles.ts, candles.open, candles.high, candles.low, candles.close):
        digest.update(np.ascontiguousarray(column).data)
    digest.update(np.ascontiguousarray(candles.volume).data)
    return name, len(candles), candles.interval_s, digest.hexdigest()


M = TypeVar("M", bound=MarketMakingControllerConfigBase)


class MarketMakingControllerBase(ControllerBase[M]):
    """Market making as Hummingbot's ``MarketMakingControllerBase``.

    Each level quotes ``reference_price * (1 ∓ spread * spread_multiplier)``; the default
    reference price is the bar's close and the multiplier 1. Subclasses override
    :meth:`compute_features` to return a ``reference_price`` column (required) and a
    ``spread_multiplier`` column (1 where absent), and :meth:`levels` to change spreads or
    amounts.
    """

    config_class = MarketMakingControllerConfigBase
    required_features = ("reference_price",)

    def levels(self) -> list[Level]:
        """The levels ``buy_0 … sell_n`` with their spreads and quote amounts."""
        result = []
        for side in (TradeType.BUY, TradeType.SELL):
            spreads, amounts = self.config.spreads_and_amounts_quote(side)
            for index, (spread, amount) in enumerate(zip(spreads, amounts, strict=True)):
                result.append(
                    Level(f"{side.name.lower()}_{index}", side, spread, amount_quote=amount)
                )
        return result

    def compute_features(self, data: MarketData) -> FeatureTable:
        """Reference price = the bar's close, spread multiplier = 1 (pmm_simple's behaviour)."""
        bars = data.bars
        close = bars.close
        return FeatureTable(
            ts=bars.ts,
            interval_s=bars.interval_s,
            columns={"reference_price": close, "spread_multiplier": np.ones_like(close)},
        )


D = TypeVar("D", bound=DirectionalTradingControllerConfigBase)


class DirectionalTradingControllerBase(ControllerBase[D]):
    """Directional trading as Hummingbot's ``DirectionalTradingControllerBase``.

    :meth:`compute_features` returns a ``signal`` column: 1 opens a long, -1 a short, 0 nothing.
    Each executor trades ``total_amount_quote / max_executors_per_side`` at market.
    """

    config_class = DirectionalTradingControllerConfigBase
    required_features = ("signal",)

    def compute_features(self, data: MarketData) -> FeatureTable:
        """No signal by default."""
        bars = data.bars
        return FeatureTable(
            ts=bars.ts, interval_s=bars.interval_s, columns={"signal": np.zeros(len(bars))}
        )


class StepSession(Protocol):
    """What a bar-by-bar controller sees at the close of the current bar (the engine's view)."""

    @property
    def row(self) -> int:
        """Index of the current bar in ``bars``."""

    @property
    def now(self) -> float:
        """The bar's timestamp (open time, as Hummingbot labels bars), in epoch seconds."""

    @property
    def close(self) -> float:
        """The bar's close (Hummingbot's mid price in a backtest)."""

    @property
    def bars(self) -> Candles:
        """All stepped bars, warm-up included (only rows up to :attr:`row` are in the past)."""

    def feature(self, name: str) -> float:
        """The latest visible value of a feature column (NaN before the first)."""

    @property
    def executors(self) -> list[ExecutorState]:
        """Active executors, then those that ended in the last hour, oldest first."""

    @property
    def held_base(self) -> float:
        """Net base amount of the position hold (positive long, negative short)."""

    def position_summary(self) -> dict[str, Any] | None:
        """The position hold marked at this close (Hummingbot's ``PositionSummary`` fields)."""


class StepControllerBase(ControllerBase[C]):
    """A controller that decides bar by bar, in Python (user controllers, Hummingbot files).

    The engine calls :meth:`compute_features` once, :meth:`prepare` once, then :meth:`on_bar`
    at the close of every bar of the window, and simulates the executors it asks for with the
    same kernels as the built-in controllers. Slower than the vectorised families (a Python call
    per bar), and just as free of look-ahead: features are shown once their candle has closed.
    """

    #: How long an ended executor stays in :attr:`StepSession.executors` (seconds).
    history_s: float = 3600.0

    def prepare(self, session: StepSession) -> None:
        """Called once before the first bar (default: nothing)."""

    def on_bar(self, session: StepSession) -> Sequence[Action]:
        """The actions to take at this bar's close (default: none)."""
        return []


def candles_feed(config: CandlesConfig) -> tuple[str, str, str]:
    """The key of a feed in :attr:`MarketData.feeds`."""
    interval_to_seconds(config.interval)
    return (config.connector, config.trading_pair.upper(), config.interval)
