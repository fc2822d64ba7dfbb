"""The fast JSON encoder writes exactly ``orjson.dumps(result.to_dict())``, for every executor kind."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.records import EXECUTOR_DTYPE, KIND_DCA, KIND_GRID, KIND_ORDER
from hbbacktest.metrics.encode import (
    executor_columns,
    executors_json,
    json_chunks,
    json_column,
    summary_dict,
)
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.service import DEFAULT_CONFIG, build_registry, load_controller_config, run_backtest

from .records import record, records
from .test_result import _no_constants, hand_result

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"
HB_DIR = ROOT / "tests" / "fixtures" / "hummingbot_controllers"

# One run per executor kind (and the step loop), two days of the demo connector.
CASES: dict[str, Any] = {
    "position": DEFAULT_CONFIG,
    "dca_market_making": EXAMPLES / "dman_maker_v2.yml",  # DCA executors + rebalance orders
    "dca_directional": EXAMPLES / "dman_v3.yml",
    "grid": EXAMPLES / "grid_strike.yml",
    "order": {**DEFAULT_CONFIG, "skip_rebalance": False},  # spot: position + order executors
    "step": {**DEFAULT_CONFIG, "id": "hb_twin", "controller_name": "pmm_simple_hb"},
}
KINDS = {
    "position": {0},
    "dca_market_making": {KIND_DCA, KIND_ORDER},
    "dca_directional": {KIND_DCA},
    "grid": {KIND_GRID},
    "order": {0, KIND_ORDER},
    "step": {0},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, BacktestResult]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"), controllers_dirs=(HB_DIR,))
    registry = build_registry(settings)
    out = {}
    for name, source in CASES.items():
        config = load_controller_config(source, registry=registry)
        request = BacktestRequest(config=config, start="2024-01-08", end="2024-01-10")
        out[name] = run_backtest(request, settings=settings, registry=registry)
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_bytes_equal_orjson_of_to_dict(runs: dict[str, BacktestResult], name: str) -> None:
    result = runs[name]
    assert set(result.records["kind"].tolist()) == KINDS[name]
    expected = orjson.dumps(result.to_dict())
    assert b"".join(json_chunks(result)) == expected
    assert result.to_json().encode() == expected


@pytest.mark.parametrize("name", sorted(CASES))
def test_small_blocks_give_the_same_bytes(runs: dict[str, BacktestResult], name: str) -> None:
    result = runs[name]
    chunks = list(json_chunks(result, block_rows=7, column_block=5))
    assert all(chunks)
    assert b"".join(chunks) == orjson.dumps(result.to_dict())


def test_summary_only(runs: dict[str, BacktestResult]) -> None:
    result = runs["order"]
    text = b"".join(json_chunks(result, summary_only=True))
    assert text == orjson.dumps(summary_dict(result))
    document = orjson.loads(text)
    assert list(document) == [
        "run_id",
        "request",
        "data_source",
        "results",
        "position_holds",
        "warnings",
    ]
    full = result.to_dict()
    assert {k: full[k] for k in document} == document


def test_indent_keeps_the_dict_path(runs: dict[str, BacktestResult]) -> None:
    result = runs["grid"]
    assert json.loads(result.to_json(indent=2)) == json.loads(result.to_json())
    assert "\n  " in result.to_json(indent=2)


def test_nan_and_infinity_in_every_column_are_null() -> None:
    recs = records(
        record(TradeType.BUY, created_row=0, close_row=2, level=0),
        record(TradeType.SELL, pnl=1.0, filled=10.0, close_type=CloseType.TAKE_PROFIT,
               created_row=1, fill_row=2, close_row=3, level=1),
    )  # fmt: skip
    recs["entry_price"][0] = np.inf
    recs["net_pnl_pct"][1] = -np.inf
    recs["hold_base"][1] = np.nan
    result = hand_result(recs)
    result = dataclasses.replace(
        result,
        results={**result.results, "sharpe_ratio": float("nan")},
        timeseries={**result.timeseries, "flag": np.array([True, False, True])},
    )
    expected = orjson.dumps(result.to_dict())
    assert b"".join(json_chunks(result, block_rows=1, column_block=1)) == expected
    document = json.loads(expected)
    first, second = document["executors"]
    assert first["entry_price"] is None
    assert first["custom_info"]["close_price"] is None  # unfilled: the entry price, infinite
    assert second["net_pnl_pct"] is None
    assert second["held_amount"] is None
    assert document["pnl_timeseries"]["flag"] == [True, False, True]


def test_no_executors() -> None:
    result = hand_result(np.zeros(0, dtype=EXECUTOR_DTYPE))
    text = b"".join(json_chunks(result))
    assert text == orjson.dumps(result.to_dict())
    assert orjson.loads(text)["executors"] == []


def test_empty_window_columns() -> None:
    result = hand_result(np.zeros(0, dtype=EXECUTOR_DTYPE))
    result = dataclasses.replace(
        result, start_row=4, timeseries={k: v[:0] for k, v in result.timeseries.items()}
    )
    text = b"".join(json_chunks(result))
    assert text == orjson.dumps(result.to_dict())
    assert orjson.loads(text)["processed_data"]["features"]["timestamp"] == []


@pytest.mark.parametrize(
    "values",
    [
        np.array([1, 2, 3], dtype=np.int32),
        np.array([True, False]),
        np.array([0.1, np.nan, -np.inf, 1e16, 5e-324], dtype=np.float64),
        np.array([0.5, np.nan], dtype=np.float32),
    ],
)
def test_column_chunks_match_json_column(values: np.ndarray) -> None:
    result = hand_result(np.zeros(0, dtype=EXECUTOR_DTYPE))
    result = dataclasses.replace(result, timeseries={"x": values})
    text = b"".join(json_chunks(result, column_block=2))
    assert orjson.loads(text)["pnl_timeseries"]["x"] == json_column(values)
    assert text == orjson.dumps(result.to_dict())


@pytest.mark.parametrize("name", ["dca_market_making", "grid", "order"])
def test_executor_columns_match_the_json(runs: dict[str, BacktestResult], name: str) -> None:
    result = runs[name]
    executors = result.to_dict()["executors"]
    n = len(executors)
    middle = n // 2
    parts = [executor_columns(result, 0, middle), executor_columns(result, middle, n)]
    for key in ("id", "timestamp", "type", "level_id", "side", "close_type", "close_timestamp"):
        got = [v for part in parts for v in list(part[key])]
        assert got == [e[key] for e in executors], key
    for key in ("entry_price", "amount", "fill_price", "exit_price", "net_pnl_quote"):
        got = np.concatenate([part[key] for part in parts])
        want = np.array([np.nan if e[key] is None else e[key] for e in executors])
        np.testing.assert_array_equal(got, want, err_msg=key)
    held = np.concatenate([part["held_amount"] for part in parts])
    np.testing.assert_array_equal(held, [e["held_amount"] for e in executors])
    close = np.concatenate([part["close_price"] for part in parts])
    np.testing.assert_array_equal(close, [e["custom_info"]["close_price"] for e in executors])
    fill_ts = np.ma.concatenate([part["fill_timestamp"] for part in parts])
    mask = np.ma.getmaskarray(fill_ts)
    assert [None if m else int(v) for v, m in zip(fill_ts.data, mask, strict=True)] == [
        e["fill_timestamp"] for e in executors
    ]
    if name == "dca_market_making":
        prices = np.concatenate([part["dca_prices"] for part in parts])
        dca = [i for i, e in enumerate(executors) if e["type"] == "dca_executor"]
        assert dca
        for i in dca:
            assert prices[i].tolist() == executors[i]["config"]["prices"]
    else:
        assert "dca_prices" not in parts[0]


@pytest.mark.parametrize(("start", "stop"), [(0, None), (3, 10), (5, 5), (-4, None), (10, 3)])
def test_executors_json_is_a_slice(runs: dict[str, BacktestResult], start: int, stop: Any) -> None:
    result = runs["dca_market_making"]
    assert executors_json(result, start, stop) == orjson.dumps(result.executors()[start:stop])


# --- any records, any numbers: still orjson's bytes, still strict JSON --------------------------

LEVEL_NAMES = ["buy_0", 'se"ll,1', "ünï\\cödé", "", "a,b],[c"]
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308, 123456789.0]
)


@st.composite
def random_result(draw: st.DrawFn) -> BacktestResult:
    base = hand_result(np.zeros(0, dtype=EXECUTOR_DTYPE))
    n = draw(st.integers(0, 12))
    recs = np.zeros(n, dtype=EXECUTOR_DTYPE)
    for i in range(n):
        recs["kind"][i] = draw(st.sampled_from([0, KIND_DCA, KIND_GRID, KIND_ORDER]))
        recs["side"][i] = draw(st.sampled_from([1, 2]))
        recs["close_type"][i] = draw(st.sampled_from([int(c) for c in CloseType]))
        recs["created_row"][i] = draw(st.integers(0, 3))
        recs["close_row"][i] = draw(st.integers(0, 3))
        recs["fill_row"][i] = draw(st.integers(-1, 3))
        for name in ("entry_price", "amount_base", "fill_price", "exit_price", "net_pnl_pct",
                     "net_pnl_quote", "cum_fees_quote", "filled_amount_quote", "hold_base"):  # fmt: skip
            recs[name][i] = draw(FLOATS)
    levels = [draw(st.sampled_from(LEVEL_NAMES)) for _ in range(n)]
    width = draw(st.integers(0, 3))
    dca = None
    if draw(st.booleans()):
        dca = np.array([[draw(FLOATS) for _ in range(width)] for _ in range(n)]).reshape(n, width)
    return dataclasses.replace(
        base, records=recs, level_ids=levels, dca_prices=dca, dca_amounts_quote=dca
    )


@settings(max_examples=150, deadline=None)
@given(result=random_result(), block=st.integers(1, 5))
def test_any_records_encode_as_orjson_does(result: BacktestResult, block: int) -> None:
    expected = orjson.dumps(result.to_dict())
    assert b"".join(json_chunks(result, block_rows=block, column_block=block)) == expected
    json.loads(expected, parse_constant=_no_constants)  # strict: no NaN or Infinity
