"""Runs a Hummingbot controller class as an hbbacktest bar-by-bar controller.

``update_processed_data`` runs once per run over the whole candle frames (as Hummingbot's own
backtest does); its ``features`` frame is then shown to the controller bar by bar, each row once
its candle has closed, merged into ``processed_data`` as Hummingbot merges it.
``determine_executor_actions`` runs at every bar's close.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from hbbacktest.compat import api
from hbbacktest.config.controller import CandlesConfig
from hbbacktest.controllers.actions import Action, CreateExecutor, StopExecutor
from hbbacktest.controllers.base import (
    FeatureTable,
    MarketData,
    StepControllerBase,
    StepSession,
    candles_feed,
)
from hbbacktest.core.enums import TradeType
from hbbacktest.core.errors import ControllerError, call_controller

# Values a controller keeps in ``processed_data`` that Hummingbot's backtest replaces per bar.
_PER_BAR_DEFAULTS = ("reference_price", "spread_multiplier", "signal")


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

    def candles_configs(self) -> list[CandlesConfig]:
        """``get_candles_config()`` plus the config's ``candles_config``, without duplicates."""
        hb = self._controller()
        declared = self._guard(hb.get_candles_config, "get_candles_config") or []
        seen: dict[tuple[str, str, str], CandlesConfig] = {}
        for item in [*declared, *(getattr(hb.config, "candles_config", None) or [])]:
            config = item if isinstance(item, CandlesConfig) else CandlesConfig.model_validate(item)
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
        processed = hb.processed_data if isinstance(hb.processed_data, dict) else {}
        features = processed.get("features")
        bars = data.bars
        if not isinstance(features, pd.DataFrame) or features.empty:
            self._columns = []
            return FeatureTable(bars.ts, bars.interval_s)
        if "timestamp" not in features.columns:
            raise ControllerError(
                f"{self.source}: processed_data['features'] has no 'timestamp' column (the "
                "candle open time, in epoch seconds); keep the candles' timestamp column",
                controller_name=self.config.controller_name,
            )
        ts = pd.to_numeric(features["timestamp"], errors="coerce").to_numpy(np.float64)
        if ts.shape[0] and ts.max() > 1e11:  # milliseconds
            ts = ts / 1000.0
        steps = np.diff(ts)
        interval = int(np.median(steps)) if steps.shape[0] else int(bars.interval_s)
        columns: dict[str, np.ndarray] = {}
        for name in features.columns:
            if name == "timestamp":
                continue
            values = pd.to_numeric(features[name], errors="coerce")
            if values.notna().any():
                columns[str(name)] = values.to_numpy(np.float64)
        self._columns = list(columns)
        for key in _PER_BAR_DEFAULTS:
            if key in processed and key not in columns:
                self._notes.append(
                    f"processed_data[{key!r}] is one value for the whole run (in a backtest it "
                    "would come from the last candle: the future); it is replaced per bar by "
                    f"the default — put {key!r} in the features frame to drive it per candle"
                )
        return FeatureTable(ts.astype(np.int64), max(interval, 1), columns)

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
        return [self._translate(action, session) for action in actions or ()]

    def _translate(self, action: Any, session: StepSession) -> Action:
        if isinstance(action, api.CreateExecutorAction):
            config = action.executor_config
            try:
                spec = api.executor_spec(config)
            except TypeError as exc:
                raise ControllerError(
                    f"{self.source}: {exc}", controller_name=self.config.controller_name
                ) from exc
            return CreateExecutor(spec=spec, config=config, executor_id=getattr(config, "id", None))
        if isinstance(action, api.StopExecutorAction):
            return StopExecutor(action.executor_id, bool(action.keep_position))
        if isinstance(action, api.StoreExecutorAction):
            return StopExecutor("", False)
        raise ControllerError(
            f"{self.source}: determine_executor_actions returned {type(action).__name__}; "
            "expected CreateExecutorAction or StopExecutorAction",
            controller_name=self.config.controller_name,
        )
