from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from hbbacktest.config import CandlesConfig
from hbbacktest.controllers import MarketData
from hbbacktest.data.candles import Candles
from hbbacktest.data.sources import DEMO_START, demo_candles
from hbbacktest.indicators import macd, natr

DAY = 86_400
SOURCE = {"candles_connector": "demo", "candles_trading_pair": "ETH-USDT"}


@pytest.fixture(scope="module")
def candles() -> Candles:
    return demo_candles("ETH-USDT", "3m", DEMO_START, DEMO_START + 2 * DAY)


def features(controller: Any, candles: Candles, **fields: Any) -> tuple[Any, dict[str, np.ndarray]]:
    dyn = controller(
        "pmm_dynamic", connector_name="demo", trading_pair="ETH-USDT", **SOURCE, **fields
    )
    data = MarketData(bars=candles, feeds={("demo", "ETH-USDT", "3m"): candles}, start=DEMO_START)
    table = dyn.compute_features(data)
    assert table.interval_s == 180
    np.testing.assert_array_equal(table.ts, candles.ts)
    return dyn, table.columns


def test_reference_price_is_close_times_one_plus_price_multiplier(
    controller: Any, candles: Candles
) -> None:
    _, cols = features(controller, candles)
    np.testing.assert_allclose(
        cols["reference_price"], candles.close * (1 + cols["price_multiplier"]), rtol=1e-15
    )
    valid = np.isfinite(cols["reference_price"])
    assert valid[-100:].all()
    assert not np.allclose(cols["reference_price"][valid], candles.close[valid])


def test_macd_signal_is_minus_the_rolling_zscore_over_max_records(
    controller: Any, candles: Candles
) -> None:
    dyn, cols = features(controller, candles)
    assert dyn.config.max_records == 142  # max(42, 21, 9, 14) + 100
    line = pd.Series(macd(candles.close, 21, 42, 9)[0])
    expected = (
        -(line - line.rolling(142, min_periods=1).mean()) / line.rolling(142, min_periods=2).std()
    )
    np.testing.assert_allclose(cols["macd_signal"], expected.to_numpy(), rtol=1e-9)
    # a window, not the whole run: differs from a z-score over everything seen so far
    expanding = -(line - line.expanding().mean()) / line.expanding(min_periods=2).std()
    assert not np.allclose(cols["macd_signal"][-50:], expanding.to_numpy()[-50:])


def test_derived_columns(controller: Any, candles: Candles) -> None:
    _, cols = features(
        controller, candles, natr_length=10, macd_fast=8, macd_slow=17, macd_signal=5
    )
    expected_natr = natr(candles.high, candles.low, candles.close, 10) / 100
    np.testing.assert_allclose(cols["natr"], expected_natr)
    np.testing.assert_array_equal(cols["spread_multiplier"], cols["natr"])
    hist = cols["macdh"]
    finite = np.isfinite(hist)
    np.testing.assert_array_equal(
        cols["macdh_signal"][finite], np.where(hist[finite] > 0, 1.0, -1.0)
    )
    assert np.isnan(cols["macdh_signal"][~finite]).all()
    np.testing.assert_allclose(
        cols["price_multiplier"],
        (0.5 * cols["macd_signal"] + 0.5 * cols["macdh_signal"]) * cols["natr"] / 2,
    )


def test_features_are_causal_under_truncation(controller: Any, candles: Candles) -> None:
    _, full = features(controller, candles)
    k = 400
    _, head = features(controller, candles.take(slice(0, k)))
    for name, values in head.items():
        np.testing.assert_allclose(values, full[name][:k], err_msg=name)


def test_candles_feed_uses_interval_and_max_records(controller: Any) -> None:
    dyn = controller("pmm_dynamic", interval="5m", macd_slow=200, **SOURCE)
    assert dyn.candles_configs() == [
        CandlesConfig(connector="demo", trading_pair="ETH-USDT", interval="5m", max_records=300)
    ]


def test_spreads_are_in_natr_units_by_default(controller: Any) -> None:
    dyn = controller("pmm_dynamic", total_amount_quote=600)
    assert [(lv.level_id, lv.spread, lv.amount_quote) for lv in dyn.levels()] == [
        ("buy_0", 1.0, 100.0),
        ("buy_1", 2.0, 100.0),
        ("buy_2", 4.0, 100.0),
        ("sell_0", 1.0, 100.0),
        ("sell_1", 2.0, 100.0),
        ("sell_2", 4.0, 100.0),
    ]


def test_candles_source_defaults_produce_warnings(controller: Any) -> None:
    dyn = controller("pmm_dynamic", connector_name="binance_perpetual", trading_pair="sol-usdt")
    assert dyn.config.candles_source() == ("binance_perpetual", "SOL-USDT")
    assert dyn.warnings() == [
        "candles_connector is not set; using connector_name 'binance_perpetual'",
        "candles_trading_pair is not set; using trading_pair 'SOL-USDT'",
    ]
    assert dyn.candles_configs()[0].connector == "binance_perpetual"


@pytest.mark.parametrize("blank", ["", None])
def test_blank_candles_source_is_defaulted(controller: Any, blank: Any) -> None:
    dyn = controller("pmm_dynamic", candles_connector=blank, candles_trading_pair=blank)
    assert dyn.config.candles_source() == ("binance_perpetual", "WLD-USDT")
    assert len(dyn.warnings()) == 2


def test_explicit_candles_source_has_no_warning(controller: Any) -> None:
    dyn = controller("pmm_dynamic", candles_connector="binance", candles_trading_pair="btc-usdt")
    assert dyn.config.candles_source() == ("binance", "BTC-USDT")
    assert dyn.warnings() == []
