"""Build executor record arrays for metrics tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.records import EXECUTOR_DTYPE


def record(
    side: TradeType = TradeType.BUY,
    pnl: float = 0.0,
    filled: float = 0.0,
    fees: float = 0.0,
    close_type: CloseType = CloseType.EARLY_STOP,
    created_row: int = 0,
    close_row: int = 1,
    fill_row: int = -1,
    level: int = 0,
    entry_price: float = 100.0,
    amount_base: float = 1.0,
) -> dict[str, Any]:
    filled_at = fill_row >= 0
    return {
        "level": level,
        "side": int(side),
        "created_row": created_row,
        "fill_row": fill_row,
        "close_row": close_row,
        "close_type": int(close_type),
        "entry_price": entry_price,
        "amount_base": amount_base,
        "fill_price": entry_price if filled_at else np.nan,
        "exit_price": entry_price * (1 + pnl / filled) if filled_at and filled else np.nan,
        "net_pnl_pct": pnl / filled if filled else 0.0,
        "net_pnl_quote": pnl,
        "cum_fees_quote": fees,
        "filled_amount_quote": filled,
    }


def records(*rows: dict[str, Any]) -> np.ndarray:
    out = np.zeros(len(rows), dtype=EXECUTOR_DTYPE)
    for i, row in enumerate(rows):
        for name, value in row.items():
            out[name][i] = value
    return out
