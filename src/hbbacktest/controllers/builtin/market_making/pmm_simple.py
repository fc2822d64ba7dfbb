"""pmm_simple: quotes fixed spreads around the bar's close (Hummingbot's ``pmm_simple``)."""

from __future__ import annotations

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.controllers.base import MarketMakingControllerBase


class PMMSimpleConfig(MarketMakingControllerConfigBase):
    """Config of :class:`PMMSimpleController`; every field is the market-making base's."""

    controller_name: str = "pmm_simple"


class PMMSimpleController(MarketMakingControllerBase[PMMSimpleConfig]):
    """Fixed spreads around the last close, one position executor per level."""

    config_class = PMMSimpleConfig
