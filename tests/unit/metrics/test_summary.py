"""summarize_results: Hummingbot's result keys, degenerate cases, never NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.records import EXECUTOR_DTYPE, KIND_ORDER
from hbbacktest.metrics import empty_summary, pnl_timeseries, summarize_results
from hbbacktest.metrics.summary import drawdown_and_sharpe

from .records import record, records

KEYS = set(empty_summary())


def test_empty_records_give_all_zero() -> None:
    summary = summarize_results(np.zeros(0, dtype=EXECUTOR_DTYPE), 1000.0, np.zeros(10))
    assert summary == empty_summary()
    assert summary["close_types"] == {}
    for key, value in summary.items():
        if key != "close_types":
            assert value == 0, key


def test_records_without_position() -> None:
    recs = records(record(TradeType.BUY), record(TradeType.SELL), record(TradeType.SELL))
    summary = summarize_results(recs, 1000.0, np.zeros(5))
    assert set(summary) == KEYS
    assert summary["total_executors"] == 3
    assert summary["total_positions"] == 0
    assert summary["accuracy"] == 0.0
    assert summary["accuracy_long"] == 0.0
    assert summary["accuracy_short"] == 0.0
    assert summary["profit_factor"] == 1.0
    assert summary["total_volume"] == 0.0
    assert summary["close_types"] == {"EARLY_STOP": 3}
    assert summary["sharpe_ratio"] == 0.0
    assert summary["max_drawdown_usd"] == 0.0


HAND = records(
    record(TradeType.BUY, pnl=10.0, filled=100.0, fees=0.1, close_type=CloseType.TAKE_PROFIT),
    record(TradeType.BUY, pnl=-4.0, filled=200.0, fees=0.2, close_type=CloseType.STOP_LOSS),
    record(TradeType.SELL, pnl=6.0, filled=300.0, fees=0.3, close_type=CloseType.TAKE_PROFIT),
    record(TradeType.SELL, close_type=CloseType.EARLY_STOP),
    record(TradeType.SELL, pnl=-2.0, filled=50.0, fees=0.05, close_type=CloseType.TIME_LIMIT),
    record(TradeType.BUY, pnl=3.0, filled=80.0, fees=0.04, close_type=CloseType.TRAILING_STOP),
)


def test_hand_built_records() -> None:
    summary = summarize_results(HAND, 1000.0, np.array([0.0, 10.0, 6.0, 12.0, 10.0, 13.0]))
    assert set(summary) == KEYS
    assert summary["net_pnl_quote"] == pytest.approx(13.0)
    assert summary["net_pnl"] == pytest.approx(0.013)
    assert summary["total_executors"] == 6
    assert summary["total_executors_with_position"] == 5
    assert summary["total_positions"] == 5
    assert summary["total_volume"] == pytest.approx(730.0)
    assert summary["total_long"] == 3
    assert summary["total_short"] == 2
    assert summary["win_signals"] == 3
    assert summary["loss_signals"] == 2
    assert summary["accuracy"] == pytest.approx(3 / 5)
    assert summary["accuracy_long"] == pytest.approx(2 / 3)
    assert summary["accuracy_short"] == pytest.approx(1 / 2)
    assert summary["profit_factor"] == pytest.approx(19 / 6)
    assert summary["total_fees_quote"] == pytest.approx(0.69)
    assert summary["close_types"] == {
        "EARLY_STOP": 1,
        "STOP_LOSS": 1,
        "TAKE_PROFIT": 2,
        "TIME_LIMIT": 1,
        "TRAILING_STOP": 1,
    }
    assert list(summary["close_types"]) == sorted(summary["close_types"])
    assert summary["max_drawdown_usd"] == pytest.approx(-4.0)
    assert summary["max_drawdown_pct"] == pytest.approx(-0.004)
    assert summary["unrealized_pnl_quote"] == 0.0
    assert summary["position_realized_pnl_quote"] == 0.0


def test_only_wins_give_profit_factor_one() -> None:
    recs = records(record(pnl=5.0, filled=10.0), record(pnl=1.0, filled=10.0))
    summary = summarize_results(recs, 100.0, np.array([0.0, 6.0]))
    assert summary["profit_factor"] == 1.0
    assert summary["accuracy"] == 1.0


def test_only_losses_give_profit_factor_zero() -> None:
    recs = records(record(TradeType.SELL, pnl=-5.0, filled=10.0))
    summary = summarize_results(recs, 100.0, np.array([0.0, -5.0]))
    assert summary["profit_factor"] == 0.0
    assert summary["accuracy_short"] == 0.0
    assert summary["net_pnl"] == pytest.approx(-0.05)


def test_python_types() -> None:
    summary = summarize_results(HAND, 1000.0, np.array([0.0, 1.0, 2.0]))
    for key, value in summary.items():
        assert type(value) in (int, float, dict), key


def test_drawdown_and_sharpe_on_a_hand_series() -> None:
    pnl = np.array([0.0, 10.0, 5.0, 15.0, 3.0])
    max_dd, max_dd_pct, sharpe = drawdown_and_sharpe(pnl, 100.0)
    # peaks 0, 10, 10, 15, 15 → worst fall 15 - 3 = 12
    assert max_dd == pytest.approx(-12.0)
    assert max_dd_pct == pytest.approx(-0.12)
    # returns 0, .1, .05, .15, .03: mean .066, sample variance .01412 / 4
    assert sharpe == pytest.approx(0.066 / math.sqrt(0.01412 / 4))


@pytest.mark.parametrize("pnl", [np.zeros(0), np.array([5.0]), np.full(4, 2.0)])
def test_drawdown_and_sharpe_degenerate(pnl: np.ndarray) -> None:
    max_dd, max_dd_pct, sharpe = drawdown_and_sharpe(pnl, 100.0)
    assert max_dd == 0.0
    assert max_dd_pct == 0.0
    assert sharpe == 0.0


def test_monotonic_rise_has_no_drawdown() -> None:
    max_dd, _, sharpe = drawdown_and_sharpe(np.array([0.0, 1.0, 2.0, 3.0]), 10.0)
    assert max_dd == 0.0
    assert sharpe == pytest.approx(0.15 / np.std([0, 0.1, 0.2, 0.3], ddof=1))


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
# executor PnLs as they occur: 0 (no position) or at least a nano-unit of quote either way
pnls = (
    st.just(0.0)
    | st.floats(min_value=1e-9, max_value=1e6)
    | st.floats(min_value=-1e6, max_value=-1e-9)
)
record_strategy = st.builds(
    record,
    side=st.sampled_from(list(TradeType)),
    pnl=pnls,
    filled=st.floats(min_value=0.0, max_value=1e7),
    fees=st.floats(min_value=0.0, max_value=1e4),
    close_type=st.sampled_from(list(CloseType)),
)


@settings(max_examples=150, deadline=None, database=None)
@given(
    rows=st.lists(record_strategy, max_size=25),
    capital=st.floats(min_value=1e-3, max_value=1e7),
    curve=st.lists(finite, max_size=40),
)
def test_summary_is_always_finite(
    rows: list[dict[str, object]], capital: float, curve: list[float]
) -> None:
    summary = summarize_results(records(*rows), capital, np.asarray(curve, dtype=np.float64))
    assert set(summary) == KEYS
    for key, value in summary.items():
        if key == "close_types":
            assert sum(value.values()) == len(rows)
        else:
            assert math.isfinite(value), (key, value)
    assert 0.0 <= summary["accuracy"] <= 1.0
    assert summary["profit_factor"] >= 0.0
    assert summary["max_drawdown_usd"] <= 0.0


def test_profit_factor_with_a_tiny_loss_is_finite() -> None:
    recs = records(record(pnl=1.0, filled=10.0), record(pnl=-1e-310, filled=10.0))
    summary = summarize_results(recs, 100.0, np.zeros(2))
    assert math.isfinite(summary["profit_factor"])


def test_total_volume_counts_positions_only_as_upstream() -> None:
    """Fills handed to a hold and zero-PnL fills are not in total_volume; the curve has them all."""
    recs = records(
        record(TradeType.BUY, pnl=2.0, filled=100.0, close_type=CloseType.TAKE_PROFIT,
               fill_row=0, close_row=1),
        record(TradeType.BUY, filled=40.0, close_type=CloseType.POSITION_HOLD, fill_row=1,
               close_row=1),
        record(TradeType.SELL, filled=30.0, close_type=CloseType.TIME_LIMIT, fill_row=1,
               close_row=2),
    )  # fmt: skip
    recs["kind"][1] = KIND_ORDER
    recs["hold_base"][1] = 0.4
    recs["hold_price"][1] = 100.0
    recs["exit_price"][1] = 100.0
    summary = summarize_results(recs, 1000.0, np.array([0.0, 2.0, 2.0]))
    assert summary["total_volume"] == pytest.approx(100.0)
    assert summary["total_positions"] == 1
    curve = pnl_timeseries(recs, np.arange(4, dtype=np.int64) * 60, 0)
    assert curve["cumulative_volume"][-1] == pytest.approx(170.0)
