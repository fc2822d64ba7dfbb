"""The embedded default job: pmm_simple on the synthetic demo connector, one week of 1m bars."""

from __future__ import annotations

from typing import Any

from hbbacktest.config.request import BacktestRequest
from hbbacktest.controllers.registry import default_registry

DEFAULT_CONFIG: dict[str, Any] = {
    "id": "demo_pmm_simple",
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "buy_spreads": "0.002,0.004",
    "sell_spreads": "0.002,0.004",
    "buy_amounts_pct": "1,1",
    "sell_amounts_pct": "1,1",
    "executor_refresh_time": 300,
    "cooldown_time": 15,
    "leverage": 20,
    "stop_loss": 0.03,
    "take_profit": 0.02,
    "time_limit": 2700,
    "skip_rebalance": True,
}
DEFAULT_START = "2024-01-08"
DEFAULT_END = "2024-01-15"


def default_request() -> BacktestRequest:
    """The request the README's main job runs."""
    config = default_registry().load_config(DEFAULT_CONFIG, source="embedded default config")
    return BacktestRequest(config=config, start=DEFAULT_START, end=DEFAULT_END)  # type: ignore[arg-type]
