"""Pydantic models that users write: controller configs, executor barriers and run requests.

Names are loaded on first use: ``hbbacktest.config.settings`` (read by every CLI command) must
not pay for importing pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbbacktest.config.controller import (
        CandlesConfig,
        ControllerConfigBase,
        MarketMakingControllerConfigBase,
        TrailingStop,
        TripleBarrierConfig,
        config_warnings,
    )
    from hbbacktest.config.request import BacktestRequest, canonical_json

_HOMES = {
    "BacktestRequest": "request",
    "canonical_json": "request",
    "CandlesConfig": "controller",
    "ControllerConfigBase": "controller",
    "MarketMakingControllerConfigBase": "controller",
    "TrailingStop": "controller",
    "TripleBarrierConfig": "controller",
    "config_warnings": "controller",
}

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


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(f"hbbacktest.config.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'hbbacktest.config' has no attribute {name!r}")
