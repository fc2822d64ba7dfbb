"""Position holds: netting (Hummingbot's BacktestPositionHold), curves, and their place in results."""

from __future__ import annotations

import numpy as np
import pytest

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.positions import PositionBook
from hbbacktest.metrics.holds import executor_booked_pnl, hold_curves
from hbbacktest.metrics.summary import summarize_results
from hbbacktest.metrics.timeseries import pnl_timeseries

from .records import record, records


def test_adding_moves_the_average_and_reducing_realizes() -> None:
    book = PositionBook()
    book.add(True, 1.0, 100.0)
    book.add(True, 1.0, 110.0)
    assert book.net_base == 2.0
    assert book.avg_price == pytest.approx(105.0)
    book.add(False, 0.5, 120.0)  # sells half a unit 15 above the average
    assert book.realized_pnl_quote == pytest.approx(7.5)
    assert book.net_base == pytest.approx(1.5)
    assert book.avg_price == pytest.approx(105.0)
    assert book.unrealized(100.0) == pytest.approx(-7.5)


def test_an_overshooting_sell_flips_to_short_at_its_price() -> None:
    book = PositionBook()
    book.add(True, 1.0, 100.0)
    book.add(False, 3.0, 90.0)  # closes the long at -10, opens 2 short at 90
    assert book.realized_pnl_quote == pytest.approx(-10.0)
    assert book.net_base == pytest.approx(-2.0)
    assert book.avg_price == 90.0
    assert book.unrealized(80.0) == pytest.approx(20.0)
    book.add(True, 2.0, 85.0)
    assert book.net_base == 0.0 and book.avg_price == 0.0
    assert book.realized_pnl_quote == pytest.approx(0.0)
    summary = book.summary(85.0, "binance", "BTC-USDT")
    assert summary["amount"] == 0.0 and summary["side"] == "BUY"


def _held(side: TradeType, base: float, price: float, row: int, fees: float) -> dict:
    rec = record(
        side=side, pnl=-fees, filled=base * price, fees=fees,
        close_type=CloseType.POSITION_HOLD, created_row=row, close_row=row, fill_row=row,
        entry_price=price, amount_base=base,
    )  # fmt: skip
    rec.update(hold_base=base, hold_price=price, exit_price=np.nan, kind=3)
    return rec


def test_hold_fees_count_in_net_pnl_and_the_hold_is_netted() -> None:
    """Upstream leaves the held executors' fees out of net_pnl_quote (defect 2); we do not."""
    close = np.array([100.0, 100.0, 110.0, 120.0, 120.0])
    recs = records(
        _held(TradeType.BUY, 2.0, 100.0, 0, fees=0.12),
        record(
            pnl=5.0,
            filled=200.0,
            fees=0.2,
            close_type=CloseType.TAKE_PROFIT,
            fill_row=1,
            close_row=2,
        ),
        _held(TradeType.SELL, 1.0, 120.0, 3, fees=0.072),
    )
    holds = hold_curves(recs, close)
    assert holds.hold.realized_pnl_quote == pytest.approx(20.0)  # sold 1 at 120 vs 100
    assert holds.hold.net_base == pytest.approx(1.0)
    np.testing.assert_allclose(holds.realized, [0, 0, 0, 20, 20])
    np.testing.assert_allclose(holds.unrealized, [0, 0, 20, 20, 20])
    series = pnl_timeseries(recs, np.arange(5) * 60, 0, holds)
    summary = summarize_results(recs, 1000.0, series["total_pnl"], holds, float(close[-1]))
    assert summary["net_pnl_quote"] == pytest.approx(5.0 + 20.0 - 0.12 - 0.072)
    assert summary["position_realized_pnl_quote"] == pytest.approx(20.0)
    assert summary["unrealized_pnl_quote"] == pytest.approx(20.0)
    assert summary["total_positions"] == 1  # held executors are not positions of their own
    assert summary["close_types"] == {"POSITION_HOLD": 2, "TAKE_PROFIT": 1}
    assert summary["total_fees_quote"] == pytest.approx(0.392)
    assert series["total_pnl"][-1] == pytest.approx(summary["net_pnl_quote"] + 20.0)


def test_a_grid_hold_keeps_its_round_trips() -> None:
    """A grid ending in a hold realized its round trips itself; only the held mark moves."""
    rec = record(pnl=7.0, filled=300.0, fees=0.3, close_type=CloseType.POSITION_HOLD,
                 fill_row=0, close_row=2)  # fmt: skip
    rec.update(hold_base=1.0, hold_price=100.0, exit_price=97.0, kind=2)
    # net 7 = round trips 10 - mark (97 - 100) * 1
    assert executor_booked_pnl(records(rec))[0] == pytest.approx(10.0)
