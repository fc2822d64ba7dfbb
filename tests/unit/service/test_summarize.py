"""summarize_executors: a backtest's executors in, the same ``results`` out.

Real runs on the demo connector (two days of 1m bars): position executors (pmm_simple), a
directional controller (bollinger_v1), DCA executors (dman_v3), a grid, and two runs whose
rebalance orders end in ``POSITION_HOLD`` with a position still open at the end.
"""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.core.errors import ConfigError
from hbbacktest.metrics.encode import results_json
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.metrics.summary import empty_summary
from hbbacktest.service import DEFAULT_CONFIG, build_registry, load_controller_config, run_backtest
from hbbacktest.service.backtest import candle_access
from hbbacktest.service.summarize import SummarizeRequest, summarize, summarize_executors

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
CASES: dict[str, Any] = {
    "position": DEFAULT_CONFIG,
    "directional": EXAMPLES / "bollinger_v1.yml",
    "dca": EXAMPLES / "dman_v3.yml",
    "grid": EXAMPLES / "grid_strike.yml",
    "hold": {**DEFAULT_CONFIG, "skip_rebalance": False},  # position + rebalance order executors
    "dca_hold": EXAMPLES / "dman_maker_v2.yml",  # DCA + rebalance order executors
}
NO_HOLD = ["position", "directional", "dca", "grid"]
HOLD = ["hold", "dca_hold"]
# Statistics of the per-bar total_pnl curve: what executors alone may not determine.
CURVE_KEYS = {"max_drawdown_usd", "max_drawdown_pct", "sharpe_ratio"}

T0 = 1_704_672_000  # 2024-01-08 00:00 UTC


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[BacktestResult, dict]]:
    """Each case's result, with the closes of its window (``prices``)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("data"))
    registry = build_registry(settings)
    access = candle_access(settings)
    out = {}
    for name, source in CASES.items():
        config = load_controller_config(source, registry=registry)
        request = BacktestRequest(config=config, start="2024-01-08", end="2024-01-10")
        result = run_backtest(request, settings=settings, registry=registry)
        bars = access.candles("demo", "BTC-USDT", "1m", request.start, request.end).candles
        out[name] = (result, {"timestamp": bars.ts.tolist(), "close": bars.close.tolist()})
    return out


def window(result: BacktestResult) -> dict[str, Any]:
    request = result.request
    return {
        "start": request.start,
        "end": request.end,
        "backtesting_resolution": request.backtesting_resolution,
    }


def capital(result: BacktestResult) -> float:
    return float(result.request.config.total_amount_quote)


def strict(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary after a strict JSON round trip (fails on NaN or infinity)."""
    return json.loads(json.dumps(summary, allow_nan=False))


def to_upstream(executor: dict[str, Any]) -> dict[str, Any]:
    """hummingbot-api's ``ExecutorInfo`` shape: integer enums, prices in ``custom_info`` only.

    ``close_price`` is the executor's exit price, left out when it never exited (a rebalance
    order), as upstream's order executor reports none; ``current_position_average_price`` is
    0 when unfilled, as upstream's.
    """
    side = int(TradeType[executor["side"]])
    custom_info: dict[str, Any] = {
        "side": side,
        "current_position_average_price": executor["fill_price"] or 0,
        "level_id": executor["level_id"],
    }
    if executor["exit_price"] is not None:
        custom_info["close_price"] = executor["exit_price"]
    keys = ("id", "timestamp", "type", "net_pnl_pct", "net_pnl_quote", "cum_fees_quote")
    return {
        **{key: executor[key] for key in keys},
        "filled_amount_quote": executor["filled_amount_quote"],
        "status": 4,
        "is_active": False,
        "is_trading": False,
        "config": {**executor["config"], "side": side},
        "custom_info": custom_info,
        "close_timestamp": executor["close_timestamp"],
        "close_type": int(CloseType[executor["close_type"]]),
        "controller_id": executor["controller_id"],
    }


def assert_close(summary: dict[str, Any], expected: dict[str, Any], rel: float) -> None:
    assert summary.keys() == expected.keys()
    for key, value in expected.items():
        if isinstance(value, float):
            assert summary[key] == pytest.approx(value, rel=rel, abs=1e-9), key
        else:
            assert summary[key] == value, key


# --- native executors: exact ------------------------------------------------------------------


@pytest.mark.parametrize("name", NO_HOLD)
def test_native_with_window_is_exact(runs: dict, name: str) -> None:
    result, _ = runs[name]
    assert result.results["total_executors"] > 0
    summary = summarize_executors(
        result.executors(), total_amount_quote=capital(result), **window(result)
    )
    assert strict(summary) == results_json(result.results)
    assert summary == result.results


@pytest.mark.parametrize("name", HOLD)
def test_native_holds_with_window_and_prices_are_exact(runs: dict, name: str) -> None:
    result, prices = runs[name]
    assert result.holds is not None and result.holds.hold.net_base != 0  # open at the end
    assert result.results["close_types"]["POSITION_HOLD"] >= 1
    summary = summarize_executors(
        result.executors(), total_amount_quote=capital(result), prices=prices, **window(result)
    )
    assert summary == results_json(result.results)


@pytest.mark.parametrize("name", HOLD)
def test_holds_without_prices_approximate_only_the_curve(runs: dict, name: str) -> None:
    """Without closes the hold is marked between executor closes at the last reported price.

    Everything else is exact; ``unrealized_pnl_quote`` too once ``final_price`` is given,
    and an estimate (the last executor price) without it.
    """
    result, _ = runs[name]
    executors = result.executors()
    summary = summarize_executors(
        executors, total_amount_quote=capital(result), final_price=result.final_price,
        **window(result),
    )  # fmt: skip
    exact = {k: v for k, v in result.results.items() if k not in CURVE_KEYS}
    assert {k: v for k, v in summary.items() if k not in CURVE_KEYS} == exact
    assert summary["max_drawdown_usd"] <= 0 and math.isfinite(summary["sharpe_ratio"])
    guessed = summarize_executors(executors, total_amount_quote=capital(result), **window(result))
    assert guessed["unrealized_pnl_quote"] != result.results["unrealized_pnl_quote"]
    assert guessed["position_realized_pnl_quote"] == result.results["position_realized_pnl_quote"]
    assert guessed["net_pnl_quote"] == result.results["net_pnl_quote"]


@pytest.mark.parametrize("name", NO_HOLD)
def test_without_window_only_sharpe_is_approximate(runs: dict, name: str) -> None:
    """One curve point per close time: same drawdowns, but not the per-bar Sharpe ratio."""
    result, _ = runs[name]
    summary = summarize_executors(result.executors(), total_amount_quote=capital(result))
    assert {k: v for k, v in summary.items() if k != "sharpe_ratio"} == {
        k: v for k, v in result.results.items() if k != "sharpe_ratio"
    }
    assert isinstance(summary["sharpe_ratio"], float) and math.isfinite(summary["sharpe_ratio"])


@pytest.mark.parametrize("name", HOLD)
def test_holds_without_window(runs: dict, name: str) -> None:
    """The rebalance order books on the window's first bar and the hold is marked per close
    time only: the curve statistics are estimates; everything else stays exact."""
    result, prices = runs[name]
    summary = summarize_executors(
        result.executors(), total_amount_quote=capital(result), prices=prices
    )
    exact = {k: v for k, v in result.results.items() if k not in CURVE_KEYS}
    assert {k: v for k, v in summary.items() if k not in CURVE_KEYS} == exact
    assert summary["max_drawdown_usd"] == pytest.approx(
        result.results["max_drawdown_usd"], rel=0.05
    )


# --- hummingbot-api's shape -------------------------------------------------------------------


@pytest.mark.parametrize("name", NO_HOLD)
def test_upstream_shape_is_exact(runs: dict, name: str) -> None:
    result, _ = runs[name]
    upstream = [to_upstream(e) for e in result.executors()]
    assert "side" not in upstream[0] and isinstance(upstream[0]["close_type"], int)
    summary = summarize_executors(upstream, total_amount_quote=capital(result), **window(result))
    assert summary == result.results


@pytest.mark.parametrize("name", HOLD)
def test_upstream_shape_derives_the_held_amount(runs: dict, name: str) -> None:
    """No ``held_amount`` upstream: filled_amount_quote / average price, equal up to rounding."""
    result, prices = runs[name]
    upstream = [to_upstream(e) for e in result.executors()]
    summary = summarize_executors(
        upstream, total_amount_quote=capital(result), prices=prices, **window(result)
    )
    assert_close(summary, result.results, rel=1e-9)


def test_upstream_spellings_are_read(runs: dict) -> None:
    """JSON-text config/custom_info, decimal strings, ms timestamps, enum names in any case."""
    result, _ = runs["directional"]
    native = result.executors()
    variants = []
    for i, executor in enumerate(to_upstream(e) for e in native):
        executor = copy.deepcopy(executor)
        executor["config"]["side"] = (
            ("sell", "TradeType.SELL", "2")[i % 3]
            if (executor["config"]["side"] == 2)
            else ("buy", "TradeType.BUY", 1.0)[i % 3]
        )
        executor["config"] = json.dumps(executor["config"])
        executor["custom_info"] = json.dumps(executor["custom_info"])
        executor["net_pnl_quote"] = repr(executor["net_pnl_quote"])
        executor["close_timestamp"] = executor["close_timestamp"] * 1000
        executor["timestamp"] = str(executor["timestamp"] * 1_000_000)
        executor["close_type"] = CloseType(executor["close_type"]).name.lower()
        executor["status"] = ("TERMINATED", "terminated", 4)[i % 3]
        variants.append(executor)
    summary = summarize_executors(variants, total_amount_quote=capital(result), **window(result))
    assert summary == result.results


def test_the_request_model_takes_upstreams_body_and_time_names(runs: dict) -> None:
    result, _ = runs["dca"]
    body = {
        "executors": [to_upstream(e) for e in result.executors()],
        "total_amount_quote": capital(result),
        "start_time": result.request.start,
        "end_time": result.request.end,
    }
    request = SummarizeRequest.model_validate(body)
    assert (request.start, request.end, request.resolution_s) == (
        result.request.start,
        result.request.end,
        60,
    )
    assert summarize(request) == summarize(body) == result.results
    assert summarize({"executors": body["executors"]})["total_executors"] == len(body["executors"])


# --- hand-built curves ------------------------------------------------------------------------


def executor(close_row: int, pnl: float, close_type: str = "TAKE_PROFIT", **extra: Any) -> dict:
    return {
        "timestamp": T0,
        "close_timestamp": T0 + 60 * close_row,
        "side": "BUY",
        "close_type": close_type,
        "net_pnl_quote": pnl,
        "filled_amount_quote": 100.0,
        **extra,
    }


def test_empty_is_the_empty_summary() -> None:
    assert summarize_executors([]) == empty_summary()
    assert summarize_executors([], start=T0, end=T0 + 600) == empty_summary()
    assert summarize({"executors": []}) == empty_summary()


def test_an_early_stop_is_booked_a_bar_later() -> None:
    """Upstream books an early stop after its bar's snapshot: -3 at bar 1 shows at bar 2,
    together with the +5 of bar 2, so the curve never dips (0, 0, 2, 2 …)."""
    executors = [executor(1, -3.0, "EARLY_STOP"), executor(2, 5.0)]
    for options in ({}, {"backtesting_resolution": "1m"}, {"start": T0, "end": T0 + 300}):
        summary = summarize_executors(executors, total_amount_quote=100, **options)
        assert summary["max_drawdown_usd"] == 0.0, options
        assert summary["net_pnl_quote"] == 2.0
    # Booked at its own bar, the same stop would dip the curve to -3.
    dipped = summarize_executors([executor(1, -3.0, "STOP_LOSS"), executor(2, 5.0)])
    assert dipped["max_drawdown_usd"] == -3.0


def test_an_early_stop_on_the_last_bar_is_left_out_of_the_curve() -> None:
    """As the engine: booked after the run's last bar, in net PnL but not in the drawdown."""
    executors = [executor(1, 4.0), executor(5, -10.0, "EARLY_STOP")]
    summary = summarize_executors(executors, total_amount_quote=100, start=T0, end=T0 + 300)
    assert summary["net_pnl_quote"] == -6.0
    assert summary["max_drawdown_usd"] == 0.0
    # Without the window the last bar is unknown: the stop is booked, the curve dips.
    assert summarize_executors(executors)["max_drawdown_usd"] == -10.0


def test_the_window_curve_counts_every_bar() -> None:
    """Sharpe of the per-bar curve: 0 on bars 0-1, then 1 on bars 2-4 (mean 0.6, sd 0.548)."""
    summary = summarize_executors([executor(2, 1.0)], total_amount_quote=1, start=T0, end=T0 + 240)
    assert summary["sharpe_ratio"] == pytest.approx(0.6 / math.sqrt(0.3))
    points = summarize_executors([executor(2, 1.0)], total_amount_quote=1)
    assert points["sharpe_ratio"] == pytest.approx(0.5 / math.sqrt(0.5))  # curve (0, 1)


def test_held_fills_net_into_one_position() -> None:
    """Two held buys then a held sell: realized (110 - 100.5) × 1, 1 base left at 100.5."""

    def held(row: int, side: str, base: float, price: float) -> dict:
        return executor(
            row, -0.1, "POSITION_HOLD", side=side, held_amount=base, fill_price=price,
            exit_price=None, cum_fees_quote=0.1, filled_amount_quote=base * price,
        )  # fmt: skip

    executors = [
        held(1, "BUY", 1.0, 100.0),
        held(2, "BUY", 1.0, 101.0),
        held(3, "SELL", 1.0, 110.0),
    ]
    summary = summarize_executors(executors, final_price=120.0, start=T0, end=T0 + 300)
    assert summary["position_realized_pnl_quote"] == pytest.approx(9.5)
    assert summary["unrealized_pnl_quote"] == pytest.approx(19.5)
    assert summary["net_pnl_quote"] == pytest.approx(9.5 - 0.3)
    assert summary["total_positions"] == 0 and summary["total_volume"] == 0.0
    assert summary["close_types"] == {"POSITION_HOLD": 3}


def test_a_tiny_capital_gives_null_not_infinity() -> None:
    summary = summarize_executors([executor(1, 1e12), executor(2, -1.0)], total_amount_quote=1e-300)
    assert summary["net_pnl"] is None
    strict(summary)


# --- refused input ----------------------------------------------------------------------------


def body(**changes: Any) -> list[dict[str, Any]]:
    """Three upstream-shaped executors, the third changed (``None`` deletes a key)."""
    executors = [
        {
            "timestamp": T0,
            "close_timestamp": T0 + 60 * (i + 1),
            "status": 4,
            "close_type": 3,
            "net_pnl_quote": 1.0,
            "cum_fees_quote": 0.1,
            "filled_amount_quote": 100.0,
            "config": {"side": 1, "timestamp": T0},
            "custom_info": {"side": 1, "close_price": 101.0},
        }
        for i in range(3)
    ]
    target = executors[2]
    for path, value in changes.items():
        *parents, key = path.split("__")
        node = target
        for parent in parents:
            node = node[parent]
        if value is None:
            del node[key]
        else:
            node[key] = value
    return executors


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"config__side": "LONG"}, "executors[2].config.side = 'LONG': unknown side"),
        ({"config__side": 3}, "executors[2].config.side = 3: 3 is no side code"),
        ({"config__side": None, "custom_info__side": None}, "executors[2].side: required"),
        ({"close_type": "TAKE_PROFT"}, "did you mean 'TAKE_PROFIT'?"),
        ({"close_type": 11}, "executors[2].close_type = 11: 11 is no close type code"),
        ({"close_type": None}, "executors[2].close_type: required field is missing"),
        ({"close_timestamp": None}, "executors[2].close_timestamp: required"),
        ({"close_timestamp": "yesterday"}, "executors[2].close_timestamp = 'yesterday'"),
        ({"close_timestamp": -5}, "executors[2].close_timestamp = -5"),
        ({"status": 2}, "executors[2].status = 2: the executor is RUNNING"),
        ({"status": "DONE"}, "executors[2].status = 'DONE': unknown status"),
        ({"net_pnl_quote": "abc"}, "executors[2].net_pnl_quote = 'abc'"),
        ({"net_pnl_quote": True}, "executors[2].net_pnl_quote = True: expected a number"),
        ({"net_pnl_quote": None}, "executors[2].net_pnl_quote: required"),
        ({"net_pnl_quote": 1e300}, "executors[2].net_pnl_quote = 1e+300"),
        ({"filled_amount_quote": -1}, "executors[2].filled_amount_quote = -1"),
        ({"custom_info__close_price": "x"}, "executors[2].custom_info.close_price = 'x'"),
        ({"custom_info": "{not json"}, "executors[2]: custom_info is text but not JSON"),
        ({"config": 5}, "executors[2]: config must be an object, not int"),
    ],
)
def test_bad_executors_name_index_and_field(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        summarize_executors(body(**changes))
    assert expected in str(caught.value)
    assert "executors[0]" not in str(caught.value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), "NaN", "inf"])
@pytest.mark.parametrize(
    "field", ["net_pnl_quote", "cum_fees_quote", "net_pnl_pct", "custom_info__close_price"]
)
def test_nan_and_infinity_are_refused(bad: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        summarize_executors(body(**{field: bad}))
    assert f"executors[2].{field.replace('__', '.')} = " in str(caught.value)


@pytest.mark.parametrize(
    "options, expected",
    [
        ({"total_amount_quote": 0}, "total_amount_quote = 0"),
        ({"total_amount_quote": float("nan")}, "total_amount_quote = nan"),
        ({"final_price": float("inf")}, "final_price = inf"),
        ({"start": T0}, "give both start and end"),
        ({"start": T0 + 600, "end": T0}, "must be before end"),
        ({"start": T0, "end": T0 + 600, "backtesting_resolution": "1x"}, "invalid interval"),
        ({"start": T0 + 120, "end": T0 + 600}, "executors[0].close_timestamp = 1704672060"),
        ({"start": T0, "end": T0 + 60}, "2 executor(s) closed outside the window"),
        ({"prices": {"timestamp": [T0, T0], "close": [1.0, 2.0]}}, "increase strictly"),
        ({"prices": {"timestamp": [T0], "close": [1.0, 2.0]}}, "one close per timestamp"),
        ({"prices": {"timestamp": [T0], "close": [float("nan")]}}, "prices.close[0] = nan"),
    ],
)
def test_bad_options_are_named(options: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        summarize_executors(body(), **options)
    assert expected in str(caught.value)


def test_bad_bodies_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown field \\(did you mean 'total_amount_quote'"):
        summarize({"executors": body(), "total_amount": 5})
    with pytest.raises(ConfigError, match="executors: required field is missing"):
        summarize({"total_amount_quote": 5})
    with pytest.raises(ConfigError, match="executors\\[1\\] = 7: Input should be"):
        summarize({"executors": [body()[0], 7]})
    with pytest.raises(ConfigError, match="must be a JSON object"):
        summarize([1, 2])  # type: ignore[arg-type]


def test_many_bad_executors_are_listed_briefly() -> None:
    executors = [{"close_type": "nope"}] * 500
    with pytest.raises(ConfigError) as caught:
        summarize_executors(executors)
    message = str(caught.value)
    assert "(2000 problems)" in message and "… and 1980 more" in message
    assert len(message.splitlines()) == 22


# --- size -------------------------------------------------------------------------------------


def test_fifty_thousand_executors(runs: dict, capsys: pytest.CaptureFixture[str]) -> None:
    """Measured, not asserted (timing lives in benchmarks/): printed with ``-s``."""
    result, _ = runs["position"]
    native = result.executors()
    many = (native * (50_000 // len(native) + 1))[:50_000]
    upstream = [to_upstream(e) for e in many]
    timings = {}
    for shape, executors in (("native", many), ("upstream", upstream)):
        for mode, options in (("points", {}), ("window", window(result))):
            began = time.perf_counter()
            summary = summarize_executors(executors, **options)
            timings[f"{shape}/{mode}"] = time.perf_counter() - began
            assert summary["total_executors"] == 50_000
    with capsys.disabled():
        shown = ", ".join(f"{key} {seconds * 1000:.0f} ms" for key, seconds in timings.items())
        print(f"\n50,000 executors: {shown}")
