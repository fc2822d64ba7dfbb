"""pnl_timeseries: the per-bar PnL curve as upstream books it."""

from __future__ import annotations

import numpy as np

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.records import EXECUTOR_DTYPE
from hbbacktest.metrics import pnl_timeseries

from .records import record, records

BAR_TS = np.array([0, 60, 120, 180, 240], dtype=np.int64)


def test_hand_built_timeseries() -> None:
    recs = records(
        record(pnl=5.0, filled=100.0, close_type=CloseType.TAKE_PROFIT, created_row=0, close_row=2),
        # an early stop is booked one bar after its close bar
        record(close_type=CloseType.EARLY_STOP, created_row=1, close_row=3),
        record(
            TradeType.SELL,
            pnl=-2.0,
            filled=50.0,
            close_type=CloseType.STOP_LOSS,
            created_row=2,
            close_row=4,
        ),
        # booked after the last bar: not in the curve, active to the end
        record(pnl=1.0, filled=10.0, close_type=CloseType.EARLY_STOP, created_row=3, close_row=4),
    )
    series = pnl_timeseries(recs, BAR_TS, start_row=1)
    assert set(series) == {
        "timestamp",
        "executor_realized_pnl",
        "position_realized_pnl",
        "position_unrealized_pnl",
        "total_pnl",
        "active_executors",
        "cumulative_volume",
    }
    assert series["timestamp"].tolist() == [60, 120, 180, 240]
    assert series["executor_realized_pnl"].tolist() == [0.0, 5.0, 5.0, 3.0]
    assert series["total_pnl"].tolist() == [0.0, 5.0, 5.0, 3.0]
    assert series["cumulative_volume"].tolist() == [0.0, 100.0, 100.0, 150.0]
    assert series["active_executors"].tolist() == [1, 1, 2, 1]
    assert series["position_realized_pnl"].tolist() == [0.0] * 4
    assert series["position_unrealized_pnl"].tolist() == [0.0] * 4


def test_pnl_before_the_window_is_carried_in() -> None:
    recs = records(
        record(pnl=7.0, filled=70.0, close_type=CloseType.TIME_LIMIT, created_row=0, close_row=1)
    )
    series = pnl_timeseries(recs, BAR_TS, start_row=3)
    assert series["total_pnl"].tolist() == [7.0, 7.0]
    assert series["active_executors"].tolist() == [0, 0]


def test_no_records() -> None:
    series = pnl_timeseries(np.zeros(0, dtype=EXECUTOR_DTYPE), BAR_TS, start_row=0)
    assert series["total_pnl"].tolist() == [0.0] * 5
    assert series["active_executors"].tolist() == [0] * 5


def test_executor_created_and_closed_on_the_last_bar_is_not_negative() -> None:
    recs = records(record(close_type=CloseType.TIME_LIMIT, created_row=4, close_row=4))
    series = pnl_timeseries(recs, BAR_TS, start_row=0)
    assert series["active_executors"].tolist() == [0, 0, 0, 0, 0]
