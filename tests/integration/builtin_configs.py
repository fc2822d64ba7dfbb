"""One realistic config per built-in controller, on the shared BTC-USDT 1m candles."""

from __future__ import annotations

from typing import Any

_BASE: dict[str, Any] = {
    "connector_name": "binance",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "executor_refresh_time": 300,
    "cooldown_time": 60,
    "stop_loss": 0.01,
    "take_profit": 0.004,
    "time_limit": 3600,
    "trailing_stop": "0.003,0.001",
    "skip_rebalance": True,
}

BUILTIN_CONFIGS: dict[str, dict[str, Any]] = {
    "pmm_simple": {
        **_BASE,
        "controller_name": "pmm_simple",
        "buy_spreads": "0.001,0.003",
        "sell_spreads": "0.001,0.003",
    },
    "pmm_skew": {
        **_BASE,
        "controller_name": "pmm_skew",
        "buy_spreads": "0.001,0.003",
        "sell_spreads": "0.001,0.003",
        "skew_factor": 0.4,
    },
    "pmm_dynamic": {
        **_BASE,
        "controller_name": "pmm_dynamic",
        "interval": "3m",
        "buy_spreads": "0.5,1,2",
        "sell_spreads": "0.5,1,2",
    },
    "pmm_dynamic_2": {
        **_BASE,
        "controller_name": "pmm_dynamic_2",
        "interval": "1m",
        "candles_connector": "binance",
        "candles_trading_pair": "BTC-USDT",
        "order_amount": 0.005,
        "buy_spreads": "0.001,0.002",
        "sell_spreads": "0.001,0.002",
        "price_adjustment_factor": 0.00002,
        "spread_multiplier_factor": 0.02,
    },
    "bollinger_v1": {
        **_BASE,
        "controller_name": "bollinger_v1",
        "interval": "3m",
        "bb_length": 50,
        "bb_long_threshold": 0.1,
        "bb_short_threshold": 0.9,
        "cooldown_time": 300,
        "max_executors_per_side": 2,
    },
    "macd_bb_v1": {
        **_BASE,
        "controller_name": "macd_bb_v1",
        "interval": "1m",
        "bb_length": 50,
        "bb_long_threshold": 0.3,
        "bb_short_threshold": 0.7,
        "cooldown_time": 300,
    },
    "dman_maker_v2": {
        **_BASE,
        "controller_name": "dman_maker_v2",
        "buy_spreads": "0.002,0.006",
        "sell_spreads": "0.002,0.006",
        "dca_spreads": "0.001,0.003,0.006",
        "dca_amounts": "1,2,4",
        "top_executor_refresh_time": 120,
    },
    "dman_v3": {
        **{k: v for k, v in _BASE.items() if k != "take_profit"},
        "controller_name": "dman_v3",
        "interval": "3m",
        "bb_length": 50,
        "bb_long_threshold": 0.1,
        "bb_short_threshold": 0.9,
        "dca_spreads": "0.001,0.004,0.01",
        "dca_amounts_pct": "1,1,2",
        "trailing_stop": "0.004,0.001",
        "cooldown_time": 300,
    },
    "supertrend_v1": {
        **_BASE,
        "controller_name": "supertrend_v1",
        "interval": "3m",
        "length": 20,
        "multiplier": 3.0,
        "percentage_threshold": 0.003,
        "cooldown_time": 600,
    },
}
