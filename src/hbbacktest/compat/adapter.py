"""Runs a Hummingbot controller class as an hbbacktest bar-by-bar controller.

``update_processed_data`` runs once per run over the whole candle frames (as Hummingbot's own
backtest does); its ``features`` frame is then shown to the controller bar by bar, each row once
its candle has closed, merged into ``processed_data`` as Hummingbot merges it.
``determine_executor_actions`` runs at every bar's close.

What the user's code hands over is checked here, so that a bad value is reported as the
controller's (a ``ControllerError`` naming its method's file and line), never as a crash inside
hbbacktest. An executor priced at or below zero is not created, with one warning per level.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import ValidationError

from hbbacktest.compat import api
from hbbacktest.config.controller import CandlesConfig
from hbbacktest.controllers.actions import (
    Action,
    CreateExecutor,
    DCASpec,
    ExecutorSpec,
    GridSpec,
    OrderSpec,
    PositionSpec,
    StopExecutor,
)
from hbbacktest.controllers.base import (
    FeatureTable,
    MarketData,
    StepControllerBase,
    StepSession,
    candles_feed,
)
from hbbacktest.core.enums import TradeType
from hbbacktest.core.errors import ControllerError, call_controller, code_location

# Values a controller keeps in ``processed_data`` that Hummingbot's backtest replaces per bar.
_PER_BAR_DEFAULTS = ("reference_price", "spread_multiplier", "signal")
# The Hummingbot method behind each hbbacktest hook, for file:line in messages.
_HB_HOOKS = {
    "compute_features": "update_processed_data",
    "on_bar": "determine_executor_actions",
    "candles_configs": "get_candles_config",
    "prepare": "update_processed_data",
}


def _shown(value: object) -> str:
    text = " ".join(repr(value).split())  # numpy's and pandas' reprs span lines
    text = text if len(text) <= 80 else text[:77] + "..."
    return text if value is None else f"{type(value).__name__} {text}"


def _numeric(column: Any) -> np.ndarray | None:
    """A frame column as float64 (non-numbers → NaN), or None when pandas cannot read it."""
    if not isinstance(column, pd.Series):
        return None  # several columns of that name
    try:
        return pd.to_numeric(column, errors="coerce").to_numpy(np.float64)
    except (TypeError, ValueError):
        return None


def _non_positive_price(spec: ExecutorSpec) -> float | None:
    """The first order price of ``spec`` that is <= 0 (NaN, a market entry, is fine)."""
    prices: tuple[float | None, ...]
    if isinstance(spec, PositionSpec):
        prices = (spec.entry_price,)
    elif isinstance(spec, DCASpec):
        prices = spec.prices
    elif isinstance(spec, GridSpec):
        prices = (spec.start_price, spec.end_price)
    elif isinstance(spec, OrderSpec):
        prices = (spec.price,)
    else:
        prices = ()
    for price in prices:
        if price is not None and price <= 0:
            return price
    return None


class _Position:
    """Hummingbot's ``PositionSummary`` as a controller reads it (``positions_held``)."""

    def __init__(self, summary: dict[str, Any], connector: str, pair: str) -> None:
        self.connector_name = connector
        self.trading_pair = pair
        self.side = TradeType[summary["side"]]
        self.amount = Decimal(repr(summary["amount"]))
        self.breakeven_price = Decimal(repr(summary["breakeven_price"]))
        self.unrealized_pnl_quote = Decimal(repr(summary["unrealized_pnl_quote"]))
        self.realized_pnl_quote = Decimal(repr(summary["realized_pnl_quote"]))
        self.cum_fees_quote = Decimal(repr(summary["cum_fees_quote"]))
        self.volume_traded_quote = Decimal(repr(summary["volume_traded_quote"]))


def _frame(candles: Any) -> pd.DataFrame:
    """Candles as the DataFrame Hummingbot's candle feeds give (epoch-second ``timestamp``)."""
    return pd.DataFrame(
        {
            "timestamp": candles.ts.astype(np.float64),
            "open": candles.open,
            "high": candles.high,
            "low": candles.low,
            "close": candles.close,
            "volume": candles.volume,
            "quote_asset_volume": candles.volume * candles.close,
        }
    )


class HummingbotControllerAdapter(StepControllerBase[Any]):
    """Base of the adapters the plug-in loader builds, one per Hummingbot controller class."""

    hb_class: ClassVar[type[api.ControllerBase]] = api.ControllerBase
    source: ClassVar[str] = "<unknown>"

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self._hb: api.ControllerBase | None = None
        self._provider: api.MarketDataProvider | None = None
        self._columns: list[str] = []
        self._notes: list[str] = []
        self._unpriced: set[str] = set()  # levels already warned about a price <= 0
        self._is_mm = issubclass(self.hb_class, api.MarketMakingControllerBase)
        self._is_directional = issubclass(self.hb_class, api.DirectionalTradingControllerBase)
        if self._is_mm:
            # Hummingbot's market-making rules look back at ended executors only for the
            # cooldown after a stop loss; a shorter view keeps each bar cheap.
            self.history_s = max(600.0, 2.0 * float(getattr(config, "cooldown_time", 0) or 0))

    def _controller(self) -> api.ControllerBase:
        if self._hb is None:
            # The user's code may assign to its config (e.g. ``candles_config``): give it a copy
            # so the request stays as validated.
            config = self.config.model_copy(deep=True)
            self._hb = self._guard(lambda: self.hb_class(config, None, None), "__init__")
        return self._hb

    def _guard(self, fn: Any, during: str) -> Any:
        return call_controller(fn, controller_name=self.config.controller_name, during=during)

    @classmethod
    def hook_location(cls, hook: str) -> tuple[str | None, int | None]:
        """File and line of the Hummingbot method behind ``hook`` (in the user's file)."""
        return code_location(getattr(cls.hb_class, _HB_HOOKS.get(hook, hook), None))

    def _bad(self, hook: str, problem: str) -> ControllerError:
        """A ControllerError about what the user's ``hook`` method left or returned."""
        file, line = code_location(getattr(self.hb_class, hook, None))
        place = f" (defined at {file}:{line})" if file else f" ({self.source})"
        name = self.config.controller_name
        return ControllerError(
            f"controller {name!r}: {hook}{place} {problem}",
            controller_name=name,
            file=file or self.source,
            line=line,
        )

    def candles_configs(self) -> list[CandlesConfig]:
        """``get_candles_config()`` plus the config's ``candles_config``, without duplicates."""
        hb = self._controller()
        declared = self._guard(hb.get_candles_config, "get_candles_config")
        items: list[Any] = []
        for what, given in (
            ("returned", declared),
            ("left config.candles_config =", getattr(hb.config, "candles_config", None)),
        ):
            if given is None:
                continue
            if not isinstance(given, list | tuple):
                raise self._bad(
                    "get_candles_config",
                    f"{what} {_shown(given)}; expected a list of CandlesConfig",
                )
            items.extend(given)
        seen: dict[tuple[str, str, str], CandlesConfig] = {}
        for item in items:
            try:
                config = (
                    item if isinstance(item, CandlesConfig) else CandlesConfig.model_validate(item)
                )
            except ValidationError as exc:
                problem = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
                raise self._bad(
                    "get_candles_config",
                    f"gave the candles config {_shown(item)}: {problem}; expected a "
                    "CandlesConfig(connector, trading_pair, interval, max_records)",
                ) from None
            seen.setdefault(candles_feed(config), config)
        return list(seen.values())

    def warnings(self) -> list[str]:
        """Notes gathered while computing features."""
        return list(self._notes)

    def compute_features(self, data: MarketData) -> FeatureTable:
        """Run ``update_processed_data`` once; its ``features`` frame becomes the feature table."""
        hb = self._controller()
        frames = {key: _frame(candles) for key, candles in data.feeds.items()}
        self._provider = api.MarketDataProvider(frames, data.bars)
        hb.market_data_provider = self._provider
        self._guard(lambda: api.run_coroutine(hb.update_processed_data()), "update_processed_data")
        processed = getattr(hb, "processed_data", None)
        if not isinstance(processed, dict):
            raise self._bad(
                "update_processed_data",
                f"left processed_data = {_shown(processed)}; expected a dict",
            )
        features = processed.get("features")
        bars = data.bars
        if features is None or (isinstance(features, pd.DataFrame) and features.empty):
            self._columns = []
            return FeatureTable(bars.ts, bars.interval_s)
        if not isinstance(features, pd.DataFrame):
            raise self._bad(
                "update_processed_data",
                f"set processed_data['features'] = {_shown(features)}; expected a pandas "
                "DataFrame with the candles' 'timestamp' column (or no 'features' at all)",
            )
        if "timestamp" not in features.columns:
            raise self._bad(
                "update_processed_data",
                "left processed_data['features'] without a 'timestamp' column; expected the "
                "candle open time, in epoch seconds: keep the candles' timestamp column",
            )
        ts = self._timestamps(features)
        steps = np.diff(ts)
        interval = int(np.median(steps)) if steps.shape[0] else int(bars.interval_s)
        columns: dict[str, np.ndarray] = {}
        not_numeric: list[str] = []
        for name in features.columns:
            if name == "timestamp":
                continue
            values = _numeric(features[name])
            given = features[name].notna().to_numpy().reshape(len(features), -1).any(axis=1)
            if values is None or bool((np.isnan(values) & given).any()):
                not_numeric.append(str(name))
            if values is not None and not np.isnan(values).all():
                columns[str(name)] = values
        self._columns = list(columns)
        if not_numeric:
            self._notes.append(
                f"processed_data['features'] columns {not_numeric} hold values that are not "
                "numbers: only numbers reach determine_executor_actions bar by bar (a column "
                "without any is left out; a bar where a column is not a number is skipped)"
            )
        for key in _PER_BAR_DEFAULTS:
            if key in processed and key not in columns:
                self._notes.append(
                    f"processed_data[{key!r}] is one value for the whole run (in a backtest it "
                    "would come from the last candle: the future); it is replaced per bar by "
                    f"the default — put {key!r} in the features frame to drive it per candle"
                )
        return FeatureTable(ts.astype(np.int64), max(interval, 1), columns)

    def _timestamps(self, features: pd.DataFrame) -> np.ndarray:
        """The features' open times in epoch seconds, checked to be finite and increasing."""
        ts = _numeric(features["timestamp"])
        if ts is None or not np.isfinite(ts).all():
            row = 0 if ts is None else int(np.argmin(np.isfinite(ts)))
            value = features["timestamp"].iloc[row] if ts is not None else "?"
            raise self._bad(
                "update_processed_data",
                f"left processed_data['features']['timestamp'] with {value!r} at row {row}; "
                "expected candle open times in epoch seconds (numbers)",
            )
        if ts.shape[0] and ts.max() > 1e11:  # milliseconds
            ts = ts / 1000.0
        steps = np.diff(ts)
        if steps.shape[0] and (steps <= 0).any():
            row = int(np.argmax(steps <= 0)) + 1
            what = "a duplicate" if steps[row - 1] == 0 else "an unsorted"
            raise self._bad(
                "update_processed_data",
                f"left {what} timestamp in processed_data['features']: row {row} "
                f"({ts[row]:.0f}) after row {row - 1} ({ts[row - 1]:.0f}); expected the "
                "candles' open times, sorted ascending, without duplicates",
            )
        return ts

    def prepare(self, session: StepSession) -> None:
        """Nothing beyond the features."""

    def on_bar(self, session: StepSession) -> list[Action]:
        """Merge this bar's features into ``processed_data``, then ask for actions."""
        hb = self._controller()
        provider = self._provider
        if provider is None:
            return []
        provider._at(session.row, False)
        processed = hb.processed_data
        if not isinstance(processed, dict):
            raise self._bad(
                "determine_executor_actions",
                f"left processed_data = {_shown(processed)} at {session.now:.0f}; expected a dict",
            )
        for name in self._columns:
            value = session.feature(name)
            if value != value:  # NaN: upstream drops such rows; the controller skips the bar
                return []
            processed[name] = value
        if self._is_mm:
            if "reference_price" not in self._columns:
                processed["reference_price"] = session.close
            if "spread_multiplier" not in self._columns:
                processed["spread_multiplier"] = 1.0
        elif self._is_directional and "signal" not in self._columns:
            processed["signal"] = 0
        hb.executors_info = session.executors
        summary = session.position_summary()
        hb.positions_held = (
            [_Position(summary, self.config.connector_name, self.config.trading_pair)]
            if summary is not None and summary["amount"] > 0
            else []
        )
        actions = self._guard(hb.determine_executor_actions, "determine_executor_actions")
        if actions is None:
            return []
        if not isinstance(actions, list | tuple):
            raise self._bad(
                "determine_executor_actions",
                f"returned {_shown(actions)}; expected a list of executor actions",
            )
        translated = (self._translate(action, session) for action in actions)
        return [action for action in translated if action is not None]

    def _translate(self, action: Any, session: StepSession) -> Action | None:
        if isinstance(action, api.CreateExecutorAction):
            config = action.executor_config
            try:
                spec = api.executor_spec(config)
            except TypeError as exc:
                raise self._bad("determine_executor_actions", f"returned an action: {exc}") from exc
            price = _non_positive_price(spec)
            if price is not None:
                self._unpriced_executor(spec, price)
                return None
            return CreateExecutor(spec=spec, config=config, executor_id=getattr(config, "id", None))
        if isinstance(action, api.StopExecutorAction):
            return StopExecutor(action.executor_id, bool(action.keep_position))
        if isinstance(action, api.StoreExecutorAction):
            return StopExecutor("", False)
        raise self._bad(
            "determine_executor_actions",
            f"returned {_shown(action)} in its list; expected CreateExecutorAction or "
            "StopExecutorAction",
        )

    def _unpriced_executor(self, spec: ExecutorSpec, price: float) -> None:
        """Warn once per level that its executor was priced <= 0 and is not created."""
        level = spec.level_id or f"{TradeType(int(spec.side)).name.lower()} executor"
        if level in self._unpriced:
            return
        self._unpriced.add(level)
        why = "an order cannot be priced at or below zero"
        if self._is_mm and spec.side == TradeType.BUY:
            why = (
                "a buy level is priced reference_price × (1 − spread × spread_multiplier), so a "
                "buy spread × spread_multiplier of 1 (100 %) or more puts it at or below zero "
                "(spreads are fractions: 0.01 = 1 %)"
            )
        self._notes.append(
            f"level {level}: an executor priced at {price:g} (<= 0) was not created, as {why}; "
            "reported once per level"
        )
