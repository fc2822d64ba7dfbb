"""Use cases: the only package that wires config, data, engine and metrics together."""

from hbbacktest.service.backtest import (
    available_window,
    build_registry,
    load_controller_config,
    request_from_dict,
    run_backtest,
)
from hbbacktest.service.defaults import DEFAULT_CONFIG, default_request
from hbbacktest.service.planning import RunPlan, check_run_options, plan_run

__all__ = [
    "DEFAULT_CONFIG",
    "RunPlan",
    "available_window",
    "build_registry",
    "check_run_options",
    "default_request",
    "load_controller_config",
    "plan_run",
    "request_from_dict",
    "run_backtest",
]
