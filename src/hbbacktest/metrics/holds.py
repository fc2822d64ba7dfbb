"""Position holds: executors closed with ``POSITION_HOLD`` net into one position per market.

As Hummingbot's ``BacktestPositionHold``: each held fill (``hold_base`` at ``hold_price``) adds to
or reduces a signed net position; reducing realizes ``(price − average) × amount`` (long) or the
mirror (short), flipping sides when it overshoots; adding moves the average entry price. The
open remainder is marked at a price (unrealized). Fees are not part of a hold's PnL; they stay
on the executors that paid them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hbbacktest.core.enums import CloseType, TradeType


@dataclass
class PositionHold:
    """A netted position (one per run: a controller trades one market)."""

    net_base: float = 0.0
    avg_price: float = 0.0
    realized_pnl_quote: float = 0.0
    cum_fees_quote: float = 0.0
    volume_traded_quote: float = 0.0
    buy_amount_base: float = 0.0
    sell_amount_base: float = 0.0

    def add(self, is_buy: bool, base: float, price: float, fees: float = 0.0) -> None:
        """Net one fill into the position."""
        self.cum_fees_quote += fees
        if not base > 0 or not price > 0:
            return
        self.volume_traded_quote += base * price
        if is_buy:
            self.buy_amount_base += base
        else:
            self.sell_amount_base += base
        sign = 1.0 if is_buy else -1.0
        held = abs(self.net_base)
        if held > 0 and (self.net_base > 0) != is_buy:
            matched = min(base, held)
            direction = 1.0 if self.net_base > 0 else -1.0
            self.realized_pnl_quote += direction * (price - self.avg_price) * matched
            excess = base - matched
            if excess > 0:
                self.net_base = sign * excess
                self.avg_price = price
            elif matched >= held:
                self.net_base = 0.0
                self.avg_price = 0.0
            else:
                self.net_base -= direction * matched
            return
        self.avg_price = (self.avg_price * held + price * base) / (held + base)
        self.net_base = sign * (held + base)

    def unrealized(self, price: float) -> float:
        """PnL of the open remainder marked at ``price``."""
        if self.net_base == 0 or not np.isfinite(price):
            return 0.0
        return (price - self.avg_price) * self.net_base

    def summary(self, price: float, connector_name: str, trading_pair: str) -> dict[str, object]:
        """Hummingbot's ``PositionSummary`` fields, marked at ``price``."""
        return {
            "connector_name": connector_name,
            "trading_pair": trading_pair,
            "side": (TradeType.BUY if self.net_base >= 0 else TradeType.SELL).name,
            "amount": abs(self.net_base),
            "breakeven_price": self.avg_price,
            "unrealized_pnl_quote": self.unrealized(price),
            "realized_pnl_quote": self.realized_pnl_quote,
            "cum_fees_quote": self.cum_fees_quote,
            "volume_traded_quote": self.volume_traded_quote,
        }


@dataclass(frozen=True)
class HoldCurves:
    """The hold over the bars: per-bar cumulative realized and unrealized PnL, and the end state."""

    realized: np.ndarray
    unrealized: np.ndarray
    net_base: np.ndarray
    hold: PositionHold
    n_executors: int


def hold_mask(records: np.ndarray) -> np.ndarray:
    """Records that ended in a position hold."""
    return np.asarray(records["close_type"] == CloseType.POSITION_HOLD)


def hold_curves(records: np.ndarray, close: np.ndarray) -> HoldCurves:
    """Net every held fill, in the order of the bars they closed on, and mark at each close.

    A hold fill counts from its close bar on (the bar the executor handed it over).
    """
    n = close.shape[0]
    mask = hold_mask(records)
    held = records[mask]
    order = np.argsort(held["close_row"], kind="stable")
    hold = PositionHold()
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
