"""supertrend_v1: trade with the SuperTrend when the price is near its line (Hummingbot's)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from hbbacktest.config.controller import DirectionalTradingControllerConfigBase
from hbbacktest.config.limits import MAX_LOOKBACK
from hbbacktest.controllers.base import (
    CANDLES_SOURCE_FIELDS,
    DirectionalTradingControllerBase,
    FeatureTable,
    MarketData,
)
from hbbacktest.controllers.builtin._candles_source import CandlesSourceMixin, SingleCandleFeed
from hbbacktest.controllers.builtin.directional_trading._signal import signal_from
from hbbacktest.indicators import supertrend


class SuperTrendConfig(CandlesSourceMixin, DirectionalTradingControllerConfigBase):
    """Config of :class:`SuperTrendController` (upstream names and defaults)."""

    controller_name: str = "supertrend_v1"
    interval: str = "3m"
    length: int = Field(default=20, gt=0, le=MAX_LOOKBACK)
    multiplier: float = Field(default=4.0, gt=0)
    percentage_threshold: float = Field(default=0.01, gt=0)

    @property
    def max_records(self) -> int:
        """Candles the live controller keeps (``length + 10``)."""
        return self.length + 10


class SuperTrendController(SingleCandleFeed, DirectionalTradingControllerBase[SuperTrendConfig]):
    """Long in an uptrend, short in a downtrend, when ``|close - line| / close`` < threshold.

    Upstream cannot backtest this controller (its engine drops every row with a NaN, and one of
    SuperTrend's long/short legs is always NaN); here it runs.
    """

    config_class = SuperTrendConfig

    feature_fields = (
        *CANDLES_SOURCE_FIELDS,
        "interval",
        "length",
        "multiplier",
        "percentage_threshold",
    )

    def compute_features(self, data: MarketData) -> FeatureTable:
        """SuperTrend direction and line per candle, the distance to it, and the signal."""
        cfg = self.config
        candles = data.candles(*cfg.candles_source(), cfg.interval)
        direction, line = supertrend(
            candles.high, candles.low, candles.close, cfg.length, cfg.multiplier
        )
        distance = np.abs(candles.close - line) / candles.close
        near = distance < cfg.percentage_threshold
        valid = ~(np.isnan(direction) | np.isnan(distance))
        signal = signal_from((direction == 1) & near, (direction == -1) & near, valid)
        return FeatureTable(
            candles.ts,
            candles.interval_s,
            {
                "supertrend": line,
                "supertrend_direction": direction,
                "percentage_distance": distance,
                "signal": signal,
            },
        )
