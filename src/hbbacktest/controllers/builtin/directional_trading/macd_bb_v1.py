"""macd_bb_v1: Bollinger %B extremes confirmed by MACD (Hummingbot's)."""

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
from hbbacktest.controllers.builtin.directional_trading.bollinger_v1 import BollingerFields
from hbbacktest.indicators import bbands_percent, macd


class MACDBBV1ControllerConfig(
    BollingerFields, CandlesSourceMixin, DirectionalTradingControllerConfigBase
):
    """Config of :class:`MACDBBV1Controller` (upstream names and defaults)."""

    controller_name: str = "macd_bb_v1"
    macd_fast: int = Field(default=21, gt=0, le=MAX_LOOKBACK)
    macd_slow: int = Field(default=42, gt=0, le=MAX_LOOKBACK)
    macd_signal: int = Field(default=9, gt=0, le=MAX_LOOKBACK)

    @property
    def max_records(self) -> int:
        """Candles the live controller keeps (longest period + 20)."""
        return max(self.macd_slow, self.macd_fast, self.macd_signal, self.bb_length) + 20


class MACDBBV1Controller(
    SingleCandleFeed, DirectionalTradingControllerBase[MACDBBV1ControllerConfig]
):
    """Long: %B < long threshold, MACD histogram > 0, MACD < 0; short: the mirror image."""

    config_class = MACDBBV1ControllerConfig

    feature_fields = (
        *CANDLES_SOURCE_FIELDS,
        "bb_length",
        "bb_long_threshold",
        "bb_short_threshold",
        "bb_std",
        "interval",
        "macd_fast",
        "macd_signal",
        "macd_slow",
    )

    def compute_features(self, data: MarketData) -> FeatureTable:
        """%B, MACD and histogram per candle, and the signal."""
        cfg = self.config
        candles = data.candles(*cfg.candles_source(), cfg.interval)
        bbp = bbands_percent(candles.close, cfg.bb_length, cfg.bb_std)
        line, _, hist = macd(candles.close, cfg.macd_fast, cfg.macd_slow, cfg.macd_signal)
        valid = ~(np.isnan(bbp) | np.isnan(line) | np.isnan(hist))
        long = (bbp < cfg.bb_long_threshold) & (hist > 0) & (line < 0)
        short = (bbp > cfg.bb_short_threshold) & (hist < 0) & (line > 0)
        return FeatureTable(
            candles.ts,
            candles.interval_s,
            {"bbp": bbp, "macd": line, "macdh": hist, "signal": signal_from(long, short, valid)},
        )
