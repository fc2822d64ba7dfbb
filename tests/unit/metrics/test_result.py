"""BacktestResult: Hummingbot's result shape, always strict JSON."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import numpy as np
import pytest

from hbbacktest.controllers import Level
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.data.candles import Candles
from hbbacktest.engine.backtest import RawRun
from hbbacktest.engine.records import EXECUTOR_DTYPE, KIND_ORDER
from hbbacktest.metrics import BacktestResult, build_result
from hbbacktest.metrics.result import finite_or_none, no_executor_note
from hbbacktest.service import default_request, run_backtest

from .records import record, records

EXECUTOR_KEYS = {
    "id",
    "timestamp",
    "level_id",
    "side",
    "entry_price",
    "amount",
    "close_timestamp",
    "close_type",
    "net_pnl_pct",
    "net_pnl_quote",
    "cum_fees_quote",
    "filled_amount_quote",
    "config",
    "custom_info",
}


def _no_constants(name: str) -> Any:
    raise AssertionError(f"non-strict JSON constant {name}")


def strict_loads(text: str) -> Any:
    return json.loads(text, parse_constant=_no_constants)


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    return run_backtest(default_request())


@pytest.fixture(scope="module")
def document(result: BacktestResult) -> dict[str, Any]:
    return strict_loads(result.to_json())


def test_to_json_is_strict(result: BacktestResult, document: dict[str, Any]) -> None:
    assert set(document) == {
        "run_id",
        "request",
        "data_source",
        "position_holds",
        "results",
        "executors",
        "processed_data",
        "pnl_timeseries",
        "warnings",
    }
    assert strict_loads(result.to_json(indent=2)) == document


def test_run_metadata(result: BacktestResult, document: dict[str, Any]) -> None:
    assert document["run_id"] == result.request.config_id == result.run_id
    assert document["request"]["config"]["controller_name"] == "pmm_simple"
    assert "synthetic" in document["data_source"]
    assert document["warnings"] == result.warnings


def test_net_pnl_is_the_sum_of_executors(result: BacktestResult, document: dict[str, Any]) -> None:
    executors = document["executors"]
    assert len(executors) == document["results"]["total_executors"] > 0
    total = sum(e["net_pnl_quote"] for e in executors)
    assert document["results"]["net_pnl_quote"] == pytest.approx(total, abs=1e-9)
    assert document["results"]["net_pnl"] == pytest.approx(total / 1000)
    fees = sum(e["cum_fees_quote"] for e in executors)
    assert document["results"]["total_fees_quote"] == pytest.approx(fees, abs=1e-9)


def test_close_types_match_executors(document: dict[str, Any]) -> None:
    counted = Counter(e["close_type"] for e in document["executors"])
    assert document["results"]["close_types"] == dict(counted)


def test_every_executor_has_the_hummingbot_keys(
    result: BacktestResult, document: dict[str, Any]
) -> None:
    prefix = result.run_id[:12]
    for i, executor in enumerate(document["executors"]):
        assert EXECUTOR_KEYS <= set(executor), i
        assert executor["id"] == f"{prefix}-{i}"
        assert executor["side"] in ("BUY", "SELL")
        assert executor["level_id"].startswith(executor["side"].lower() + "_")
        assert executor["close_type"] in CloseType.__members__
        assert executor["close_timestamp"] >= executor["timestamp"]
        assert executor["config"]["triple_barrier_config"]["take_profit_order_type"] == "LIMIT"
        assert executor["config"]["trading_pair"] == "BTC-USDT"
        assert executor["custom_info"]["level_id"] == executor["level_id"]


def test_final_pnl_curve_matches_booked_executors(document: dict[str, Any]) -> None:
    series = document["pnl_timeseries"]
    n = len(series["timestamp"])
    assert n > 0
    assert all(len(values) == n for values in series.values())
    assert series["timestamp"] == sorted(series["timestamp"])
    assert series["timestamp"][0] >= document["request"]["start"]
    last = series["timestamp"][-1]
    # an early stop is booked one bar after its close bar, so one on the last bar is not in it
    booked = sum(
        e["net_pnl_quote"]
        for e in document["executors"]
        if e["close_timestamp"] < last
        or (e["close_timestamp"] == last and e["close_type"] != "EARLY_STOP")
    )
    assert series["total_pnl"][-1] == pytest.approx(booked, abs=1e-9)
    assert series["cumulative_volume"] == sorted(series["cumulative_volume"])


def test_active_executors_never_negative(document: dict[str, Any]) -> None:
    assert min(document["pnl_timeseries"]["active_executors"]) >= 0


def test_processed_data_has_features(document: dict[str, Any]) -> None:
    features = document["processed_data"]["features"]
    assert {"timestamp", "reference_price", "spread_multiplier"} <= set(features)
    assert len(features["timestamp"]) == len(features["reference_price"])


# --- a hand-built result: NaN and infinity never reach the JSON --------------------------------


def hand_result(recs: np.ndarray) -> BacktestResult:
    req = default_request()
    n = 4
    bar_ts = 1_704_700_800 + 60 * np.arange(n, dtype=np.int64)
    close = np.array([100.0, 101.0, 102.0, 103.0])
    bars = Candles(bar_ts, close, close + 1, close - 1, close, np.ones(n), 60)
    levels = [
        Level("buy_0", TradeType.BUY, 0.01, 10.0),
        Level("sell_0", TradeType.SELL, 0.01, 10.0),
    ]
    features = {
        "reference_price": np.array([np.nan, 101.0, 102.0, np.inf]),
        "spread_multiplier": np.ones(n),
    }
    raw = RawRun(bars=bars, start_row=1, records=recs, levels=levels, features=features)
    return build_result(req, raw, warnings=["given"], data_source="test")


def test_nan_and_infinity_become_null() -> None:
    recs = records(
        record(TradeType.BUY, created_row=0, close_row=2, level=0),
        record(
            TradeType.SELL,
            pnl=1.0,
            filled=10.0,
            close_type=CloseType.TAKE_PROFIT,
            created_row=1,
            fill_row=2,
            close_row=3,
            level=1,
        ),
    )
    plain = hand_result(recs)
    result = dataclasses.replace(plain, results={**plain.results, "sharpe_ratio": float("inf")})
    document = strict_loads(result.to_json())
    unfilled, filled = document["executors"]
    assert unfilled["fill_price"] is None
    assert unfilled["exit_price"] is None
    assert unfilled["fill_timestamp"] is None
    assert unfilled["custom_info"]["close_price"] == 100.0
    assert filled["fill_timestamp"] == 1_704_700_800 + 120
    assert filled["fill_price"] == 100.0
    assert filled["level_id"] == "sell_0"
    assert document["results"]["sharpe_ratio"] is None
    assert document["processed_data"]["features"]["reference_price"] == [101.0, 102.0, None]
    assert document["processed_data"]["features"]["timestamp"] == [
        1_704_700_860,
        1_704_700_920,
        1_704_700_980,
    ]
    assert document["processed_data"]["reference_price"] is None
    assert document["processed_data"]["spread_multiplier"] == 1.0


def test_no_executors_is_explained() -> None:
    result = hand_result(np.zeros(0, dtype=EXECUTOR_DTYPE))
    assert result.warnings[0] == "given"
    assert "no executors were created" in result.warnings[1]
    document = strict_loads(result.to_json())
    assert document["executors"] == []
    assert document["results"]["close_types"] == {}


def test_no_fill_is_explained() -> None:
    result = hand_result(records(record(created_row=0, close_row=2)))
    assert "no order was filled" in result.warnings[-1]


def test_level_ids_follow_records() -> None:
    recs = records(record(level=1), record(level=0), record(level=1))
    assert hand_result(recs).level_ids == ["sell_0", "buy_0", "sell_0"]


@pytest.mark.parametrize(
    "value, expected",
    [
        (np.float64(1.5), 1.5),
        (float("nan"), None),
        (np.float32("inf"), None),
        (-float("inf"), None),
        (np.int64(3), 3),
        (np.bool_(True), True),
        ("x", "x"),
        (None, None),
    ],
)
def test_finite_or_none(value: Any, expected: Any) -> None:
    out = finite_or_none(value)
    assert out == expected
    assert type(out) is type(expected)


# --- what the warnings say --------------------------------------------------------------------


def test_rebalance_fills_are_fills() -> None:
    """Only a rebalance order filled: no position counted (as upstream), but no 'no fill' note."""
    recs = records(
        record(created_row=0, close_row=2),
        record(filled=50.0, fees=0.03, close_type=CloseType.POSITION_HOLD, created_row=1,
               fill_row=1, close_row=1, level=1),
    )  # fmt: skip
    recs["kind"][1] = KIND_ORDER
    recs["hold_base"][1] = 0.5
    recs["hold_price"][1] = 100.0
    recs["exit_price"][1] = 100.0
    result = hand_result(recs)
    assert result.results["total_positions"] == 0
    assert not any("no order was filled" in w for w in result.warnings)


def test_a_fill_without_pnl_is_a_fill() -> None:
    result = hand_result(records(record(filled=10.0, fill_row=1, close_row=2)))
    assert result.results["total_positions"] == 0
    assert not any("no order was filled" in w for w in result.warnings)


def _raw_without_executors(features: dict[str, np.ndarray], start_row: int) -> RawRun:
    n = 4
    bar_ts = 1_704_700_800 + 60 * np.arange(n, dtype=np.int64)
    close = np.array([100.0, 101.0, 102.0, 103.0])
    bars = Candles(bar_ts, close, close + 1, close - 1, close, np.ones(n), 60)
    return RawRun(
        bars=bars,
        start_row=start_row,
        records=np.zeros(0, dtype=EXECUTOR_DTYPE),
        levels=[Level("long", TradeType.BUY, 0.0)],
        features=features,
    )


NAN4 = np.full(4, np.nan)


@pytest.mark.parametrize(
    "features, start_row, expected",
    [
        ({"reference_price": np.ones(4)}, 3, "the window has 1 bar(s)"),
        ({"reference_price": np.ones(4)}, 4, "the window has 0 bar(s)"),
        ({"signal": NAN4, "bb": np.ones(4)}, 0, "'signal' feature is NaN on all 4 bars"),
        ({"signal": np.array([np.nan, 0.0, 0.0, 0.0])}, 0, "valid on 3 of 4 bars, but the signal"),
        (
            {"reference_price": np.array([1.0, 1.0, np.nan, np.nan]), "spread_multiplier": NAN4},
            2,
            "('reference_price', 'spread_multiplier') were never all valid",
        ),
        ({"natr": NAN4, "signal_like": NAN4}, 1, "('natr', 'signal_like') were never all valid"),
        ({"reference_price": np.ones(4), "spread_multiplier": np.ones(4)}, 0, "never asked"),
        ({}, 0, "never asked for an executor (for grid_strike"),
        ({"signal": np.array([np.nan, 1.0, 0.0, 0.0]), "other": NAN4}, 0, "never asked"),
    ],
)
def test_no_executor_note_says_why(
    features: dict[str, np.ndarray], start_row: int, expected: str
) -> None:
    note = no_executor_note(features, start_row, 4)
    assert note.startswith("no executors were created: ")
    assert expected in note
    result = build_result(
        default_request(), _raw_without_executors(features, start_row), warnings=[], data_source=""
    )
    assert result.warnings == [note]


def test_signal_never_one_says_the_thresholds() -> None:
    note = no_executor_note({"signal": np.array([np.nan, 0.0, 0.0])}, 0, 3)
    assert "never ±1" in note
    assert "warm-up" not in note


def test_features_never_valid_says_warm_up() -> None:
    note = no_executor_note({"signal": np.full(3, np.nan)}, 0, 3)
    assert "warm-up" in note
    assert "±1" not in note
