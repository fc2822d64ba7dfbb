"""dman_v3: Bollinger %B signals opening DCA executors (Hummingbot's ``dman_v3``).

The signal is bollinger_v1's. Each signal opens a DCA executor for
``total_amount_quote / max_executors_per_side`` quote, split by ``dca_amounts_pct``, with levels
at ``close * (1 ∓ dca_spreads[i] * m)``: ``m = 1``, or with ``dynamic_order_spread`` the half
band width ``BBB / 200`` of the latest closed candle (upstream takes it from the last candle of
the whole backtest). ``dynamic_target`` scales the stop loss and trailing stop by the same ``m``.
Like upstream, the DCA executor has no take profit (exits: trailing stop, stop loss, time
limit). Executors are stamped with the simulated time, not the wall clock (upstream's defect:
its time limit never fires and its cooldown blocks every new executor while one is active).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, ValidationInfo, field_validator

from hbbacktest.config.controller import (
    DirectionalTradingControllerConfigBase,
    TrailingStop,
    TripleBarrierConfig,
)
from hbbacktest.config.limits import MAX_LEVELS_PER_SIDE
from hbbacktest.config.parsing import blank_to_none, comma_list
from hbbacktest.controllers.base import (
    CANDLES_SOURCE_FIELDS,
    DirectionalTradingControllerBase,
    FeatureTable,
    MarketData,
)
from hbbacktest.controllers.builtin._candles_source import CandlesSourceMixin, SingleCandleFeed
from hbbacktest.controllers.builtin.directional_trading._signal import signal_from
from hbbacktest.controllers.builtin.directional_trading.bollinger_v1 import BollingerFields
from hbbacktest.core.enums import OrderType
from hbbacktest.indicators import bbands_percent, bbands_width


class DManV3ControllerConfig(
    BollingerFields, CandlesSourceMixin, DirectionalTradingControllerConfigBase
):
    """Config of :class:`DManV3Controller` (upstream names and defaults)."""

    controller_name: str = "dman_v3"
    trailing_stop: TrailingStop | None = TrailingStop(activation_price=0.015, trailing_delta=0.005)
    dca_spreads: list[float] = Field(
        default=[0.001, 0.018, 0.15, 0.25],
        max_length=MAX_LEVELS_PER_SIDE,
        description="Each DCA entry's distance from the signal close (fractions; times the "
        "half band width with dynamic_order_spread).",
    )
    dca_amounts_pct: list[float] | None = Field(default=None, max_length=MAX_LEVELS_PER_SIDE)
    dynamic_order_spread: bool | None = None
    dynamic_target: bool | None = None
    activation_bounds: list[float] | None = None

    @field_validator("dca_spreads", mode="before")
    @classmethod
    def _parse_dca_spreads(cls, value: Any) -> Any:
        return comma_list(blank_to_none(value)) or []

    @field_validator("dca_spreads")
    @classmethod
    def _check_dca_spreads(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("needs at least one DCA level, e.g. '0.001,0.018,0.15,0.25'")
        if any(spread < 0 for spread in value):
            raise ValueError(f"DCA spreads must be >= 0, got {value}")
        return value

    @field_validator("dca_amounts_pct", "activation_bounds", mode="before")
    @classmethod
    def _parse_lists(cls, value: Any) -> Any:
        return comma_list(blank_to_none(value)) or None

    @field_validator("dca_amounts_pct")
    @classmethod
    def _check_amounts(cls, value: list[float] | None, info: ValidationInfo) -> list[float] | None:
        if value is None:
            return None
        spreads = info.data.get("dca_spreads") or []
        if len(value) != len(spreads):
            raise ValueError(
                f"has {len(value)} values but dca_spreads has {len(spreads)}; give one weight per "
                "DCA spread, or leave it empty to split equally"
            )
        if any(amount < 0 for amount in value) or sum(value) <= 0:
            raise ValueError(f"DCA amounts must be >= 0 with a positive sum, got {value}")
        return value

    def degenerate_warnings(self) -> list[str]:
        """A static DCA spread of 1 or more prices that long entry at or below zero."""
        notes = super().degenerate_warnings()
        never = [s for s in self.dca_spreads if s >= 1]
        if never and not self.dynamic_order_spread:
            notes.append(
                f"dca_spreads {never} are 100 % or more below the close: those long DCA entries "
                "would be priced at or below 0 and never fill (spreads are fractions, 0.01 = 1 %)"
            )
        return notes

    @property
    def max_records(self) -> int:
        """Candles the live controller keeps (``bb_length``)."""
        return self.bb_length

    @property
    def triple_barrier_config(self) -> TripleBarrierConfig:
        """The DCA executors' exits: upstream passes no take profit to them."""
        # DCA levels are limit (MAKER) orders.
        return self.barrier(OrderType.LIMIT).model_copy(update={"take_profit": None})


class DManV3Controller(SingleCandleFeed, DirectionalTradingControllerBase[DManV3ControllerConfig]):
    """bollinger_v1's signal; each executor is a DCA."""

    config_class = DManV3ControllerConfig

    def dca_levels(self) -> tuple[list[float], list[float]]:
        """``dca_spreads`` and ``dca_amounts_pct`` normalised to weights."""
        weights = self.config.dca_amounts_pct or [1.0] * len(self.config.dca_spreads)
        total = sum(weights)
        return list(self.config.dca_spreads), [w / total for w in weights]

    feature_fields = (
        *CANDLES_SOURCE_FIELDS,
        "bb_length",
        "bb_long_threshold",
        "bb_short_threshold",
        "bb_std",
        "dynamic_order_spread",
        "dynamic_target",
        "interval",
    )

    def compute_features(self, data: MarketData) -> FeatureTable:
        """%B, band width, the signal and the DCA multipliers per candle."""
        cfg = self.config
        candles = data.candles(*cfg.candles_source(), cfg.interval)
        bbp = bbands_percent(candles.close, cfg.bb_length, cfg.bb_std)
        bbb = bbands_width(candles.close, cfg.bb_length, cfg.bb_std)
        valid = ~np.isnan(bbp)
        signal = signal_from(bbp < cfg.bb_long_threshold, bbp > cfg.bb_short_threshold, valid)
        half_width = bbb / 200.0
        ones = np.ones_like(half_width)
        columns = {
            "bbp": bbp,
            "bbb": bbb,
            "signal": signal,
            "dca_spread_multiplier": half_width if cfg.dynamic_order_spread else ones,
            "dca_target_multiplier": half_width if cfg.dynamic_target else ones,
        }
        return FeatureTable(candles.ts, candles.interval_s, columns)

    def warnings(self) -> list[str]:
        """Fields accepted but not simulated."""
        notes = super().warnings()
        if self.config.activation_bounds:
            notes.append(
                "activation_bounds only delays when live DCA orders are placed; the backtest "
                "places every DCA level at once"
            )
        if "take_profit" in self.config.model_fields_set and self.config.take_profit is not None:
            notes.append(
                "dman_v3 gives its DCA executors no take profit (as upstream); take_profit is "
                "ignored — exits are the trailing stop, stop loss and time limit"
            )
        return notes
