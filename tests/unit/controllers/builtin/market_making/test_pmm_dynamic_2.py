from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hbbacktest.controllers import MarketData
from hbbacktest.core.errors import ConfigError
from hbbacktest.data.sources import DEMO_START, demo_candles
from hbbacktest.indicators import macd


def test_levels_trade_a_fixed_base_amount(controller: Any) -> None:
    dyn = controller(
        "pmm_dynamic_2", order_amount="0.5", buy_spreads="0.01,0.02", sell_spreads="0.03"
    )
    levels = dyn.levels()
    assert [(lv.level_id, lv.spread, lv.amount_base) for lv in levels] == [
        ("buy_0", 0.01, 0.5),
        ("buy_1", 0.02, 0.5),
        ("sell_0", 0.03, 0.5),
    ]
    assert all(np.isnan(lv.amount_quote) for lv in levels)


def test_features(controller: Any) -> None:
    candles = demo_candles("BTC-USDT", "1m", DEMO_START, DEMO_START + 6 * 3600)
    dyn = controller(
        "pmm_dynamic_2",
        candles_connector="demo",
        candles_trading_pair="BTC-USDT",
        price_adjustment_factor=0.001,
        spread_multiplier_factor=0.05,
        min_spread_multiplier=0.8,
        max_spread_multiplier=1.5,
    )
    assert dyn.config.max_records == 126
    table = dyn.compute_features(
        MarketData(bars=candles, feeds={("demo", "BTC-USDT", "1m"): candles}, start=DEMO_START)
    )
    cols = table.columns
    _, signal, hist = macd(candles.close, 12, 26, 9)
    np.testing.assert_allclose(cols["macdh"], hist)
    np.testing.assert_allclose(cols["macd_signal_line"], signal)
    np.testing.assert_allclose(cols["reference_price"], candles.close * (1 + hist * 0.001))
    expected = np.clip(1 + np.abs(hist) * 0.05, 0.8, 1.5)
    np.testing.assert_allclose(cols["spread_multiplier"], expected)
    finite = cols["spread_multiplier"][np.isfinite(cols["spread_multiplier"])]
    assert finite.min() >= 0.8
    assert finite.max() <= 1.5
    assert (finite == 1.5).any()  # BTC's histogram is large: the cap binds


def test_multiplier_bounds_must_be_ordered(controller: Any) -> None:
    with pytest.raises(
        ConfigError, match=r"min_spread_multiplier \(3.0\) is above max_spread_multiplier \(2.0\)"
    ):
        controller("pmm_dynamic_2", min_spread_multiplier=3)


def test_candles_source_defaults_produce_warnings(controller: Any) -> None:
    dyn = controller("pmm_dynamic_2", connector_name="binance", skip_rebalance=True)
    assert dyn.warnings() == [
        "candles_connector is not set; using connector_name 'binance'",
        "candles_trading_pair is not set; using trading_pair 'WLD-USDT'",
    ]
    # spot rebalancing is simulated, so it no longer needs a warning
    spot = controller("pmm_dynamic_2", connector_name="binance")
    assert spot.warnings() == dyn.warnings()
