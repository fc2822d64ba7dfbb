"""Controllers: per-run feature computation and the per-family decision rules' parameters."""

from hbbacktest.controllers.base import (
    ControllerBase,
    DirectionalTradingControllerBase,
    FeatureTable,
    Level,
    MarketData,
    MarketMakingControllerBase,
)
from hbbacktest.controllers.registry import ControllerRegistry, default_registry

__all__ = [
    "ControllerBase",
    "ControllerRegistry",
    "DirectionalTradingControllerBase",
    "FeatureTable",
    "Level",
    "MarketData",
    "MarketMakingControllerBase",
    "default_registry",
]
