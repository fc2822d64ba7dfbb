"""``summarize_results``: Hummingbot's result keys, as pure functions over executor columns.

Every value is a finite number (or a dict of counts). Degenerate cases, defined once here:

* no executors → every key 0 and ``close_types`` ``{}``;
* no executor with a position → accuracies 0, ``profit_factor`` 1 (upstream's value when there
  are no losses);
* a flat or single-point PnL curve → ``sharpe_ratio`` 0, drawdowns 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.metrics.holds import HoldCurves, executor_booked_pnl, hold_mask


def empty_summary() -> dict[str, Any]:
    """The summary of a run with no executors."""
    return {
        "net_pnl": 0.0,
        "net_pnl_quote": 0.0,
        "total_executors": 0,
        "total_executors_with_position": 0,
        "total_volume": 0.0,
        "total_long": 0,
        "total_short": 0,
        "close_types": {},
        "accuracy_long": 0.0,
        "accuracy_short": 0.0,
        "total_positions": 0,
        "accuracy": 0.0,
        "max_drawdown_usd": 0.0,
        "max_drawdown_pct": 0.0,
        "sharpe_ratio": 0.0,
        "profit_factor": 0.0,
        "win_signals": 0,
        "loss_signals": 0,
        "unrealized_pnl_quote": 0.0,
        "position_realized_pnl_quote": 0.0,
        "total_fees_quote": 0.0,
    }


def _ratio(numerator: float, denominator: float, default: float = 0.0) -> float:
    # A denominator so small that the ratio overflows is no denominator at all.
    if denominator > 0:
        ratio = numerator / denominator
        if np.isfinite(ratio):
            return float(ratio)
    return default


def drawdown_and_sharpe(
    total_pnl: np.ndarray, total_amount_quote: float
) -> tuple[float, float, float]:
    """Max drawdown (quote, negative), max drawdown / capital, and Hummingbot's Sharpe ratio.

    Hummingbot's ``sharpe_ratio`` is ``mean / std`` (sample std) of the cumulative PnL curve
    divided by ``total_amount_quote`` — a ratio of the curve's level to its spread, not of
    per-period returns; kept as is so numbers compare with Hummingbot's. 0 when undefined.
    """
    if total_pnl.shape[0] < 2:
        return 0.0, 0.0, 0.0
    peak = np.maximum.accumulate(total_pnl)
    max_drawdown = float(np.min(total_pnl - peak))
    returns = total_pnl / total_amount_quote
    std = float(np.std(returns, ddof=1))
    sharpe = float(np.mean(returns) / std) if std > 0 and np.isfinite(std) else 0.0
    return max_drawdown, max_drawdown / total_amount_quote, sharpe


def summarize_results(
    records: np.ndarray,
    total_amount_quote: float,
    total_pnl: np.ndarray,
    holds: HoldCurves | None = None,
    final_price: float = float("nan"),
) -> dict[str, Any]:
    """Hummingbot's ``summarize_results`` keys for a run.

    Args:
        records: executor records (``engine.records.EXECUTOR_DTYPE``).
        total_amount_quote: the controller's capital (> 0), the base of ``net_pnl`` and drawdown %.
        total_pnl: the run's per-bar ``total_pnl`` curve.
        holds: the run's position hold, when executors ended in ``POSITION_HOLD``.
        final_price: the last close, at which the hold's remainder is marked.

    Returns:
        A dict of finite numbers; "with position" means non-zero net PnL, as upstream.
        Executors handed to a position hold count in ``total_executors``, ``close_types`` and
        ``total_fees_quote`` and, with what they realized themselves (fees, a grid's round
        trips: upstream leaves these out), in ``net_pnl_quote``; the hold adds its netted,
        realized PnL to ``net_pnl_quote`` (as upstream) and its marked remainder to
        ``unrealized_pnl_quote``.

        ``total_volume`` is, as upstream's, the ``filled_amount_quote`` of the executors that
        count as positions: not handed to a position hold, and with non-zero net PnL. Upstream
        leaves out on purpose the fills handed to a hold (rebalance orders, a DCA or grid
        executor ending in ``POSITION_HOLD``: "their PnL is tracked in position holds") and,
        by its "with position" rule, a fill that closed at exactly zero PnL; kept for parity.
        The volume of every fill is the last value of ``pnl_timeseries``'s
        ``cumulative_volume`` (upstream's too).
    """
    if records.shape[0] == 0:
        return empty_summary()
    held = hold_mask(records)
    pnl = np.where(held, 0.0, records["net_pnl_quote"])
    side = records["side"]
    position_realized = holds.hold.realized_pnl_quote if holds is not None else 0.0
    unrealized = holds.hold.unrealized(final_price) if holds is not None else 0.0
    held_own = float(executor_booked_pnl(records)[held].sum())
    net_pnl_quote = float(pnl.sum()) + position_realized + held_own
    with_position = pnl != 0
    longs = with_position & (side == TradeType.BUY)
    shorts = with_position & (side == TradeType.SELL)
    wins = with_position & (pnl > 0)
    losses = with_position & (pnl < 0)
    total_positions = int(with_position.sum())
    codes, counts = np.unique(records["close_type"], return_counts=True)
    close_types = {
        CloseType(int(code)).name: int(count) for code, count in zip(codes, counts, strict=True)
    }
    total_won = float(pnl[wins].sum())
    total_lost = float(-pnl[losses].sum())
    max_drawdown, max_drawdown_pct, sharpe = drawdown_and_sharpe(total_pnl, total_amount_quote)
    return {
        "net_pnl": net_pnl_quote / total_amount_quote,
        "net_pnl_quote": net_pnl_quote,
        "total_executors": int(records.shape[0]),
        "total_executors_with_position": total_positions,
        "total_volume": float(records["filled_amount_quote"][with_position].sum()),
        "total_long": int(longs.sum()),
        "total_short": int(shorts.sum()),
        "close_types": dict(sorted(close_types.items())),
        "accuracy_long": _ratio(float((longs & wins).sum()), float(longs.sum())),
        "accuracy_short": _ratio(float((shorts & wins).sum()), float(shorts.sum())),
        "total_positions": total_positions,
        "accuracy": _ratio(float(wins.sum()), float(total_positions)),
        "max_drawdown_usd": max_drawdown,
        "max_drawdown_pct": max_drawdown_pct,
        "sharpe_ratio": sharpe,
        "profit_factor": _ratio(total_won, total_lost, default=1.0),
        "win_signals": int(wins.sum()),
        "loss_signals": int(losses.sum()),
        "unrealized_pnl_quote": float(unrealized),
        "position_realized_pnl_quote": float(position_realized),
        "total_fees_quote": float(records["cum_fees_quote"].sum()),
    }
