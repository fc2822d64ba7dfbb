"""One test per upstream defect listed in ../shared/UPSTREAM_NOTES.md that the engine core fixes.

Each test builds a tiny market where Hummingbot's engine gives a wrong answer and checks that
hbbacktest gives the right one. The docstring names the upstream behaviour it guards against.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hbbacktest.config.controller import DirectionalTradingControllerConfigBase
from hbbacktest.controllers.base import DirectionalTradingControllerBase, FeatureTable, MarketData
from hbbacktest.controllers.registry import default_registry
from hbbacktest.core.enums import CloseType, FillModel, TradeType
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import resample
from hbbacktest.engine.backtest import EngineParams, RawRun, run_controller
from hbbacktest.indicators import macd, natr

T0 = 1_700_000_040 - 1_700_000_040 % 180  # a multiple of 3m, so buckets are easy to reason about


def _candles(close: list[float], *, low: list[float] | None = None, step: int = 60) -> Candles:
    c = np.asarray(close, dtype=np.float64)
    o = np.concatenate([[c[0]], c[:-1]])
    lo = np.minimum(o, c) if low is None else np.asarray(low, dtype=np.float64)
    hi = np.maximum(o, c)
    ts = T0 + step * np.arange(c.shape[0], dtype=np.int64)
    return Candles(ts, o, hi, lo, c, np.ones_like(c), step)


def _run(
    config: dict[str, Any],
    bars: Candles,
    *,
    feeds: dict | None = None,
    start: int | None = None,
    fill_model: FillModel = FillModel.HUMMINGBOT,
) -> RawRun:
    registry = default_registry()
    controller = registry.create(registry.load_config(config))
    market = MarketData(
        bars=bars, feeds=feeds or {}, start=int(bars.ts[0]) if start is None else start
    )
    return run_controller(controller, market, EngineParams(fill_model=fill_model, trade_cost=0.0))


def test_stop_loss_is_not_scanned_before_the_fill() -> None:
    """Upstream defect 1: the stop-loss scan covers bars before the fill.

    A buy level at 99 (1 % below 100) is created at bar 0. Bar 1's wick dips to 97.5 — below the
    stop-loss price of a fill at 99 (99 * 0.99 = 98.01) — but closes at 100, so nothing is filled
    yet. Bar 2 closes at 99 and fills. Prices then stay flat: the
    position must end by its time limit, not by a stop loss "hit" before it existed.
    """
    close = [100.0, 100.0, 99.0, 99.0, 99.0, 99.0, 99.0]
    low = [100.0, 97.5, 99.0, 99.0, 99.0, 99.0, 99.0]
    config = {
        "controller_name": "pmm_simple",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "buy_spreads": "0.01",
        "sell_spreads": "",
        "stop_loss": 0.01,
        "take_profit": 0.5,
        "time_limit": 240,
        "executor_refresh_time": 600,
    }
    rec = _run(config, _candles(close, low=low)).records
    first = rec[0]
    assert first["fill_row"] == 2
    assert first["close_type"] == CloseType.TIME_LIMIT
    assert first["close_row"] == 4  # created at row 0, time limit 240 s → row 4


def _pmm_dynamic_2(interval: str) -> dict[str, Any]:
    return {
        "controller_name": "pmm_dynamic_2",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "interval": interval,
        "macd_fast": 2,
        "macd_slow": 3,
        "macd_signal": 2,
        "price_adjustment_factor": 0.01,
        "buy_spreads": "0.01",
        "sell_spreads": "0.01",
    }


def test_coarser_candles_are_visible_only_once_closed() -> None:
    """Upstream defect 6a: 3m candles are joined to 1m bars by their open time.

    Upstream lets the 1m bar opened at 12:00 see the 3m candle that closes at 12:03. Here the 1m
    bar whose close is at time t sees only the 3m candles closed at or before t.
    """
    rng = np.random.default_rng(3)
    bars = _candles(list(100 + np.cumsum(rng.normal(0, 1, 60))))
    three = resample(bars, 180)
    run = _run(_pmm_dynamic_2("3m"), bars, feeds={("binance_perpetual", "BTC-USDT", "3m"): three})
    _, _, hist = macd(three.close, 2, 3, 2)
    expected_3m = three.close * (1 + hist * 0.01)
    for k in range(len(bars)):
        decided_at = bars.ts[k] + 60
        closed = np.flatnonzero(three.ts + 180 <= decided_at)
        want = expected_3m[closed[-1]] if closed.size else np.nan
        got = run.features["reference_price"][k]
        assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want), k


def test_pmm_dynamic_shift_is_per_candle_not_from_the_last_candle() -> None:
    """Upstream defect 6b: pmm_dynamic applies the *last* candle's price shift to every bar.

    Here each bar uses the shift of the latest closed candle: the shift varies over the run and
    equals the formula evaluated on that candle alone.
    """
    rng = np.random.default_rng(5)
    bars = _candles(list(100 * np.exp(np.cumsum(rng.normal(0, 0.003, 400)))))
    config = {
        "controller_name": "pmm_dynamic",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "interval": "1m",
        "macd_fast": 5,
        "macd_slow": 10,
        "macd_signal": 3,
        "natr_length": 5,
    }
    run = _run(config, bars, feeds={("binance_perpetual", "BTC-USDT", "1m"): bars})
    shift = run.features["price_multiplier"]
    valid = shift[~np.isnan(shift)]
    assert valid.size > 200 and np.unique(np.sign(valid)).size == 2
    np.testing.assert_allclose(run.features["reference_price"], bars.close * (1 + shift))


def test_macd_zscore_uses_the_live_rolling_window() -> None:
    """Upstream defect 6b: pmm_dynamic's MACD z-score uses the whole backtest's mean and std.

    Live, the controller keeps ``max_records`` candles; the z-score at each candle uses only those.
    """
    rng = np.random.default_rng(11)
    bars = _candles(list(100 * np.exp(np.cumsum(rng.normal(0, 0.003, 600)))))
    config = {
        "controller_name": "pmm_dynamic",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "interval": "1m",
        "macd_fast": 5,
        "macd_slow": 10,
        "macd_signal": 3,
        "natr_length": 5,
    }
    window = 10 + 100  # max_records = longest period + 100
    run = _run(config, bars, feeds={("binance_perpetual", "BTC-USDT", "1m"): bars})
    line, _, _ = macd(bars.close, 5, 10, 3)
    for i in (150, 333, 599):
        recent = line[max(0, i - window + 1) : i + 1]
        recent = recent[~np.isnan(recent)]
        want = -(line[i] - recent.mean()) / recent.std(ddof=1)
        assert run.features["macd_signal"][i] == pytest.approx(want)
    whole = line[~np.isnan(line)]
    assert run.features["macd_signal"][599] != pytest.approx(
        -(line[599] - whole.mean()) / whole.std(ddof=1)
    )


def test_warm_up_comes_from_history_not_from_dropped_rows() -> None:
    """Upstream defect 7: indicator warm-up rows are dropped from the start of the backtest.

    Given history before ``start``, the first bar of the window already has valid features and
    every level quotes on it.
    """
    rng = np.random.default_rng(2)
    bars = _candles(list(100 * np.exp(np.cumsum(rng.normal(0, 0.003, 500)))))
    start = int(bars.ts[300])
    config = {
        "controller_name": "pmm_dynamic",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "interval": "1m",
        "macd_fast": 21,
        "macd_slow": 42,
        "macd_signal": 9,
        "natr_length": 14,
        "buy_spreads": "1",
        "sell_spreads": "1",
    }
    run = _run(config, bars, feeds={("binance_perpetual", "BTC-USDT", "1m"): bars}, start=start)
    assert run.start_row == 300
    assert not np.isnan(run.features["reference_price"][300])
    first_rows = run.records["created_row"][:2]
    assert list(first_rows) == [300, 300]
    assert natr(bars.high, bars.low, bars.close, 14)[299] > 0


class _FixedSignal(DirectionalTradingControllerBase[DirectionalTradingControllerConfigBase]):
    """A directional controller whose signal is given by the test, one value per bar."""

    signal: np.ndarray = np.zeros(0)

    def compute_features(self, data: MarketData) -> FeatureTable:
        return FeatureTable(data.bars.ts, data.bars.interval_s, {"signal": self.signal})


def test_directional_limit_counts_only_the_signals_side() -> None:
    """Upstream defect 5: the directional base counts active executors on *both* sides for a sell.

    Two longs are open (``max_executors_per_side: 2``); a short signal must still open a short.
    Upstream's filter reads ``x.side == BUY if signal > 0 else TradeType.SELL`` — always true for
    sells — and blocks it until the longs close.
    """
    bars = _candles([100.0] * 12)
    config = DirectionalTradingControllerConfigBase(
        controller_name="fixed_signal",
        connector_name="binance_perpetual",
        trading_pair="BTC-USDT",
        max_executors_per_side=2,
        cooldown_time=0,
        stop_loss=None,
        take_profit=None,
        time_limit=3600,
    )
    controller = _FixedSignal(config)
    controller.signal = np.array([1, 1, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)
    market = MarketData(bars=bars, feeds={}, start=int(bars.ts[0]))
    rec = run_controller(controller, market, EngineParams(trade_cost=0.0)).records
    assert list(rec["created_row"]) == [0, 1, 3]
    assert list(rec["side"]) == [TradeType.BUY, TradeType.BUY, TradeType.SELL]


def test_supertrend_v1_runs_where_upstream_drops_every_row() -> None:
    """Upstream's engine drops every row with a NaN; SuperTrend's long/short legs always have one,
    so supertrend_v1 cannot be backtested there. Here it trades."""
    rng = np.random.default_rng(9)
    bars = _candles(list(100 * np.exp(np.cumsum(rng.normal(0, 0.004, 600)))))
    config = {
        "controller_name": "supertrend_v1",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "interval": "1m",
        "length": 10,
        "multiplier": 2.0,
        "percentage_threshold": 0.01,
        "cooldown_time": 60,
    }
    run = _run(config, bars, feeds={("binance_perpetual", "BTC-USDT", "1m"): bars})
    assert run.records.shape[0] > 5
    assert set(
        np.unique(
            run.features["supertrend_direction"][~np.isnan(run.features["supertrend_direction"])]
        )
    ) == {-1.0, 1.0}


def test_dca_fills_are_booked_when_a_later_level_never_fills() -> None:
    """Upstream defect 3: the DCA simulator drops fills.

    It books every level from a loop variable left over from the last level; when any level never
    fills that variable is NaN and nothing is booked: 0 fill, 0 PnL, 0 fees, yet a close type.
    Here a dman_maker_v2 buy level at 99 has two DCA entries (99 and 97.02). The first fills at
    the close of bar 1 (99), the second never does, and the close of 99.6 takes profit on the
    first: the executor must show that fill and its profit, 1000 * (99.6 / 99 - 1) ≈ 6.06.
    """
    close = [100.0, 99.0, 99.2, 99.6, 99.6]
    config = {
        "controller_name": "dman_maker_v2",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "total_amount_quote": 1000,
        "buy_spreads": "0.01",
        "sell_spreads": "",
        "dca_spreads": "0,0.02",
        "dca_amounts": "1,0",
        "take_profit": 0.005,
        "stop_loss": 0.05,
        "time_limit": 3600,
        "executor_refresh_time": 600,
    }
    run = _run(config, _candles(close))
    first = run.records[0]
    assert first["kind"] == 1  # dca_executor
    assert first["close_type"] == CloseType.TAKE_PROFIT
    assert first["fill_row"] == 1
    assert first["close_row"] == 3
    assert first["net_pnl_quote"] == pytest.approx(1000 * (99.6 / 99.0 - 1), rel=1e-9)
    assert first["filled_amount_quote"] == pytest.approx(2 * 1000, rel=1e-9)


class _FixedSignalDCA(_FixedSignal):
    """dman_v3's DCA executors behind a signal given by the test."""

    def dca_levels(self) -> tuple[list[float], list[float]]:
        return [0.0, 0.05], [0.5, 0.5]


def test_dman_v3_executors_live_in_simulated_time() -> None:
    """Upstream defect 4: dman_v3 stamps executors with the wall clock (``time.time()``).

    Upstream's time limit then never fires (the executor's end is today + time_limit) and its
    cooldown check ``now - newest > cooldown`` is always false while an executor is active, so a
    second executor can never open beside the first. Here a long signal on every bar, with
    ``time_limit`` 300 s and ``cooldown_time`` 60 s: executors open at bars 0 and 2 (the
    cooldown is over after 60 s, the side limit is 2) and the first ends by its time limit at
    bar 5, stamped with the simulated time.
    """
    from hbbacktest.controllers.builtin.directional_trading.dman_v3 import DManV3ControllerConfig

    bars = _candles([100.0] * 12)
    config = DManV3ControllerConfig(
        connector_name="binance_perpetual",
        trading_pair="BTC-USDT",
        max_executors_per_side=2,
        cooldown_time=60,
        stop_loss=None,
        trailing_stop=None,
        time_limit=300,
    )
    controller = _FixedSignalDCA(config)  # type: ignore[arg-type]
    controller.signal = np.ones(12)
    market = MarketData(bars=bars, feeds={}, start=int(bars.ts[0]))
    rec = run_controller(controller, market, EngineParams(trade_cost=0.0)).records
    assert list(rec["created_row"][:2]) == [0, 2]
    assert rec["kind"][0] == 1
    assert rec["close_type"][0] == CloseType.TIME_LIMIT
    assert rec["close_row"][0] == 5
    assert bars.ts[rec["created_row"][0]] == bars.ts[0]


def test_spot_rebalance_orders_once_per_shortfall() -> None:
    """Upstream defect 2: rebalance churn on spot connectors.

    Upstream's MARKET rebalance orders reach the position ledger two bars late, so the controller
    orders again in between and overshoots in a buy/buy/–/sell/sell/– cycle (961 orders a day).
    Here, on flat prices, pmm_simple on a spot connector buys the sell levels' inventory once
    (500 quote / 100 = 5 base) and never again; when the price rises 10 % the requirement falls
    to 4.545 base — beyond the 5 % threshold — and one sell order trims it.
    """
    close = [100.0] * 10 + [110.0] * 10
    config = {
        "controller_name": "pmm_simple",
        "connector_name": "binance",
        "trading_pair": "BTC-USDT",
        "total_amount_quote": 1000,
        "buy_spreads": "0.5",
        "sell_spreads": "0.5",
        "skip_rebalance": False,
        "position_rebalance_threshold_pct": 0.05,
    }
    run = _run(config, _candles(close))
    orders = run.records[run.records["kind"] == 3]
    assert list(orders["created_row"]) == [0, 10]
    assert list(orders["side"]) == [TradeType.BUY, TradeType.SELL]
    assert orders["amount_base"][0] == pytest.approx(5.0)
    assert orders["amount_base"][1] == pytest.approx(5.0 - 500 / 110)
    assert set(orders["close_type"]) == {CloseType.POSITION_HOLD}


def test_dca_config_rejects_a_spread_that_prices_a_buy_level_at_zero() -> None:
    """A DCA spread of 1 would put a buy level at price 0; say so at config time."""
    from hbbacktest.core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"dca_spreads.*\[0, 1\)"):
        default_registry().load_config(
            {"controller_name": "dman_maker_v2", "dca_spreads": "0.01,1", "dca_amounts": "1,1"}
        )


def test_dman_maker_v2_with_a_zero_dca_amount_runs() -> None:
    """dca_amounts '0,1' is valid; the zero-size level must not crash the run."""
    config = {
        "controller_name": "dman_maker_v2",
        "connector_name": "binance_perpetual",
        "trading_pair": "BTC-USDT",
        "buy_spreads": "0.005",
        "sell_spreads": "0.005",
        "dca_spreads": "0,0.01",
        "dca_amounts": "0,1",
    }
    run = _run(config, _candles([100.0, 99.0, 98.0, 99.5, 100.5, 101.0, 100.0]))
    assert run.records.shape[0] > 0
