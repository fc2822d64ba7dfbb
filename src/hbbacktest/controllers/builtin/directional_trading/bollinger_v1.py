"""bollinger_v1: long below the lower Bollinger band, short above the upper (Hummingbot's)."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

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
from hbbacktest.indicators import bbands_percent


class BollingerFields(BaseModel):
    """Bollinger %B fields shared by bollinger_v1 and macd_bb_v1 (upstream names and defaults)."""

    model_config = ConfigDict(
        frozen=True, extra="allow", validate_default=True, allow_inf_nan=False
    )

    interval: str = "3m"
    bb_length: int = Field(default=100, gt=1, le=MAX_LOOKBACK)
    bb_std: float = Field(default=2.0, gt=0)
    bb_long_threshold: float = 0.0
    bb_short_threshold: float = 1.0


class BollingerV1ControllerConfig(
    BollingerFields, CandlesSourceMixin, DirectionalTradingControllerConfigBase
):
    """Config of :class:`BollingerV1Controller` (upstream names and defaults)."""

    controller_name: str = "bollinger_v1"

    @property
    def max_records(self) -> int:
        """Candles the live controller keeps (``bb_length``)."""
        return self.bb_length


class BollingerV1Controller(
    SingleCandleFeed, DirectionalTradingControllerBase[BollingerV1ControllerConfig]
):
    """Signal: %B < ``bb_long_threshold`` → long; %B > ``bb_short_threshold`` → short."""

    config_class = BollingerV1ControllerConfig

    feature_fields = (
        *CANDLES_SOURCE_FIELDS,
        "bb_length",
        "bb_long_threshold",
        "bb_short_threshold",
        "bb_std",
        "interval",
    )

    def compute_features(self, data: MarketData) -> FeatureTable:
        """%B per candle and the signal it gives."""
        cfg = self.config
        candles = data.candles(*cfg.candles_source(), cfg.interval)
        bbp = bbands_percent(candles.close, cfg.bb_length, cfg.bb_std)
        valid = ~np.isnan(bbp)
        signal = signal_from(bbp < cfg.bb_long_threshold, bbp > cfg.bb_short_threshold, valid)
        return FeatureTable(candles.ts, candles.interval_s, {"bbp": bbp, "signal": signal})
