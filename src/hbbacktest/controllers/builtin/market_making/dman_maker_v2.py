"""dman_maker_v2: market making where every level is a DCA executor (Hummingbot's).

Level ``buy_k`` at price ``P_k = close * (1 - buy_spreads[k])`` opens a DCA executor with entries
at ``P_k * (1 - dca_spreads[i])`` for ``B_k * dca_amounts[i] / Σ dca_amounts`` base each, where
``B_k`` is the level's base amount; sells mirror it. The executor shares the controller's triple
barrier, measured against the position's average entry.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.config.limits import MAX_DURATION_S, MAX_LEVELS_PER_SIDE
from hbbacktest.config.parsing import blank_to_none, comma_list
from hbbacktest.controllers.base import Level, MarketMakingControllerBase

_DEFAULT_DCA_AMOUNTS = [0.1, 0.2, 0.4, 0.8]


class DManMakerV2Config(MarketMakingControllerConfigBase):
    """Config of :class:`DManMakerV2Controller` (upstream names and defaults)."""

    controller_name: str = "dman_maker_v2"
    dca_spreads: list[float] = Field(
        default=[0.01, 0.02, 0.04, 0.08],
        max_length=MAX_LEVELS_PER_SIDE,
        description="Each DCA entry's distance from the level price (fractions).",
    )
    dca_amounts: list[float] | None = Field(
        default=_DEFAULT_DCA_AMOUNTS,
        max_length=MAX_LEVELS_PER_SIDE,
        description="Relative weight of each DCA entry; empty splits equally.",
    )
    top_executor_refresh_time: float | None = Field(default=None, ge=0, le=MAX_DURATION_S)
    executor_activation_bounds: list[float] | None = None

    @field_validator("dca_spreads", mode="before")
    @classmethod
    def _parse_dca_spreads(cls, value: Any) -> Any:
        return comma_list(blank_to_none(value)) or []

    @field_validator("dca_spreads")
    @classmethod
    def _check_dca_spreads(cls, value: list[float]) -> list[float]:
        if not value:
            raise ValueError("needs at least one DCA level, e.g. '0.01,0.02,0.04,0.08'")
        if any(spread < 0 or spread >= 1 for spread in value):
            raise ValueError(
                f"DCA spreads must be in [0, 1) (fractions, 0.01 = 1 %; 1 would price a buy "
                f"level at 0), got {value}"
            )
        return value

    @field_validator("dca_amounts", mode="before")
    @classmethod
    def _parse_dca_amounts(cls, value: Any) -> Any:
        return comma_list(blank_to_none(value)) or None

    @field_validator("dca_amounts")
    @classmethod
    def _check_dca_amounts(cls, value: list[float] | None, info: ValidationInfo) -> list[float]:
        spreads = info.data.get("dca_spreads") or []
        if value is None:
            return [1.0] * len(spreads)
        if len(value) != len(spreads) and value == _DEFAULT_DCA_AMOUNTS:
            raise ValueError(
                f"was not given, so Hummingbot's default {_DEFAULT_DCA_AMOUNTS} (4 weights) "
                f"applies, but dca_spreads has {len(spreads)} levels; give dca_amounts with "
                f"{len(spreads)} weights, or set dca_amounts: '' to split equally"
            )
        if len(value) != len(spreads):
            raise ValueError(
                f"has {len(value)} values but dca_spreads has {len(spreads)}; give one amount per "
                "DCA spread, or leave it empty to split equally"
            )
        if any(amount < 0 for amount in value) or sum(value) <= 0:
            raise ValueError(f"DCA amounts must be >= 0 with a positive sum, got {value}")
        return value

    @field_validator("executor_activation_bounds", mode="before")
    @classmethod
    def _parse_bounds(cls, value: Any) -> Any:
        return comma_list(blank_to_none(value)) or None

    @field_validator("top_executor_refresh_time", mode="before")
    @classmethod
    def _blank_refresh(cls, value: Any) -> Any:
        return blank_to_none(value)


class DManMakerV2Controller(MarketMakingControllerBase[DManMakerV2Config]):
    """Quotes fixed spreads around the close; each level is a DCA executor."""

    config_class = DManMakerV2Config

    def levels(self) -> list[Level]:
        """The base's levels; level 0 of each side refreshes after ``top_executor_refresh_time``."""
        top = self.config.top_executor_refresh_time
        if top is None:
            return super().levels()
        refresh = min(float(self.config.executor_refresh_time), float(top))
        return [
            Level(lv.level_id, lv.side, lv.spread, lv.amount_quote, lv.amount_base, refresh)
            if lv.level_id.endswith("_0")
            else lv
            for lv in super().levels()
        ]

    def dca_levels(self) -> tuple[list[float], list[float]]:
        """``dca_spreads`` and ``dca_amounts`` normalised to weights."""
        amounts = self.config.dca_amounts or [1.0] * len(self.config.dca_spreads)
        total = sum(amounts)
        return list(self.config.dca_spreads), [amount / total for amount in amounts]

    def warnings(self) -> list[str]:
        """Fields accepted but not simulated."""
        notes = super().warnings()
        if self.config.executor_activation_bounds:
            notes.append(
                "executor_activation_bounds only delays when live DCA orders are placed; the "
                "backtest places every DCA level at once"
            )
        return notes
