"""Use cases: the only package that wires config, data, engine and metrics together.

Names load on first use, so a face that needs one cheap use case (``data list``) does not pay
for importing the engine (numba, TA-Lib) with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hbbacktest.service.backtest import (
        available_window,
        load_controller_config,
        request_from_dict,
        run_backtest,
    )
    from hbbacktest.service.controllers import build_registry
    from hbbacktest.service.data import import_candles, list_candles
    from hbbacktest.service.defaults import DEFAULT_CONFIG, default_request
    from hbbacktest.service.planning import RunPlan, check_run_options, plan_run

_HOMES = {
    "available_window": "backtest",
    "build_registry": "controllers",
    "load_controller_config": "backtest",
    "request_from_dict": "backtest",
    "run_backtest": "backtest",
    "import_candles": "data",
    "list_candles": "data",
    "DEFAULT_CONFIG": "defaults",
    "default_request": "defaults",
    "RunPlan": "planning",
    "check_run_options": "planning",
    "plan_run": "planning",
}

__all__ = [
    "DEFAULT_CONFIG",
    "RunPlan",
    "available_window",
    "build_registry",
    "check_run_options",
    "default_request",
    "import_candles",
    "list_candles",
    "load_controller_config",
    "plan_run",
    "request_from_dict",
    "run_backtest",
]


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(f"hbbacktest.service.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'hbbacktest.service' has no attribute {name!r}")
