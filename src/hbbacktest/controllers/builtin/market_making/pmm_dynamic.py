"""pmm_dynamic: MACD shifts the reference price, NATR scales the spreads (Hummingbot's).

Per candle of ``interval`` (upstream's formulas, evaluated for every candle instead of once):

* ``natr = NATR(natr_length) / 100``
* ``macd_signal = -(macd - mean) / std`` over the last ``max_records`` MACD values — the window
  the live controller keeps — not over the whole backtest (upstream's look-ahead)
* ``macdh_signal = +1 if histogram > 0 else -1``
* ``price_multiplier = (0.5 * macd_signal + 0.5 * macdh_signal) * natr / 2``
* ``reference_price = close * (1 + price_multiplier)``; ``spread_multiplier = natr``

Spreads are therefore in units of volatility (``buy_spreads: 1,2,4`` = 1, 2, 4 NATRs).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.config.limits import MAX_LEVELS_PER_SIDE, MAX_LOOKBACK
from hbbacktest.controllers.base import (
    CANDLES_SOURCE_FIELDS,
    FeatureTable,
    MarketData,
    MarketMakingControllerBase,
)
from hbbacktest.controllers.builtin._candles_source import CandlesSourceMixin, SingleCandleFeed
from hbbacktest.indicators import macd, natr, rolling_zscore


class PMMDynamicControllerConfig(CandlesSourceMixin, MarketMakingControllerConfigBase):
    """Config of :class:`PMMDynamicController` (upstream field names and defaults)."""

    controller_name: str = "pmm_dynamic"
    spreads_are_fractions: ClassVar[bool] = False  # NATR multiples
    buy_spreads: list[float] = Field(default=[1.0, 2.0, 4.0], max_length=MAX_LEVELS_PER_SIDE)
    sell_spreads: list[float] = Field(default=[1.0, 2.0, 4.0], max_length=MAX_LEVELS_PER_SIDE)
    interval: str = "3m"
    macd_fast: int = Field(default=21, gt=0, le=MAX_LOOKBACK)
    macd_slow: int = Field(default=42, gt=0, le=MAX_LOOKBACK)
    macd_signal: int = Field(default=9, gt=0, le=MAX_LOOKBACK)
    natr_length: int = Field(default=14, gt=0, le=MAX_LOOKBACK)

    @property
    def max_records(self) -> int:
        """Candles the live controller keeps (upstream: longest period + 100)."""
        return max(self.macd_slow, self.macd_fast, self.macd_signal, self.natr_length) + 100


class PMMDynamicController(
    SingleCandleFeed, MarketMakingControllerBase[PMMDynamicControllerConfig]
):
    """MACD-shifted reference price and NATR-scaled spreads."""

    config_class = PMMDynamicControllerConfig

    feature_fields = (
        *CANDLES_SOURCE_FIELDS,
        "interval",
        "macd_fast",
        "macd_signal",
        "macd_slow",
        "max_records",
        "natr_length",
    )

    def compute_features(self, data: MarketData) -> FeatureTable:
        """NATR, MACD and the derived reference price and spread multiplier per candle."""
        cfg = self.config
        candles = data.candles(*self.config.candles_source(), cfg.interval)
        natr_frac = natr(candles.high, candles.low, candles.close, cfg.natr_length) / 100
        line, _, hist = macd(candles.close, cfg.macd_fast, cfg.macd_slow, cfg.macd_signal)
        macd_signal = -rolling_zscore(line, cfg.max_records)
        macdh_signal = np.where(hist > 0, 1.0, -1.0)
        macdh_signal[np.isnan(hist)] = np.nan
        price_multiplier = (0.5 * macd_signal + 0.5 * macdh_signal) * natr_frac / 2
        return FeatureTable(
            ts=candles.ts,
            interval_s=candles.interval_s,
            columns={
                "natr": natr_frac,
                "macd": line,
                "macdh": hist,
                "macd_signal": macd_signal,
                "macdh_signal": macdh_signal,
                "price_multiplier": price_multiplier,
                "reference_price": candles.close * (1 + price_multiplier),
                "spread_multiplier": natr_frac,
            },
        )
