"""upstream_result: hummingbot-api's ``/backtesting/run`` shape and encoding, always strict JSON.

The upstream facts below were read from hummingbot/hummingbot@2bfaccc48d
(``strategy_v2/models/executors_info.py``, ``models/base.py``, ``models/executors.py``,
``core/data_type/common.py``, ``executors/*/data_types.py``,
``backtesting/backtesting_engine_base.py``) and hummingbot/hummingbot-api@ee7ce5c
(``services/backtesting_service.py``); see docs/hummingbot-api-format.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import yaml
from fastapi.encoders import jsonable_encoder
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.controllers import Level
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.data.candles import Candles
from hbbacktest.engine.backtest import RawRun
from hbbacktest.engine.records import EXECUTOR_DTYPE, KIND_DCA, KIND_GRID, KIND_ORDER
from hbbacktest.metrics.result import BacktestResult, build_result
from hbbacktest.metrics.upstream import (
    OHLCV_COLUMNS,
    RESULT_KEYS,
    UPSTREAM_KEYS,
    upstream_result,
    upstream_result_json,
)
from hbbacktest.service import DEFAULT_CONFIG, build_registry, load_controller_config, run_backtest
from hbbacktest.service.backtest import candle_access
from hbbacktest.service.defaults import default_request

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"

# --- upstream's contract --------------------------------------------------------------------

HB_CLOSE_TYPE = {
    "TIME_LIMIT": 1,
    "STOP_LOSS": 2,
    "TAKE_PROFIT": 3,
    "EXPIRED": 4,
    "EARLY_STOP": 5,
    "TRAILING_STOP": 6,
    "INSUFFICIENT_BALANCE": 7,
    "FAILED": 8,
    "COMPLETED": 9,
    "POSITION_HOLD": 10,
}
HB_TRADE_TYPE = {"BUY": 1, "SELL": 2}
HB_ORDER_TYPE = {"MARKET": 1, "LIMIT": 2, "LIMIT_MAKER": 3}
HB_TERMINATED = 4  # RunnableStatus.TERMINATED

EXECUTOR_INFO_KEYS = [  # ExecutorInfo.model_dump() order, then to_dict()'s "side"
    "id",
    "timestamp",
    "type",
    "status",
    "config",
    "net_pnl_pct",
    "net_pnl_quote",
    "cum_fees_quote",
    "filled_amount_quote",
    "is_active",
    "is_trading",
    "custom_info",
    "close_timestamp",
    "close_type",
    "controller_id",
    "side",
]
DECIMAL_FIELDS = ("net_pnl_pct", "net_pnl_quote", "cum_fees_quote", "filled_amount_quote")
CONFIG_HEAD = ["id", "type", "timestamp", "controller_id"]  # ExecutorConfigBase
CONFIG_KEYS = {
    "position_executor": [
        *CONFIG_HEAD,
        "trading_pair",
        "connector_name",
        "side",
        "entry_price",
        "amount",
        "triple_barrier_config",
        "leverage",
        "activation_bounds",
        "level_id",
    ],
    "dca_executor": [
        *CONFIG_HEAD,
        "connector_name",
        "trading_pair",
        "side",
        "leverage",
        "amounts_quote",
        "prices",
        "take_profit",
        "stop_loss",
        "trailing_stop",
        "time_limit",
        "mode",
        "activation_bounds",
        "level_id",
    ],
    "grid_executor": [
        *CONFIG_HEAD,
        "connector_name",
        "trading_pair",
        "start_price",
        "end_price",
        "limit_price",
        "side",
        "total_amount_quote",
        "min_spread_between_orders",
        "min_order_amount_quote",
        "max_open_orders",
        "max_orders_per_batch",
        "order_frequency",
        "activation_bounds",
        "safe_extra_spread",
        "triple_barrier_config",
        "leverage",
        "level_id",
        "deduct_base_fees",
        "keep_position",
        "coerce_tp_to_step",
    ],
    "order_executor": [
        *CONFIG_HEAD,
        "trading_pair",
        "connector_name",
        "side",
        "amount",
        "position_action",
        "price",
        "chaser_config",
        "execution_strategy",
        "leverage",
        "level_id",
    ],
}
BARRIER_KEYS = [
    "stop_loss",
    "take_profit",
    "time_limit",
    "trailing_stop",
    "open_order_type",
    "take_profit_order_type",
    "stop_loss_order_type",
    "time_limit_order_type",
]
CUSTOM_INFO_KEYS = [
    "close_price",
    "level_id",
    "side",
    "current_position_average_price",
    "open_order_last_update",
]
GRID_CUSTOM_INFO_KEYS = [
    *CUSTOM_INFO_KEYS,
    "fill_events",
    "grid_level_prices",
    "grid_tp_prices",
    "grid_side",
    "grid_limit_price",
]
POSITION_HOLD_KEYS = [
    "connector_name",
    "trading_pair",
    "buy_amount_base",
    "buy_amount_quote",
    "sell_amount_base",
    "sell_amount_quote",
    "net_amount_base",
    "cum_fees_quote",
    "volume_traded_quote",
    "is_closed",
    "n_executors",
]
PNL_KEYS = [
    "timestamp",
    "executor_realized_pnl",
    "position_realized_pnl",
    "position_unrealized_pnl",
    "total_pnl",
    "active_executors",
    "cumulative_volume",
]
HELD_KEYS = [
    "timestamp",
    "long_amount",
    "short_amount",
    "net_amount",
    "unrealized_pnl",
    "realized_pnl",
    "n_holds",
]
EXTRA_KEYS = ["warnings", "run_id", "fill_model"]
INT_RESULT_KEYS = {
    "total_executors",
    "total_executors_with_position",
    "total_long",
    "total_short",
    "total_positions",
    "win_signals",
    "loss_signals",
}


def fastapi(value: Any) -> Any:
    """What hummingbot-api's response encoder makes of a value."""
    return jsonable_encoder(value)


def _no_constants(name: str) -> Any:
    raise AssertionError(f"non-strict JSON constant {name}")


def strict_loads(data: bytes) -> Any:
    return json.loads(data, parse_constant=_no_constants)


# --- real runs, two days of the demo connector --------------------------------------------------

GRID = yaml.safe_load((EXAMPLES / "grid_strike.yml").read_text())
CASES: dict[str, Any] = {
    "position": DEFAULT_CONFIG,  # pmm_simple
    "directional": EXAMPLES / "bollinger_v1.yml",
    "dca": EXAMPLES / "dman_v3.yml",
    "grid": EXAMPLES / "grid_strike.yml",
    "hold": {**DEFAULT_CONFIG, "skip_rebalance": False},  # a rebalance order kept as a hold
    "dca_hold": EXAMPLES / "dman_maker_v2.yml",  # DCA + rebalance order + hold
    "empty": {**GRID, "start_price": 1000, "end_price": 2000, "limit_price": 900},
}
Run = tuple[BacktestResult, Candles]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    settings_ = Settings(data_dir=tmp_path_factory.mktemp("data"), offline=True)
    registry = build_registry(settings_)
    access = candle_access(settings_)
    out = {}
    for name, source in CASES.items():
        config = load_controller_config(source, registry=registry)
        request = BacktestRequest(config=config, start="2024-01-08", end="2024-01-10")
        result = run_backtest(request, settings=settings_, registry=registry)
        window = access.candles(
            request.price_connector,
            request.price_pair,
            request.backtesting_resolution,
            request.start,
            request.end,
        )
        out[name] = (result, window.candles)
    return out


@pytest.fixture(scope="module")
def documents(runs: dict[str, Run]) -> dict[str, dict[str, Any]]:
    return {
        name: upstream_result(result, candles=candles) for name, (result, candles) in runs.items()
    }


NAMES = sorted(CASES)


def test_the_cases_cover_every_executor_kind(runs: dict[str, Run]) -> None:
    kinds = {int(k) for result, _ in runs.values() for k in np.unique(result.records["kind"])}
    assert kinds == {0, KIND_DCA, KIND_GRID, KIND_ORDER}
    assert runs["empty"][0].records.shape[0] == 0
    assert runs["hold"][0].holds is not None
    assert "signal" in runs["directional"][0].features


@pytest.mark.parametrize("name", NAMES)
def test_json_is_orjson_of_the_dict_and_strict(runs: dict[str, Run], name: str) -> None:
    result, candles = runs[name]
    for given_candles in (candles, None):
        document = upstream_result(result, candles=given_candles)
        encoded = upstream_result_json(result, candles=given_candles)
        assert encoded == orjson.dumps(document)  # same keys, order, types and numbers
        assert strict_loads(encoded) == document


@pytest.mark.parametrize("name", NAMES)
def test_top_level_keys(documents: dict[str, dict[str, Any]], name: str) -> None:
    document = documents[name]
    assert list(document) == [*UPSTREAM_KEYS, *EXTRA_KEYS]
    assert isinstance(document["executors"], list)
    assert isinstance(document["processed_data"], dict)
    assert isinstance(document["results"], dict)
    for key in ("position_holds", "position_held_timeseries", "pnl_timeseries"):
        assert isinstance(document[key], list)


@pytest.mark.parametrize("name", NAMES)
def test_executors_are_executor_infos(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    result, _ = runs[name]
    executors = documents[name]["executors"]
    assert len(executors) == result.records.shape[0] == len(result.executors())
    for executor in executors:
        assert list(executor) == EXECUTOR_INFO_KEYS
        config = executor["config"]
        assert list(config) == CONFIG_KEYS[executor["type"]]
        assert config["id"] == executor["id"] and config["type"] == executor["type"]
        assert type(executor["timestamp"]) is float and config["timestamp"] == executor["timestamp"]
        assert type(executor["close_timestamp"]) is float
        assert executor["close_timestamp"] >= executor["timestamp"]
        assert executor["status"] == HB_TERMINATED
        assert executor["is_active"] is False and executor["is_trading"] is False
        assert executor["controller_id"] == config["controller_id"] == result.request.config.id
        grid = executor["type"] == "grid_executor"
        info = executor["custom_info"]
        assert list(info) == (GRID_CUSTOM_INFO_KEYS if grid else CUSTOM_INFO_KEYS)
        for key in ("close_price", "current_position_average_price", "open_order_last_update"):
            assert type(info[key]) is float
        assert config["level_id"] == info["level_id"]
        if "triple_barrier_config" in config:
            assert list(config["triple_barrier_config"]) == BARRIER_KEYS


@pytest.mark.parametrize("name", NAMES)
def test_enums_are_hummingbot_codes(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    native = runs[name][0].executors()
    for mine, theirs in zip(native, documents[name]["executors"], strict=True):
        assert theirs["close_type"] == HB_CLOSE_TYPE[mine["close_type"]]
        side = HB_TRADE_TYPE[mine["side"]]
        assert theirs["side"] == theirs["config"]["side"] == theirs["custom_info"]["side"] == side
        barrier = mine["config"].get("triple_barrier_config")
        if barrier is not None:
            ours = theirs["config"]["triple_barrier_config"]
            for key in BARRIER_KEYS[4:]:
                names = {**HB_ORDER_TYPE, **{str(v): v for v in HB_ORDER_TYPE.values()}}
                assert ours[key] == names[str(barrier[key])]
        if theirs["type"] == "grid_executor":
            assert theirs["custom_info"]["grid_side"] == mine["side"]


@pytest.mark.parametrize("name", NAMES)
def test_decimal_fields_encode_as_fastapi_does(runs: dict[str, Run], name: str) -> None:
    result, candles = runs[name]
    rec = result.records
    executors = upstream_result(result, candles=candles)["executors"]
    for field in DECIMAL_FIELDS:
        column = rec[field].tolist()
        for value, executor in zip(column, executors, strict=True):
            expected = fastapi(Decimal(value))
            assert executor[field] == expected and type(executor[field]) is type(expected)
    for i, executor in enumerate(executors):
        config = executor["config"]
        if executor["type"] == "position_executor":
            expected = fastapi(Decimal(float(rec["amount_base"][i])))
            assert config["amount"] == expected and type(config["amount"]) is type(expected)


@pytest.mark.parametrize("name", NAMES)
def test_processed_data_is_columnar_by_epoch_key(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    result, candles = runs[name]
    processed = documents[name]["processed_data"]
    window = result.bar_ts[result.start_row :]
    assert list(processed)[: len(OHLCV_COLUMNS)] == list(OHLCV_COLUMNS)
    assert set(result.features) <= set(processed)
    keys = [repr(float(ts)) for ts in window.tolist()]  # pandas' float64 index, str()-ed
    assert keys[0].endswith(".0")
    rows = np.searchsorted(candles.ts, window)
    for column, values in processed.items():
        assert list(values) == keys, column
    assert list(processed["timestamp"].values()) == [float(ts) for ts in window.tolist()]
    assert list(processed["close"].values()) == candles.close[rows].tolist()
    assert list(processed["volume"].values()) == candles.volume[rows].tolist()
    for feature, values in result.features.items():
        expected = np.nan_to_num(values[result.start_row :], nan=0.0, posinf=0.0, neginf=0.0)
        assert list(processed[feature].values()) == expected.tolist()


def test_processed_data_without_candles_says_so(runs: dict[str, Run]) -> None:
    result, _ = runs["position"]
    assert result.bars is not None  # a result carries its bars: OHLCV by default
    assert list(upstream_result(result)["processed_data"])[:6] == list(OHLCV_COLUMNS)
    bare = dataclasses.replace(result, bars=None)
    document = upstream_result(bare)
    assert list(document["processed_data"]) == ["timestamp", *result.features]
    assert any("open/high/low/close/volume" in note for note in document["warnings"])
    assert not any(
        "open/high" in note
        for note in upstream_result(bare, candles=runs["position"][1])["warnings"]
    )


@pytest.mark.parametrize("name", NAMES)
def test_pnl_timeseries_rows(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    result, _ = runs[name]
    rows = documents[name]["pnl_timeseries"]
    series = result.timeseries
    assert len(rows) == series["timestamp"].shape[0] == len(result.bar_ts) - result.start_row
    assert all(list(row) == PNL_KEYS for row in rows)
    assert rows[-1]["total_pnl"] == series["total_pnl"][-1]
    assert rows[-1]["cumulative_volume"] == series["cumulative_volume"][-1]
    assert [row["timestamp"] for row in rows] == series["timestamp"].astype(float).tolist()
    assert all(type(row["timestamp"]) is float for row in rows)
    assert all(type(row["active_executors"]) is int for row in rows)
    if result.holds is None:  # upstream sums no open hold to the integer 0
        assert {
            (row["position_realized_pnl"], type(row["position_realized_pnl"])) for row in rows
        } == {(0, int)}


@pytest.mark.parametrize("name", sorted(set(NAMES) - {"empty"}))
def test_results_have_upstream_keys_and_types(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    result, _ = runs[name]
    results = documents[name]["results"]
    assert list(results)[: len(RESULT_KEYS)] == list(RESULT_KEYS)
    for key in RESULT_KEYS:
        value = results[key]
        if key == "close_types":
            assert value == dict(sorted(result.results["close_types"].items()))
            assert sum(value.values()) == results["total_executors"]
        elif key in INT_RESULT_KEYS:
            assert type(value) is int and value == result.results[key]
        else:
            assert type(value) is float and value == result.results[key]


def test_a_run_without_executors_gets_upstream_literal(
    documents: dict[str, dict[str, Any]],
) -> None:
    document = documents["empty"]
    assert document["executors"] == []
    assert document["results"] == dict.fromkeys(RESULT_KEYS, 0)
    assert all(type(v) is int for v in document["results"].values())  # close_types too
    assert document["position_holds"] == document["position_held_timeseries"] == []
    assert document["pnl_timeseries"][-1]["total_pnl"] == 0.0
    assert any(note.startswith("no executors were created") for note in document["warnings"])


@pytest.mark.parametrize("name", ["hold", "dca_hold"])
def test_position_holds(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    result, _ = runs[name]
    assert result.holds is not None
    book = result.holds.hold
    (hold,) = documents[name]["position_holds"]
    assert list(hold) == POSITION_HOLD_KEYS
    assert hold["net_amount_base"] == book.net_base
    assert hold["buy_amount_base"] - hold["sell_amount_base"] == pytest.approx(book.net_base)
    assert hold["buy_amount_quote"] + hold["sell_amount_quote"] == pytest.approx(
        book.volume_traded_quote
    )
    assert hold["is_closed"] is (book.net_base == 0)
    assert (
        hold["n_executors"]
        == result.holds.n_executors
        == result.results["close_types"]["POSITION_HOLD"]
    )


@pytest.mark.parametrize("name", ["hold", "dca_hold"])
def test_position_held_timeseries(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]], name: str
) -> None:
    result, candles = runs[name]
    assert result.holds is not None
    start = result.start_row
    net = result.holds.net_base[start:]
    rows = documents[name]["position_held_timeseries"]
    open_bars = np.flatnonzero(net != 0)
    assert len(rows) == open_bars.shape[0] > 0
    closes = candles.close[np.searchsorted(candles.ts, result.bar_ts[start:])]
    for row, bar in zip(rows, open_bars.tolist(), strict=True):
        assert list(row) == HELD_KEYS
        assert row["timestamp"] == float(result.bar_ts[start + bar])
        notional = abs(net[bar]) * closes[bar]
        if net[bar] > 0:
            assert row["long_amount"] == notional and (
                row["short_amount"],
                type(row["short_amount"]),
            ) == (0, int)
        else:
            assert row["short_amount"] == notional and (
                row["long_amount"],
                type(row["long_amount"]),
            ) == (0, int)
        assert row["net_amount"] == row["long_amount"] - row["short_amount"]
        assert row["unrealized_pnl"] == result.holds.unrealized[start + bar]
        assert row["n_holds"] == 1
    # without candles the notional comes from the curves; the same numbers within rounding
    derived = upstream_result(result)["position_held_timeseries"]
    assert len(derived) == len(rows)
    for mine, theirs in zip(derived, rows, strict=True):
        assert mine["net_amount"] == pytest.approx(theirs["net_amount"], rel=1e-9)


def test_grid_custom_info(documents: dict[str, dict[str, Any]]) -> None:
    for executor in documents["grid"]["executors"]:
        info = executor["custom_info"]
        assert info["grid_side"] == "BUY" and info["grid_limit_price"] == float(GRID["limit_price"])
        assert info["fill_events"] == info["grid_level_prices"] == info["grid_tp_prices"] == []


def test_unfilled_close_price_is_the_bar_close(
    runs: dict[str, Run], documents: dict[str, dict[str, Any]]
) -> None:
    result, candles = runs["position"]
    rec = result.records
    unfilled = np.flatnonzero(~np.isfinite(rec["exit_price"]))
    assert unfilled.shape[0] > 0
    executors = documents["position"]["executors"]
    for i in unfilled[:50].tolist():
        bar = int(np.searchsorted(candles.ts, result.bar_ts[rec["close_row"][i]]))
        assert executors[i]["custom_info"]["close_price"] == candles.close[bar]
        assert (
            executors[i]["custom_info"]["current_position_average_price"] == rec["entry_price"][i]
        )


# --- extras and arguments -----------------------------------------------------------------------


def test_extras(runs: dict[str, Run]) -> None:
    result, candles = runs["position"]
    document = upstream_result(result, candles=candles, extras={"task_id": "t1", "run_id": "x"})
    assert list(document) == [*UPSTREAM_KEYS, *EXTRA_KEYS, "task_id"]
    assert document["run_id"] == "x" and document["task_id"] == "t1"
    assert upstream_result(result)["run_id"] == result.run_id
    assert upstream_result(result)["fill_model"] == "hummingbot"
    encoded = upstream_result_json(result, candles=candles, extras={"task_id": "t1"})
    assert strict_loads(encoded)["task_id"] == "t1"
    with pytest.raises(ValueError, match="'executors'"):
        upstream_result_json(result, extras={"executors": []})


def test_candles_must_hold_every_bar(runs: dict[str, Run]) -> None:
    result, candles = runs["position"]
    c = candles
    short = Candles(c.ts[5:], c.open[5:], c.high[5:], c.low[5:], c.close[5:], c.volume[5:], 60)
    with pytest.raises(ValueError, match="candles must hold every bar"):
        upstream_result(result, candles=short)


# --- hand-built results: NaN and infinity never leave ---------------------------------------------


def hand_result(
    recs: np.ndarray, features: dict[str, np.ndarray]
) -> tuple[BacktestResult, Candles]:
    n = 4
    bar_ts = 1_704_700_800 + 60 * np.arange(n, dtype=np.int64)
    close = np.array([100.0, 101.0, 102.0, 103.0])
    bars = Candles(bar_ts, close, close + 1, close - 1, close, np.ones(n), 60)
    levels = [
        Level("buy_0", TradeType.BUY, 0.01, 10.0),
        Level("sell_0", TradeType.SELL, 0.01, 10.0),
    ]
    raw = RawRun(bars=bars, start_row=1, records=recs, levels=levels, features=features)
    return build_result(default_request(), raw, warnings=[], data_source="test"), bars


def test_non_finite_features_become_zero_and_json_stays_strict() -> None:
    recs = np.zeros(2, dtype=EXECUTOR_DTYPE)
    recs["side"] = [1, 2]
    recs["close_type"] = [int(CloseType.EARLY_STOP), int(CloseType.TAKE_PROFIT)]
    recs["close_row"] = [1, 3]
    recs["fill_row"] = [-1, 2]
    recs["level"] = [0, 1]
    recs["entry_price"] = [100.0, np.inf]
    recs["fill_price"] = [np.nan, 101.0]
    recs["exit_price"] = [np.nan, np.nan]
    recs["net_pnl_quote"] = [0.0, np.nan]
    recs["amount_base"] = [1.0, 2.5]
    features = {
        "reference_price": np.array([np.nan, 101.0, np.inf, -np.inf]),
        "spread_multiplier": np.ones(4),
        "flag": np.array([True, False, True, True]),
    }
    result, bars = hand_result(recs, features)
    document = upstream_result(result, candles=bars)
    encoded = upstream_result_json(result, candles=bars)
    assert encoded == orjson.dumps(document)
    assert strict_loads(encoded) == document
    processed = document["processed_data"]
    assert list(processed["reference_price"].values()) == [101.0, 0.0, 0.0]
    assert list(processed["flag"].values()) == [False, True, True]
    assert list(processed["timestamp"]) == ["1704700860.0", "1704700920.0", "1704700980.0"]
    first, second = document["executors"]
    assert first["net_pnl_quote"] == 0 and second["net_pnl_quote"] is None
    assert second["config"]["entry_price"] is None
    assert second["custom_info"]["close_price"] == 103.0  # the bar close at its close


LEVEL_NAMES = ["buy_0", 'se"ll,1', "ünï\\cödé", "", "a,b],[c"]
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1.0, 25.0, 1e16, 1e-7, 5e-324, 2.0**63, -(2.0**63), 1.7976931348623157e308]
)


@st.composite
def random_result(draw: st.DrawFn) -> BacktestResult:
    base, _ = hand_result(np.zeros(0, dtype=EXECUTOR_DTYPE), {"x": np.zeros(4)})
    n = draw(st.integers(0, 10))
    recs = np.zeros(n, dtype=EXECUTOR_DTYPE)
    for i in range(n):
        recs["kind"][i] = draw(st.sampled_from([0, KIND_DCA, KIND_GRID, KIND_ORDER]))
        recs["side"][i] = draw(st.sampled_from([1, 2]))
        recs["close_type"][i] = draw(st.sampled_from([int(c) for c in CloseType]))
        recs["created_row"][i] = draw(st.integers(0, 3))
        recs["close_row"][i] = draw(st.integers(0, 3))
        recs["fill_row"][i] = draw(st.integers(-1, 3))
        for field in ("entry_price", "amount_base", "fill_price", "exit_price", "net_pnl_pct",
                      "net_pnl_quote", "cum_fees_quote", "filled_amount_quote"):  # fmt: skip
            recs[field][i] = draw(FLOATS)
    levels = [draw(st.sampled_from(LEVEL_NAMES)) for _ in range(n)]
    width = draw(st.integers(0, 3))
    dca = None
    if draw(st.booleans()):
        dca = np.array([[draw(FLOATS) for _ in range(width)] for _ in range(n)]).reshape(n, width)
    features = {"x": np.array([draw(FLOATS) for _ in range(4)])}
    return dataclasses.replace(
        base,
        records=recs,
        level_ids=levels,
        features=features,
        dca_prices=dca,
        dca_amounts_quote=dca,
    )


@settings(max_examples=150, deadline=None)
@given(result=random_result(), with_candles=st.booleans())
def test_any_records_give_strict_json_equal_to_the_dict(
    result: BacktestResult, with_candles: bool
) -> None:
    close = np.array([100.0, 101.0, 102.0, 103.0])
    bars = Candles(result.bar_ts, close, close, close, close, np.ones(4), 60)
    candles = bars if with_candles else None
    document = upstream_result(result, candles=candles)
    encoded = upstream_result_json(result, candles=candles)
    assert encoded == orjson.dumps(document)
    assert strict_loads(encoded) == document
    assert len(document["executors"]) == result.records.shape[0]
    for executor, value in zip(
        document["executors"], result.records["net_pnl_quote"].tolist(), strict=True
    ):
        if math.isfinite(value) and abs(value) < 2.0**63:
            expected = fastapi(Decimal(value))
            assert executor["net_pnl_quote"] == expected
            assert type(executor["net_pnl_quote"]) is type(expected)
        elif not math.isfinite(value):
            assert executor["net_pnl_quote"] is None
    for values in document["processed_data"].values():
        assert all(v is not None and math.isfinite(v) for v in values.values())
