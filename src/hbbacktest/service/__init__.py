"""Use cases: the only package that wires config, data, engine and metrics together."""

from hbbacktest.service.backtest import (
    available_window,
    build_registry,
    load_controller_config,
    request_from_dict,
    run_backtest,
)
from hbbacktest.service.defaults import DEFAULT_CONFIG, default_request

__all__ = [
    "DEFAULT_CONFIG",
    "available_window",
    "build_registry",
    "default_request",
    "load_controller_config",
    "request_from_dict",
    "run_backtest",
]
