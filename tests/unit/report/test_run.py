"""The run and comparison reports: the data they draw, checked number by number."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest

from hbbacktest.report.run import (
    MAX_CANDLES,
    MAX_TABLE_ROWS,
    aggregate_candles,
    bucket_seconds,
    compare_report,
    downsample,
    equity_figure,
    executor_columns,
    executor_segments,
    inventory_curve,
    limit_segments,
    main_figure,
    pnl_curves,
    quote_bands,
    run_report,
)
from hbbacktest.service.defaults import default_request

T0 = 1_704_672_000  # 2024-01-08 00:00 UTC, the demo week's start


# --- builders -----------------------------------------------------------------------------------


def executor(
    i: int,
    *,
    side: str = "BUY",
    created: int = T0,
    fill: int | None = T0 + 60,
    close: int = T0 + 180,
    order_price: float = 100.0,
    fill_price: float | None = 100.0,
    exit_price: float | None = 101.0,
    amount: float = 1.0,
    pnl: float = 1.0,
    close_type: str = "TAKE_PROFIT",
    kind: str = "position_executor",
    held: float = 0.0,
    level_id: str = "buy_0",
) -> dict[str, Any]:
    """One executor as the native result writes it (the fields the report reads)."""
    return {
        "id": f"run-{i}",
        "timestamp": created,
        "type": kind,
        "config": {"id": f"run-{i}", "type": kind, "level_id": level_id},
        "net_pnl_pct": pnl / 100,
        "net_pnl_quote": pnl,
        "cum_fees_quote": 0.1 if fill is not None else 0.0,
        "filled_amount_quote": 200.0 if fill is not None else 0.0,
        "close_timestamp": close,
        "close_type": close_type,
        "level_id": level_id,
        "side": side,
        "entry_price": order_price,
        "amount": amount,
        "fill_timestamp": fill,
        "fill_price": fill_price if fill is not None else None,
        "exit_price": exit_price if fill is not None else None,
        "held_amount": held,
    }


def candles(n: int, *, step: int = 60, start: int = T0, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 0.1, n))
    open_ = np.concatenate([[100.0], close[:-1]])
    spread = rng.uniform(0, 0.2, n)
    return {
        "timestamp": start + step * np.arange(n, dtype=np.int64),
        "open": open_,
        "high": np.maximum(open_, close) + spread,
        "low": np.minimum(open_, close) - spread,
        "close": close,
        "volume": rng.uniform(0, 5, n),
    }


def document(
    executors: list[dict[str, Any]],
    *,
    bars: int = 10,
    config: dict[str, Any] | None = None,
    features: dict[str, Any] | None = None,
) -> dict[str, Any]:
    ts = [T0 + 60 * k for k in range(bars)]
    total = np.cumsum(np.linspace(-1, 1, bars)).tolist()
    return {
        "run_id": "abc123",
        "request": {
            "config": config
            or {
                "id": "my_pmm",
                "controller_name": "pmm_simple",
                "connector_name": "demo",
                "trading_pair": "BTC-USDT",
                "total_amount_quote": 1000.0,
            },
            "start": ts[0],
            "end": ts[-1],
            "backtesting_resolution": "1m",
            "trade_cost": 0.0006,
            "fill_model": "hummingbot",
        },
        "data_source": "unit test",
        "results": {
            "net_pnl_quote": total[-1],
            "net_pnl": total[-1] / 1000,
            "total_executors": len(executors),
        },
        "executors": executors,
        "processed_data": {
            "features": features or {"timestamp": ts, "reference_price": [100.0] * bars}
        },
        "position_holds": [],
        "pnl_timeseries": {
            "timestamp": ts,
            "executor_realized_pnl": total,
            "position_realized_pnl": [0.0] * bars,
            "position_unrealized_pnl": [0.0] * bars,
            "total_pnl": total,
        },
        "warnings": ["a warning of the run"],
    }


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    """A real demo run (one day of pmm_simple), as its JSON document."""
    from hbbacktest.service import run_backtest

    request = default_request().model_copy(update={"end": T0 + 86400})
    return json.loads(run_backtest(request).to_json())


@pytest.fixture(scope="module")
def demo_candles(demo: dict[str, Any]) -> dict[str, np.ndarray]:
    from hbbacktest.config.settings import Settings
    from hbbacktest.service.report import result_candles

    found = result_candles(demo, settings=Settings(), offline=True)
    assert found is not None
    return found


def figure_json(fig: Any) -> dict[str, Any]:
    """The figure's JSON, parsed strictly (no NaN or Infinity constants)."""
    return json.loads(
        fig.to_json(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}")
    )


def decoded(values: Any) -> np.ndarray:
    """A trace array as plotly writes it: a list, or a base64 typed array."""
    if isinstance(values, dict) and "bdata" in values:
        import base64

        data = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        shape = values.get("shape")
        if shape:
            data = data.reshape([int(s) for s in str(shape).split(",")])
        return data
    return np.asarray(values, dtype=np.float64)


def executor_traces(fig: Any) -> list[Any]:
    return [t for t in fig.data if t.legendgroup == "executors"]


# --- executors ----------------------------------------------------------------------------------


def test_one_segment_per_executor_from_entry_to_exit() -> None:
    executors = [
        executor(0),
        executor(1, side="SELL", fill=None, order_price=102.0, close_type="EARLY_STOP", pnl=0.0),
        executor(2, side="SELL", pnl=-2.0, close_type="STOP_LOSS", exit_price=103.0),
    ]
    seg = executor_segments(executor_columns(executors))
    assert len(seg) == 3
    # Filled: from the fill to the exit.
    assert (seg.start_s[0], seg.start_price[0], seg.end_s[0], seg.end_price[0]) == (
        T0 + 60, 100.0, T0 + 180, 101.0,
    )  # fmt: skip
    # Never filled: a flat line at the order price, from creation to close.
    assert (seg.start_s[1], seg.start_price[1], seg.end_price[1]) == (T0, 102.0, 102.0)
    assert seg.group.tolist() == ["TAKE_PROFIT|profit", "unfilled", "STOP_LOSS|loss"]
    assert seg.side.tolist() == [1, -1, -1]


def test_the_main_chart_draws_every_executor_and_every_entry(demo: dict[str, Any]) -> None:
    fig = main_figure(demo)
    spec = figure_json(fig)
    executors = demo["executors"]
    traces = [t for t in spec["data"] if t.get("legendgroup") == "executors"]
    assert traces and all(t["type"] == "scattergl" for t in traces)
    points = sum(decoded(t["x"]).shape[0] for t in traces)
    assert points == 3 * len(executors)  # entry, exit, a gap
    gaps = sum(int(np.isnan(decoded(t["x"])).sum()) for t in traces)
    assert gaps == len(executors)
    filled = [e for e in executors if e["fill_timestamp"] is not None]
    entries = [t for t in spec["data"] if t.get("legendgroup") == "entries"]
    assert sum(decoded(t["x"]).shape[0] for t in entries) == len(filled) > 0
    # Times are epoch milliseconds on date axes.
    first = min(float(np.nanmin(decoded(t["x"]))) for t in traces)
    assert first == min(e["timestamp"] for e in executors) * 1000
    assert spec["layout"]["xaxis"]["type"] == "date"


def test_segments_beyond_the_cap_keep_the_filled_ones() -> None:
    executors = [executor(i, fill=None, close_type="EARLY_STOP", pnl=0.0) for i in range(50)]
    executors += [executor(50 + i, pnl=float(i - 5)) for i in range(10)]
    seg, note = limit_segments(executor_segments(executor_columns(executors)), 20)
    assert len(seg) == 20 and note is not None and "20 of 60" in note
    assert int(seg.filled.sum()) == 10
    assert np.all(np.diff(seg.index) > 0)  # still in creation order
    same, none = limit_segments(executor_segments(executor_columns(executors)), 60)
    assert len(same) == 60 and none is None


# --- candles ------------------------------------------------------------------------------------


def test_aggregation_keeps_ohlc_semantics_as_pandas_resample() -> None:
    bars = candles(1000)
    bars = {k: np.delete(v, np.arange(300, 340)) for k, v in bars.items()}  # a gap
    out = aggregate_candles(bars, 900)
    frame = pd.DataFrame(bars).set_index(pd.to_datetime(bars["timestamp"], unit="s"))
    expected = (
        frame.resample("15min")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"})
        .dropna()
    )
    expected = expected[expected.index.isin(pd.to_datetime(out["timestamp"], unit="s"))]
    assert len(expected) == len(out["timestamp"])
    for column in ("open", "high", "low", "close", "volume"):
        np.testing.assert_allclose(out[column], expected[column].to_numpy())
    assert out["high"].max() == bars["high"].max()
    assert out["low"].min() == bars["low"].min()


def test_a_year_of_minutes_is_resampled_below_the_limit() -> None:
    ts = T0 + 60 * np.arange(525_600, dtype=np.int64)
    bucket = bucket_seconds(ts)
    assert bucket % 60 == 0
    ids = np.unique(ts // bucket)
    assert ids.shape[0] <= MAX_CANDLES
    assert bucket_seconds(ts[:3000]) == 60  # short series are left as they are


def test_downsampled_lines_end_on_the_last_value() -> None:
    ts = T0 + 60 * np.arange(100)
    values = np.sin(np.arange(100.0))
    x, y = downsample(ts, values, 600)
    assert x[-1] == ts[-1] and y[-1] == values[-1]
    assert x.shape[0] == 10
    _, low = downsample(ts, values, 600, "min")
    assert low.min() == values.min()
    with pytest.raises(ValueError, match="last, min or max"):
        downsample(ts, values, 600, "mean")


# --- PnL and inventory --------------------------------------------------------------------------


def test_the_pnl_curve_ends_at_net_pnl_plus_the_unrealized_hold(demo: dict[str, Any]) -> None:
    curves = pnl_curves(demo["pnl_timeseries"], 1000.0)
    results = demo["results"]
    assert curves["total_pnl"][-1] == demo["pnl_timeseries"]["total_pnl"][-1]
    assert curves["total_pnl"][-1] == pytest.approx(
        results["net_pnl_quote"] + results["unrealized_pnl_quote"], abs=1e-9
    )
    assert curves["drawdown_quote"].min() == pytest.approx(results["max_drawdown_usd"], abs=1e-9)
    assert curves["drawdown_pct"].min() == pytest.approx(results["max_drawdown_pct"] * 100)
    # The drawn curve, resampled, still ends there.
    spec = figure_json(main_figure(demo))
    (total,) = [t for t in spec["data"] if t.get("name") == "total_pnl"]
    assert decoded(total["y"])[-1] == pytest.approx(curves["total_pnl"][-1])


def test_the_pnl_curve_with_a_position_hold() -> None:
    from hbbacktest.service import load_controller_config, run_backtest

    config = load_controller_config(
        {
            "id": "held",
            "controller_name": "pmm_simple",
            "connector_name": "demo",
            "trading_pair": "BTC-USDT",
            "buy_spreads": "0.002,0.004",
            "sell_spreads": "0.002,0.004",
            "skip_rebalance": False,
        }
    )
    request = default_request().model_copy(update={"config": config, "end": T0 + 6 * 3600})
    doc = json.loads(run_backtest(request).to_json())
    assert doc["position_holds"], "the rebalance should hand a position to the hold"
    results = doc["results"]
    curves = pnl_curves(doc["pnl_timeseries"])
    assert curves["total_pnl"][-1] == pytest.approx(
        results["net_pnl_quote"] + results["unrealized_pnl_quote"], abs=1e-9
    )
    inventory = inventory_curve(executor_columns(doc["executors"]), curves["timestamp"])
    hold = doc["position_holds"][0]
    sign = 1 if hold["side"] == "BUY" else -1
    assert inventory["hold_base"][-1] == pytest.approx(sign * hold["amount"])


def test_inventory_counts_open_executors_and_the_hold() -> None:
    executors = [
        executor(0, fill=T0 + 60, close=T0 + 180, amount=1.0),
        executor(1, side="SELL", fill=T0 + 120, close=T0 + 240, amount=0.5),
        executor(2, fill=None, close=T0 + 300, close_type="EARLY_STOP", pnl=0.0),
        executor(
            3, fill=T0 + 240, close=T0 + 300, amount=0.2, close_type="POSITION_HOLD", held=0.2
        ),
    ]
    at = T0 + 60 * np.arange(7)
    inv = inventory_curve(executor_columns(executors), at)
    np.testing.assert_allclose(inv["executors_base"], [0, 1, 0.5, -0.5, 0.2, 0, 0])
    np.testing.assert_allclose(inv["hold_base"], [0, 0, 0, 0, 0, 0.2, 0.2])
    np.testing.assert_allclose(inv["net_base"], inv["executors_base"] + inv["hold_base"])


def test_a_dca_executor_counts_the_base_it_filled() -> None:
    # Half of a 2.0 base DCA filled at 100 on average, closed at 110: gross 5 = 0.5 × 10.
    dca = executor(0, kind="dca_executor", amount=2.0, fill_price=100.0, exit_price=110.0, pnl=4.9)
    dca["cum_fees_quote"] = 0.1
    inv = inventory_curve(executor_columns([dca]), np.array([T0 + 120.0]))
    assert inv["executors_base"][0] == pytest.approx(0.5)


# --- bands, features ----------------------------------------------------------------------------


def test_quote_bands_follow_the_demo_quotes(demo: dict[str, Any]) -> None:
    columns = executor_columns(demo["executors"])
    features = {
        k: np.asarray(v, dtype=float) for k, v in demo["processed_data"]["features"].items()
    }
    bands, note = quote_bands(features, demo["request"]["config"], columns)
    assert note is None
    assert sorted(bands) == ["buy_0", "buy_1", "sell_0", "sell_1"]
    row = next(i for i, e in enumerate(demo["executors"]) if e["level_id"] == "buy_0")
    k = int(np.searchsorted(features["timestamp"], columns["created_s"][row]))
    assert bands["buy_0"][k] == pytest.approx(columns["order_price"][row], rel=1e-9)


def test_quote_bands_are_left_out_when_the_controller_moves_its_quotes(
    demo: dict[str, Any],
) -> None:
    moved = [dict(e, entry_price=e["entry_price"] * 1.01) for e in demo["executors"]]
    features = {
        k: np.asarray(v, dtype=float) for k, v in demo["processed_data"]["features"].items()
    }
    bands, note = quote_bands(features, demo["request"]["config"], executor_columns(moved))
    assert bands == {} and note is not None and "left out" in note


def test_without_candles_the_reference_price_stands_in() -> None:
    html = run_report(document([executor(0)]))
    assert "no candles were given to the report" in html
    spec = figure_json(main_figure(document([executor(0)])))
    types = {t["type"] for t in spec["data"]}
    assert "candlestick" not in types
    assert any(t.get("name") == "reference_price" for t in spec["data"])


def test_with_candles_they_are_drawn(demo: dict[str, Any], demo_candles: dict[str, Any]) -> None:
    spec = figure_json(main_figure(demo, demo_candles))
    (bars,) = [t for t in spec["data"] if t["type"] == "candlestick"]
    assert decoded(bars["x"]).shape[0] == len(demo_candles["timestamp"])
    assert decoded(bars["high"]).max() == demo_candles["high"].max()


def test_bad_candles_are_refused() -> None:
    with pytest.raises(ValueError, match="close"):
        main_figure(document([]), {"timestamp": [T0], "open": [1.0], "high": [1.0], "low": [1.0]})
    with pytest.raises(ValueError, match="differ in length"):
        main_figure(document([]), {k: [1.0] * (2 if k == "low" else 1) for k in
                                   ("timestamp", "open", "high", "low", "close")})  # fmt: skip


# --- the page -----------------------------------------------------------------------------------


def test_the_run_report_is_one_self_contained_page(
    demo: dict[str, Any], demo_candles: dict[str, Any]
) -> None:
    html = run_report(demo, candles=demo_candles)
    assert html.startswith("<!DOCTYPE html>")
    assert "cdn" not in html.lower().split("<script>", 1)[0]
    assert not re.search(r"<script[^>]+src=", html)  # nothing loaded from elsewhere
    assert 'id="main-chart"' in html and 'id="executors"' in html
    assert html.count("<tr>") - 1 >= len(demo["executors"])  # every executor listed
    assert "USDT" in html and " %" in html  # units
    for spec_text in re.findall(r'data-figure="[^"]+">(.*?)</script>', html, re.S):
        json.loads(spec_text.replace("<\\/", "</"), parse_constant=pytest.fail)


def test_metrics_read_in_percent_and_quote() -> None:
    doc = document([executor(0)])
    doc["results"].update(
        {"net_pnl": -0.0598, "net_pnl_quote": -59.75, "max_drawdown_pct": -0.0731,
         "total_volume": 91505.77}
    )  # fmt: skip
    html = run_report(doc)
    assert "-5.98 %" in html and "-59.75 USDT" in html
    assert "-7.31 %" in html and "91,505.77 USDT" in html


def test_user_text_is_escaped() -> None:
    evil = "<script>alert(1)</script>"
    doc = document(
        [executor(0, level_id=evil)],
        config={"id": evil, "controller_name": "pmm_simple", "trading_pair": "BTC-USDT",
                "connector_name": "demo"},
    )  # fmt: skip
    doc["warnings"] = [evil]
    html = run_report(doc)
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    compared = compare_report([doc, doc])
    assert evil not in compared


def test_the_table_is_capped_for_large_runs() -> None:
    executors = [executor(i, pnl=float(i % 7 - 3)) for i in range(MAX_TABLE_ROWS + 50)]
    html = run_report(document(executors))
    table = html[html.index('<table id="executors"') :]
    assert table.count("<tr>") == MAX_TABLE_ROWS + 1  # the header row too
    assert f"{MAX_TABLE_ROWS:,} executors with the largest" in html


def test_a_large_run_stays_small() -> None:
    """30 000 executors over 500 000 one-minute candles: the page stays under 20 MB."""
    rng = np.random.default_rng(7)
    n_bars, n_exec = 500_000, 30_000
    bars = candles(n_bars)
    ts = bars["timestamp"]
    created = np.sort(rng.integers(0, n_bars - 100, n_exec))
    filled = rng.random(n_exec) < 0.3
    executors = [
        executor(
            i,
            side="BUY" if i % 2 else "SELL",
            created=int(ts[k]),
            fill=int(ts[k + 2]) if filled[i] else None,
            close=int(ts[k + 50]),
            order_price=float(bars["close"][k]),
            fill_price=float(bars["close"][k + 2]),
            exit_price=float(bars["close"][k + 50]),
            pnl=float(rng.normal()) if filled[i] else 0.0,
            close_type="TIME_LIMIT" if filled[i] else "EARLY_STOP",
        )
        for i, k in enumerate(created.tolist())
    ]
    doc = document(executors, bars=10)
    doc["pnl_timeseries"] = {
        "timestamp": ts.tolist(),
        "total_pnl": np.cumsum(rng.normal(0, 0.01, n_bars)).tolist(),
    }
    doc["processed_data"] = {
        "features": {"timestamp": ts.tolist(), "reference_price": bars["close"].tolist(),
                     "natr": rng.random(n_bars).tolist()}
    }  # fmt: skip
    html = run_report(doc, candles=bars)
    size_mb = len(html.encode()) / 1e6
    assert size_mb <= 20, f"{size_mb:.1f} MB"
    spec = json.loads(
        re.search(r'data-figure="main-chart">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
    )
    (drawn,) = [t for t in spec["data"] if t["type"] == "candlestick"]
    assert decoded(drawn["x"]).shape[0] <= MAX_CANDLES
    segments = sum(
        decoded(t["x"]).shape[0] for t in spec["data"] if t.get("legendgroup") == "executors"
    )
    assert segments == 3 * n_exec


# --- comparison ---------------------------------------------------------------------------------


def test_the_comparison_holds_each_run() -> None:
    a = document([executor(0)], bars=20)
    b = document([executor(0, pnl=-1.0)], bars=30)
    b["request"]["fill_model"] = "touch"
    b["pnl_timeseries"]["total_pnl"] = [-x for x in b["pnl_timeseries"]["total_pnl"]]
    fig = figure_json(equity_figure([a, b]))
    curves = [t for t in fig["data"] if not t["name"].endswith("drawdown")]
    assert [t["name"] for t in curves] == ["my_pmm (hummingbot)", "my_pmm (touch)"]
    for trace, doc in zip(curves, (a, b), strict=True):
        assert decoded(trace["y"])[-1] == pytest.approx(doc["pnl_timeseries"]["total_pnl"][-1])
    html = compare_report([a, b])
    assert html.count("my_pmm (hummingbot)") >= 2 and "my_pmm (touch)" in html
    assert 'id="metrics"' in html and 'id="runs"' in html
    named = compare_report([a, a], names=["first", "first"])
    assert "first #2" in named
    with pytest.raises(ValueError, match="names"):
        compare_report([a, b], names=["only one"])
    with pytest.raises(ValueError, match="at least one"):
        compare_report([])


def test_summary_only_results_still_report() -> None:
    doc = document([])
    for key in ("executors", "processed_data", "pnl_timeseries"):
        doc.pop(key)
    html = run_report(doc)
    assert "summary-only" in html and "no pnl_timeseries" in html


def test_malformed_parts_are_skipped_not_fatal() -> None:
    doc = document([executor(0)])
    doc["executors"].append("not an executor")
    doc["pnl_timeseries"]["executor_realized_pnl"] = [1.0]  # another length: left out
    doc["processed_data"]["features"]["odd"] = ["a", "b"]
    html = run_report(doc)
    assert html.startswith("<!DOCTYPE html>")
    assert pnl_curves(doc["pnl_timeseries"]).keys() >= {"total_pnl", "drawdown_quote"}
    assert "executor_realized_pnl" not in pnl_curves(doc["pnl_timeseries"])
    assert pnl_curves([]) == {}  # type: ignore[arg-type]
