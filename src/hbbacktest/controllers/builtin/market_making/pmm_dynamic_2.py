"""pmm_dynamic_2: the MACD histogram shifts the reference price and widens the spreads.

Per candle of ``interval``:

* ``reference_price = close * (1 + histogram * price_adjustment_factor)``
* ``spread_multiplier = clamp(1 + |histogram| * spread_multiplier_factor,
  min_spread_multiplier, max_spread_multiplier)``

Every level trades a fixed ``order_amount`` (base currency).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.config.limits import MAX_LOOKBACK
from hbbacktest.controllers.base import (
    CANDLES_SOURCE_FIELDS,
    FeatureTable,
    Level,
    MarketData,
    MarketMakingControllerBase,
)
from hbbacktest.controllers.builtin._candles_source import CandlesSourceMixin, SingleCandleFeed
from hbbacktest.indicators import macd


class PMMDynamic2ControllerConfig(CandlesSourceMixin, MarketMakingControllerConfigBase):
    """Config of :class:`PMMDynamic2Controller`."""

    controller_name: str = "pmm_dynamic_2"
    interval: str = "1m"
    order_amount: float = Field(default=10.0, gt=0)
    macd_fast: int = Field(default=12, gt=0, le=MAX_LOOKBACK)
    macd_slow: int = Field(default=26, gt=0, le=MAX_LOOKBACK)
    macd_signal: int = Field(default=9, gt=0, le=MAX_LOOKBACK)
    price_adjustment_factor: float = 0.0001
    spread_multiplier_factor: float = Field(default=0.1, ge=0)
    max_spread_multiplier: float = Field(default=2.0, gt=0)
    min_spread_multiplier: float = Field(default=0.5, ge=0)

    @model_validator(mode="after")
    def _check_multiplier_bounds(self) -> PMMDynamic2ControllerConfig:
        if self.min_spread_multiplier > self.max_spread_multiplier:
            raise ValueError(
                f"min_spread_multiplier ({self.min_spread_multiplier}) is above "
                f"max_spread_multiplier ({self.max_spread_multiplier})"
            )
        return self

    @property
    def max_records(self) -> int:
        """Candles the live controller keeps (``macd_slow + 100``)."""
        return self.macd_slow + 100


class PMMDynamic2Controller(
    SingleCandleFeed, MarketMakingControllerBase[PMMDynamic2ControllerConfig]
):
    """MACD-histogram-driven reference price and spread multiplier, fixed order amount."""

    config_class = PMMDynamic2ControllerConfig

    def levels(self) -> list[Level]:
        """Base levels, each trading ``order_amount`` base."""
        return [
            Level(lv.level_id, lv.side, lv.spread, amount_base=self.config.order_amount)
            for lv in super().levels()
        ]

    feature_fields = (
        *CANDLES_SOURCE_FIELDS,
        "interval",
        "macd_fast",
        "macd_signal",
        "macd_slow",
        "max_spread_multiplier",
        "min_spread_multiplier",
        "price_adjustment_factor",
        "spread_multiplier_factor",
    )

    def compute_features(self, data: MarketData) -> FeatureTable:
        """MACD histogram → reference price and spread multiplier per candle."""
        cfg = self.config
        candles = data.candles(*cfg.candles_source(), cfg.interval)
        line, signal, hist = macd(candles.close, cfg.macd_fast, cfg.macd_slow, cfg.macd_signal)
        multiplier = np.clip(
            1 + np.abs(hist) * cfg.spread_multiplier_factor,
            cfg.min_spread_multiplier,
            cfg.max_spread_multiplier,
        )
        return FeatureTable(
            ts=candles.ts,
            interval_s=candles.interval_s,
            columns={
                "macd": line,
                "macd_signal_line": signal,
                "macdh": hist,
                "reference_price": candles.close * (1 + hist * cfg.price_adjustment_factor),
                "spread_multiplier": multiplier,
            },
        )
