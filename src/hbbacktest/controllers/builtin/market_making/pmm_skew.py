"""pmm_skew: pmm_simple with spreads skewed towards one side by ``skew_factor``."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.controllers.base import Level, MarketMakingControllerBase
from hbbacktest.core.enums import TradeType


class PMMSkewConfig(MarketMakingControllerConfigBase):
    """Config of :class:`PMMSkewController`.

    Attributes:
        skew_factor: in (-1, 1). Positive makes sell spreads tighter and buy spreads wider by that
            fraction (``sell * (1 - skew)``, ``buy * (1 + skew)``), leaning towards selling;
            negative does the reverse. 0 is pmm_simple.
    """

    controller_name: str = "pmm_skew"
    skew_factor: float = Field(default=0.0, gt=-1, lt=1)


class PMMSkewController(MarketMakingControllerBase[PMMSkewConfig]):
    """pmm_simple whose spreads lean towards one side."""

    config_class = PMMSkewConfig

    def levels(self) -> list[Level]:
        """Base levels with skewed spreads."""
        skew = self.config.skew_factor
        return [
            replace(
                level, spread=level.spread * (1 + skew if level.side is TradeType.BUY else 1 - skew)
            )
            for level in super().levels()
        ]
