"""The position hold: fills handed over by executors (``POSITION_HOLD``), netted per market."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hbbacktest.core.enums import TradeType


@dataclass
class PositionBook:
    """A netted position (one per run: a controller trades one market).

    As Hummingbot's ``BacktestPositionHold``: reducing realizes ``(price − average) × amount``
    (long) or the mirror (short) and flips sides when it overshoots; adding moves the average.
    Fees are tallied but are not part of the hold's PnL.
    """

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

    @property
    def empty(self) -> bool:
        """True until a fill was netted in."""
        return self.volume_traded_quote == 0.0 and self.cum_fees_quote == 0.0

    def unrealized(self, price: float) -> float:
        """PnL of the open remainder marked at ``price``."""
        if self.net_base == 0 or not np.isfinite(price):
            return 0.0
        return (price - self.avg_price) * self.net_base

    def summary(
        self, price: float, connector_name: str = "", trading_pair: str = ""
    ) -> dict[str, Any]:
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
