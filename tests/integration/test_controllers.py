"""Every built-in controller on real candles, both fill models: runs, sane, strict JSON, stable."""

from __future__ import annotations

import json

import pytest

from hbbacktest import BacktestRequest, load_controller_config, run_backtest
from hbbacktest.data.store import CandleStore

from .builtin_configs import BUILTIN_CONFIGS

START = 1_722_470_400  # 2024-08-01 00:00 UTC
END = START + 7 * 86_400


def _reject_constant(value: str) -> float:
    raise AssertionError(f"non-strict JSON constant {value}")


@pytest.mark.parametrize("fill_model", ["hummingbot", "touch"])
@pytest.mark.parametrize("name", sorted(BUILTIN_CONFIGS))
def test_builtin_controller_on_real_candles(
    shared_store: CandleStore, name: str, fill_model: str
) -> None:
    config = load_controller_config(BUILTIN_CONFIGS[name])
    result = run_backtest(
        BacktestRequest(config=config, start=START, end=END, fill_model=fill_model),
        store=shared_store,
    )
    results = result.results
    assert results["total_positions"] > 20, "the config should trade on a week of BTC 1m"
    assert results["net_pnl_quote"] == pytest.approx(result.records["net_pnl_quote"].sum())
    assert sum(results["close_types"].values()) == results["total_executors"]
    assert results["total_long"] + results["total_short"] == results["total_positions"]
    assert 0 <= results["accuracy"] <= 1
    assert results["max_drawdown_usd"] <= 0
    document = json.loads(result.to_json(), parse_constant=_reject_constant)
    assert len(document["executors"]) == results["total_executors"]
    features = document["processed_data"]["features"]
    if name == "grid_strike":  # a fixed price range: no features at all
        assert set(features) == {"timestamp"}
    else:
        assert "reference_price" in features or "signal" in features
    assert not [w for w in result.warnings if "warm-up" in w], result.warnings


def test_same_request_gives_byte_identical_json(shared_store: CandleStore) -> None:
    config = load_controller_config(BUILTIN_CONFIGS["pmm_dynamic"])
    request = BacktestRequest(config=config, start=START, end=START + 86_400)
    first = run_backtest(request, store=shared_store).to_json()
    second = run_backtest(request, store=shared_store).to_json()
    assert first == second
