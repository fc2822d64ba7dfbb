"""Pydantic models that users write: controller configs, executor barriers and run requests."""

from hbbacktest.config.controller import (
    CandlesConfig,
    ControllerConfigBase,
    MarketMakingControllerConfigBase,
    TrailingStop,
    TripleBarrierConfig,
    config_warnings,
)
from hbbacktest.config.request import BacktestRequest, canonical_json

__all__ = [
    "BacktestRequest",
    "CandlesConfig",
    "ControllerConfigBase",
    "MarketMakingControllerConfigBase",
    "TrailingStop",
    "TripleBarrierConfig",
    "canonical_json",
    "config_warnings",
]
