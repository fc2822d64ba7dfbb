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

from hbbacktest.config.request import BacktestRequest
from hbbacktest.core.errors import HbBacktestError

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
    # The service layer pulls in numba and TA-Lib; import it only when asked for.
    if name in ("run_backtest", "load_controller_config", "request_from_dict"):
        from hbbacktest import service

        return getattr(service, name)
    if name == "BacktestResult":
        from hbbacktest.metrics.result import BacktestResult

        return BacktestResult
    raise AttributeError(f"module 'hbbacktest' has no attribute {name!r}")
