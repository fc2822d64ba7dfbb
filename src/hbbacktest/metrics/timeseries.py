"""The per-bar PnL curve, as Hummingbot's engine records it."""

from __future__ import annotations

import numpy as np

from hbbacktest.core.enums import CloseType


def _booked_row(records: np.ndarray) -> np.ndarray:
    # Upstream books a natural close on its close bar, but an early stop after that bar's
    # snapshot was taken, so it shows one bar later.
    early = records["close_type"] == CloseType.EARLY_STOP
    return records["close_row"] + early.astype(np.int64)


def pnl_timeseries(
    records: np.ndarray, bar_ts: np.ndarray, start_row: int
) -> dict[str, np.ndarray]:
    """Per-bar columns from ``start_row`` on, like upstream's ``pnl_timeseries`` entries.

    Columns: ``timestamp``; ``executor_realized_pnl`` (cumulative net PnL of executors closed so
    far); ``position_realized_pnl`` and ``position_unrealized_pnl`` (position holds; 0 until
    position holds are simulated); ``total_pnl``; ``active_executors``; ``cumulative_volume``.
    Open executors' unrealised PnL is not in ``total_pnl``, as upstream.
    """
    n = bar_ts.shape[0]
    booked = np.minimum(_booked_row(records), n)
    pnl = np.bincount(booked, weights=records["net_pnl_quote"], minlength=n + 1)[:n]
    volume = np.bincount(booked, weights=records["filled_amount_quote"], minlength=n + 1)[:n]
    active = np.bincount(records["created_row"] + 1, minlength=n + 1)[:n].astype(np.int64)
    # An executor created and closed on the same bar is never active at a bar's snapshot.
    ends = np.minimum(np.maximum(booked, records["created_row"] + 1), n)
    active -= np.bincount(ends, minlength=n + 1)[:n]
    realized = np.cumsum(pnl)[start_row:]
    zeros = np.zeros_like(realized)
    return {
        "timestamp": bar_ts[start_row:],
        "executor_realized_pnl": realized,
        "position_realized_pnl": zeros,
        "position_unrealized_pnl": zeros,
        "total_pnl": realized.copy(),
        "active_executors": np.cumsum(active)[start_row:],
        "cumulative_volume": np.cumsum(volume)[start_row:],
    }
