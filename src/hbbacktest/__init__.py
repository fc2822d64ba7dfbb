"""hbbacktest — fast, robust backtests of Hummingbot V2 controllers, without Hummingbot.

The public API is small::

    from hbbacktest import BacktestRequest, load_controller_config, run_backtest

    config = load_controller_config("examples/pmm_simple.yml")
    request = BacktestRequest(config=config, start="2024-01-08", end="2024-01-15")
    result = run_backtest(request)
    print(result.results["net_pnl_quote"])

``result.to_json()`` gives Hummingbot's result shape (``executors``, ``processed_data``,
``results``) plus ``pnl_timeseries`` and ``warnings``; it is always strict JSON.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hbbacktest.core.errors import HbBacktestError

if TYPE_CHECKING:
    from hbbacktest.config.request import BacktestRequest
    from hbbacktest.metrics.result import BacktestResult
    from hbbacktest.service import load_controller_config, request_from_dict, run_backtest

__version__ = "0.1.0"

__all__ = [
    "BacktestRequest",
    "BacktestResult",
    "HbBacktestError",
    "__version__",
    "load_controller_config",
    "request_from_dict",
    "run_backtest",
]


def __getattr__(name: str) -> object:
    # pydantic, NumPy, numba and TA-Lib cost a second to import: load them only when asked
    # for, so `hbbacktest --help` and `import hbbacktest` stay fast.
    if name == "BacktestRequest":
        from hbbacktest.config.request import BacktestRequest

        return BacktestRequest
    if name in ("run_backtest", "load_controller_config", "request_from_dict"):
        from hbbacktest import service

        return getattr(service, name)
    if name == "BacktestResult":
        from hbbacktest.metrics.result import BacktestResult

        return BacktestResult
    raise AttributeError(f"module 'hbbacktest' has no attribute {name!r}")
