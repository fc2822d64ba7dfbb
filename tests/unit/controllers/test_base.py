"""Controller bases: market data access, feature tables, market-making levels and notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hbbacktest.config import CandlesConfig
from hbbacktest.controllers import (
    ControllerBase,
    ControllerRegistry,
    Level,
    MarketData,
    MarketMakingControllerBase,
)
from hbbacktest.controllers.base import candles_feed
from hbbacktest.core.enums import TradeType
from hbbacktest.data.candles import Candles


def bars(n: int = 4) -> Candles:
    close = np.linspace(100.0, 103.0, n)
    return Candles(
        60 * np.arange(n, dtype=np.int64), close, close + 1, close - 1, close, np.ones(n), 60
    )


def pmm(**fields: Any) -> Any:
    config = ControllerRegistry().load_config({"controller_name": "pmm_simple", **fields})
    return ControllerRegistry().create(config)


def test_market_data_candles_upper_cases_the_pair() -> None:
    feed = bars()
    data = MarketData(bars=feed, feeds={("binance", "BTC-USDT", "1m"): feed}, start=0)
    assert data.candles("binance", "btc-usdt", "1m") is feed
    with pytest.raises(KeyError):
        data.candles("binance", "BTC-USDT", "5m")


def test_candles_feed_key() -> None:
    config = CandlesConfig(connector="binance", trading_pair="eth-usdt", interval="5m")
    assert candles_feed(config) == ("binance", "ETH-USDT", "5m")


def test_level_defaults_are_nan() -> None:
    level = Level("buy_0", TradeType.BUY, 0.01)
    assert np.isnan(level.amount_quote)
    assert np.isnan(level.amount_base)


def test_market_making_levels() -> None:
    controller = pmm(
        total_amount_quote=1000,
        buy_spreads="0.01,0.02",
        sell_spreads="0.005",
        buy_amounts_pct="1,2",
        sell_amounts_pct="1",
    )
    assert controller.levels() == [
        Level("buy_0", TradeType.BUY, 0.01, amount_quote=250.0),
        Level("buy_1", TradeType.BUY, 0.02, amount_quote=500.0),
        Level("sell_0", TradeType.SELL, 0.005, amount_quote=250.0),
    ]


def test_market_making_features_are_close_and_one() -> None:
    candles = bars()
    table = pmm().compute_features(MarketData(bars=candles, feeds={}, start=0))
    assert table.interval_s == 60
    np.testing.assert_array_equal(table.ts, candles.ts)
    np.testing.assert_array_equal(table.columns["reference_price"], candles.close)
    np.testing.assert_array_equal(table.columns["spread_multiplier"], np.ones(4))


def test_spot_rebalancing_is_simulated_not_warned_about() -> None:
    assert pmm(connector_name="binance").warnings() == []
    assert pmm(connector_name="binance", skip_rebalance=True).warnings() == []
    assert pmm(connector_name="binance_perpetual").warnings() == []


def test_controller_base_defaults() -> None:
    config = ControllerRegistry().load_config(
        {
            "controller_name": "pmm_simple",
            "candles_config": [
                {"connector": "binance", "trading_pair": "BTC-USDT", "interval": "1h"}
            ],
        }
    )
    controller = ControllerBase(config)
    assert controller.candles_configs() == [
        CandlesConfig(connector="binance", trading_pair="BTC-USDT", interval="1h")
    ]
    assert controller.warnings() == []
    table = controller.compute_features(MarketData(bars=bars(), feeds={}, start=0))
    assert table.columns == {}
    assert issubclass(MarketMakingControllerBase, ControllerBase)
