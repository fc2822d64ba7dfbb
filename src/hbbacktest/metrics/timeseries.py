"""The per-bar PnL curve, as Hummingbot's engine records it."""

from __future__ import annotations

import numpy as np

from hbbacktest.core.enums import CloseType
from hbbacktest.metrics.holds import HoldCurves, executor_booked_pnl


def _booked_row(records: np.ndarray) -> np.ndarray:
    # Upstream books a natural close on its close bar, but an early stop after that bar's
    # snapshot was taken, so it shows one bar later.
    early = records["close_type"] == CloseType.EARLY_STOP
    return records["close_row"] + early.astype(np.int64)


def pnl_timeseries(
    records: np.ndarray, bar_ts: np.ndarray, start_row: int, holds: HoldCurves | None = None
) -> dict[str, np.ndarray]:
    """Per-bar columns from ``start_row`` on, like upstream's ``pnl_timeseries`` entries.

    Columns: ``timestamp``; ``executor_realized_pnl`` (cumulative net PnL of executors closed so
    far; for those handed to a position hold, their fees and completed round trips); ``position_realized_pnl`` and
    ``position_unrealized_pnl`` (the position hold, netted and marked at each close);
    ``total_pnl`` (their sum); ``active_executors``; ``cumulative_volume``. Open executors'
    unrealised PnL is not in ``total_pnl``, as upstream.
    """
    n = bar_ts.shape[0]
    booked = np.minimum(_booked_row(records), n)
    pnl = np.bincount(booked, weights=executor_booked_pnl(records), minlength=n + 1)[:n]
    volume = np.bincount(booked, weights=records["filled_amount_quote"], minlength=n + 1)[:n]
    active = np.bincount(records["created_row"] + 1, minlength=n + 1)[:n].astype(np.int64)
    # An executor created and closed on the same bar is never active at a bar's snapshot.
    ends = np.minimum(np.maximum(booked, records["created_row"] + 1), n)
    active -= np.bincount(ends, minlength=n + 1)[:n]
    realized = np.cumsum(pnl)[start_row:]
    if holds is None:
        position_realized = np.zeros_like(realized)
        position_unrealized = np.zeros_like(realized)
    else:
        position_realized = holds.realized[start_row:]
        position_unrealized = holds.unrealized[start_row:]
    return {
        "timestamp": bar_ts[start_row:],
        "executor_realized_pnl": realized,
        "position_realized_pnl": position_realized,
        "position_unrealized_pnl": position_unrealized,
        "total_pnl": realized + position_realized + position_unrealized,
        "active_executors": np.cumsum(active)[start_row:],
        "cumulative_volume": np.cumsum(volume)[start_row:],
    }
