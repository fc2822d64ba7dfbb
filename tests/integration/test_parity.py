"""Parity with Hummingbot's own engine on the case measured in ../shared/UPSTREAM_NOTES.md.

pmm_simple, binance BTC-USDT, 30 days of 1m, skip_rebalance: true, trade cost 0.0006. Upstream
(source release 20260922) gave 18,465 executors (EARLY_STOP 17,283, STOP_LOSS 16, TAKE_PROFIT
41, TIME_LIMIT 1,125), 1,174 with a position, net_pnl_quote -333.67, fees 352.18.
"""

from __future__ import annotations

import pytest

from hbbacktest import BacktestRequest, load_controller_config, run_backtest
from hbbacktest.data.store import CandleStore

PARITY_CONFIG = {
    "controller_name": "pmm_simple",
    "connector_name": "binance",
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
UPSTREAM = {
    "total_executors": 18465,
    "close_types": {"EARLY_STOP": 17283, "STOP_LOSS": 16, "TAKE_PROFIT": 41, "TIME_LIMIT": 1125},
    "total_positions": 1174,
    "net_pnl_quote": -333.67,
    "total_fees_quote": 352.18,
}


def _within(ours: float, theirs: float, rel: float = 0.01) -> bool:
    return abs(ours - theirs) <= rel * abs(theirs)


def test_pmm_simple_parity_with_upstream(shared_store: CandleStore) -> None:
    config = load_controller_config(PARITY_CONFIG)
    request = BacktestRequest(
        config=config, start=1722003300, end=1724595780, trade_cost=0.0006, fill_model="hummingbot"
    )
    results = run_backtest(request, store=shared_store).results
    assert _within(results["total_executors"], UPSTREAM["total_executors"])
    for close_type, count in UPSTREAM["close_types"].items():
        assert _within(results["close_types"][close_type], count), close_type
    assert set(results["close_types"]) == set(UPSTREAM["close_types"])
    assert _within(results["total_positions"], UPSTREAM["total_positions"])
    assert _within(results["net_pnl_quote"], UPSTREAM["net_pnl_quote"])
    assert _within(results["total_fees_quote"], UPSTREAM["total_fees_quote"])


@pytest.mark.parametrize("fill_model", ["hummingbot", "touch"])
def test_parity_case_accounting_identities(shared_store: CandleStore, fill_model: str) -> None:
    config = load_controller_config(PARITY_CONFIG)
    request = BacktestRequest(
        config=config, start=1722003300, end=1722003300 + 7 * 86400, fill_model=fill_model
    )
    result = run_backtest(request, store=shared_store)
    rec = result.records
    assert result.results["net_pnl_quote"] == pytest.approx(rec["net_pnl_quote"].sum())
    assert result.results["total_fees_quote"] == pytest.approx(rec["cum_fees_quote"].sum())
    filled = rec["fill_row"] >= 0
    if fill_model == "hummingbot":
        # fees are 2 · trade_cost · filled notional; filled_amount_quote counts entry + exit
        notional = rec["amount_base"] * rec["fill_price"]
        assert rec["cum_fees_quote"][filled] == pytest.approx(2 * 0.0006 * notional[filled])
        assert rec["filled_amount_quote"][filled] == pytest.approx(2 * notional[filled])
    else:
        volume = rec["amount_base"] * (rec["fill_price"] + rec["exit_price"])
        assert rec["cum_fees_quote"][filled] == pytest.approx(0.0006 * volume[filled])
    assert (rec["cum_fees_quote"][~filled] == 0).all()
    assert result.timeseries["total_pnl"][-1] == pytest.approx(result.results["net_pnl_quote"])
