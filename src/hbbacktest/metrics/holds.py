"""Position holds: executors closed with ``POSITION_HOLD`` net into one position per market.

As Hummingbot's ``BacktestPositionBook``: each held fill (``hold_base`` at ``hold_price``) adds to
or reduces a signed net position; reducing realizes ``(price − average) × amount`` (long) or the
mirror (short), flipping sides when it overshoots; adding moves the average entry price. The
open remainder is marked at a price (unrealized). Fees are not part of a hold's PnL; they stay
on the executors that paid them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.positions import PositionBook


@dataclass(frozen=True)
class HoldCurves:
    """The hold over the bars: per-bar cumulative realized and unrealized PnL, and the end state."""

    realized: np.ndarray
    unrealized: np.ndarray
    net_base: np.ndarray
    hold: PositionBook
    n_executors: int


def hold_mask(records: np.ndarray) -> np.ndarray:
    """Records that ended in a position hold."""
    return np.asarray(records["close_type"] == CloseType.POSITION_HOLD)


def executor_booked_pnl(records: np.ndarray) -> np.ndarray:
    """PnL each executor realizes itself; for one handed to a hold, without the held part.

    An executor that ends in ``POSITION_HOLD`` reports in ``net_pnl_quote`` its round trips and
    fees plus the held inventory marked at its ``exit_price``; the held inventory's PnL belongs
    to the hold (netted later), so that mark is taken out: ``net − side × (exit − hold_price) ×
    hold_base``. For a DCA or order executor this leaves its fees; for a grid, its completed
    round trips and fees.
    """
    held = hold_mask(records)
    sign = np.where(records["side"] == TradeType.BUY, 1.0, -1.0)
    mark = sign * (records["exit_price"] - records["hold_price"]) * records["hold_base"]
    mark = np.where(np.isfinite(mark), mark, 0.0)
    return np.where(held, records["net_pnl_quote"] - mark, records["net_pnl_quote"])


def hold_curves(records: np.ndarray, close: np.ndarray) -> HoldCurves:
    """Net every held fill, in the order of the bars they closed on, and mark at each close.

    A hold fill counts from its close bar on (the bar the executor handed it over).
    """
    n = close.shape[0]
    mask = hold_mask(records)
    held = records[mask]
    order = np.argsort(held["close_row"], kind="stable")
    hold = PositionBook()
    realized = np.zeros(n)
    unrealized = np.zeros(n)
    net = np.zeros(n)
    rows = held["close_row"][order].tolist()
    for position, index in enumerate(order.tolist()):
        rec = held[index]
        hold.add(
            bool(rec["side"] == TradeType.BUY),
            float(rec["hold_base"]),
            float(rec["hold_price"]),
            float(rec["cum_fees_quote"]),
        )
        row = int(rows[position])
        end = int(rows[position + 1]) if position + 1 < len(rows) else n
        if end <= row:
            continue
        realized[row:end] = hold.realized_pnl_quote
        net[row:end] = hold.net_base
        unrealized[row:end] = (close[row:end] - hold.avg_price) * hold.net_base
    return HoldCurves(realized, unrealized, net, hold, int(mask.sum()))
