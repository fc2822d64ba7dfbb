"""The report of one backtest, and the comparison of several: one self-contained HTML file each.

A run report (:func:`run_report`) shows, top to bottom:

* **metrics**: net PnL (quote and % of ``total_amount_quote``), max drawdown, Sharpe, profit
  factor, accuracy, executors, volume, fees, the largest inventory, in the units a trader reads;
* **warnings** of the run, and notes of the report itself (aggregation, missing candles);
* **the main chart** (:func:`main_figure`), four panels on one time axis:
  price (candlesticks, the controller's price-like features such as ``reference_price``, its
  quote bands when they can be derived, and one segment per executor from entry to exit),
  cumulative PnL (``pnl_timeseries``), drawdown, and inventory (:func:`inventory_curve`);
* the controller's other features (``processed_data``), one panel each;
* a table by close type and a sortable, filterable table of executors.

Data preparation (``executor_columns``, ``executor_segments``, ``aggregate_candles``,
``downsample``, ``inventory_curve``, ``pnl_curves``, ``quote_bands``) is pure NumPy and kept
apart from drawing, so tests check the numbers. Large runs stay light: candles are resampled to
at most :data:`MAX_CANDLES` bars (open of the first, highest high, lowest low, close of the last,
summed volume), lines to the same buckets, all executors are drawn as a handful of WebGL traces
(segments separated by gaps) up to :data:`MAX_SEGMENTS`, and the table lists at most
:data:`MAX_TABLE_ROWS` executors. Times are UTC epoch seconds in, epoch milliseconds on the
charts' date axes.

The report reads plain data: a result document as ``hbbacktest run --output`` writes it (a
mapping) and candles as columns; loading them is the service's job
(:mod:`hbbacktest.service.report`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from hbbacktest.report.html import (
    escape,
    figure_block,
    metric_tiles,
    page,
    table_block,
)

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "MAX_CANDLES",
    "MAX_SEGMENTS",
    "MAX_TABLE_ROWS",
    "ExecutorSegments",
    "aggregate_candles",
    "compare_report",
    "downsample",
    "equity_figure",
    "executor_columns",
    "executor_segments",
    "inventory_curve",
    "main_figure",
    "pnl_curves",
    "quote_bands",
    "run_report",
]

MAX_CANDLES = 5000
"""Candles drawn at most; longer series are resampled to a coarser interval."""
MAX_SEGMENTS = 60_000
"""Executor segments drawn at most (filled executors first, then unfilled quotes, thinned)."""
MAX_TABLE_ROWS = 2000
"""Executors listed in the table at most (the largest |PnL| ones, in creation order)."""
GL_MIN_POINTS = 8000
"""Traces with more points than this are drawn with WebGL (``scattergl``), smaller ones as SVG."""
UNFILLED_VISIBLE_MAX = 2000
"""More unfilled quotes than this start hidden (a click on the legend shows them)."""

# Candle-like bucket sizes (seconds) the display resamples to, smallest first.
_BUCKETS_S = (
    60, 180, 300, 900, 1800, 3600, 7200, 14400, 21600, 43200, 86400, 259200, 604800,
)  # fmt: skip
_GOOD = "#1a7f37"
_BAD = "#cf222e"
_FLAT = "#8c959f"
_UNFILLED = "#9a6700"
_PALETTE = (
    "#0969da", "#cf222e", "#1a7f37", "#8250df", "#bc4c00", "#1b7c83", "#bf3989", "#6e7781",
)  # fmt: skip
_CLOSE_SYMBOLS = {
    "TAKE_PROFIT": "circle",
    "STOP_LOSS": "x",
    "TIME_LIMIT": "square",
    "TRAILING_STOP": "diamond",
    "EARLY_STOP": "triangle-left",
    "POSITION_HOLD": "star",
    "EXPIRED": "cross",
}
_PERCENT_KEYS = frozenset(
    {"net_pnl", "accuracy", "accuracy_long", "accuracy_short", "max_drawdown_pct"}
)
_LEVEL_RE = re.compile(r"^(buy|sell)_(\d+)$")
_SIDES = {"BUY": 1, "SELL": -1, "1": 1, "2": -1}


# --- data preparation ---------------------------------------------------------------------------


def _floats(values: Any) -> np.ndarray:
    """A float array from a list that may hold ``None`` (→ NaN)."""
    if values is None:
        return np.zeros(0)
    try:
        out = np.asarray(values, dtype=np.float64).reshape(-1)
        if out.shape[0] == len(values):
            return out
        raise ValueError("not a flat list")
    except (TypeError, ValueError):
        out = np.full(len(values), np.nan)
        for i, value in enumerate(values):
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[i] = float(value)
        return out


def executor_columns(executors: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """The executors of a result document as columns, one row per executor, in their order.

    Columns: ``created_s``, ``fill_s`` (NaN: never filled), ``close_s``, ``order_price`` (the
    order's price), ``fill_price``, ``exit_price``, ``amount_base``, ``held_base``,
    ``pnl_quote``, ``pnl_pct`` (a fraction), ``fees_quote``, ``volume_quote``, ``side`` (+1 buy,
    −1 sell, 0 unknown), and the object columns ``id``, ``level_id``, ``close_type``, ``type``.
    Missing or ``null`` numbers are NaN. The flat keys of the native document are read
    first; ``config``'s (``entry_price``/``price``, ``amount``, ``side``, ``level_id``,
    ``type``) fill in what they lack.
    """
    configs: list[Mapping[str, Any]] = [
        config if isinstance(config := ex.get("config"), Mapping) else {} for ex in executors
    ]

    def flat(key: str, *fallbacks: str) -> list[Any]:
        values = [ex.get(key) for ex in executors]
        for fallback in fallbacks:
            values = [
                cfg.get(fallback) if value is None else value
                for value, cfg in zip(values, configs, strict=True)
            ]
        return values

    out: dict[str, np.ndarray] = {
        "created_s": _floats(flat("timestamp")),
        "fill_s": _floats(flat("fill_timestamp")),
        "close_s": _floats(flat("close_timestamp")),
        "order_price": _floats(flat("entry_price", "entry_price", "price")),
        "fill_price": _floats(flat("fill_price")),
        "exit_price": _floats(flat("exit_price")),
        "amount_base": _floats(flat("amount", "amount")),
        "held_base": _floats(flat("held_amount")),
        "pnl_quote": _floats(flat("net_pnl_quote")),
        "pnl_pct": _floats(flat("net_pnl_pct")),
        "fees_quote": _floats(flat("cum_fees_quote")),
        "volume_quote": _floats(flat("filled_amount_quote")),
    }
    out["side"] = np.array([_SIDES.get(str(s), 0) for s in flat("side", "side")], dtype=np.float64)
    out["id"] = np.array([str(v) for v in flat("id")], dtype=object)
    for name, values in (
        ("level_id", flat("level_id", "level_id")),
        ("close_type", flat("close_type")),
        ("type", flat("type", "type")),
    ):
        out[name] = np.array(["" if v is None else str(v) for v in values], dtype=object)
    return out


@dataclass(frozen=True)
class ExecutorSegments:
    """One segment per executor: from its entry to its exit.

    A filled executor starts at its fill (``fill_s``, ``fill_price``); one never filled starts
    at its creation at its order price (its quote, resting until it was cancelled). Each ends
    at its close time at its exit price (never filled: the order price again, a flat line).

    Attributes:
        index: the executor's position in ``executors``.
        start_s, start_price, end_s, end_price: the segment's ends (epoch seconds, price).
        filled: whether the executor opened a position.
        group: ``"unfilled"`` or ``"<close type>|profit"`` / ``"|loss"`` / ``"|flat"``.
        pnl_quote: its net PnL (quote).
        side: +1 buy, −1 sell, 0 unknown.
    """

    index: np.ndarray
    start_s: np.ndarray
    start_price: np.ndarray
    end_s: np.ndarray
    end_price: np.ndarray
    filled: np.ndarray
    group: np.ndarray
    pnl_quote: np.ndarray
    side: np.ndarray

    def __len__(self) -> int:
        return int(self.index.shape[0])

    def take(self, rows: np.ndarray) -> ExecutorSegments:
        """The segments at ``rows``."""
        return ExecutorSegments(
            index=self.index[rows],
            start_s=self.start_s[rows],
            start_price=self.start_price[rows],
            end_s=self.end_s[rows],
            end_price=self.end_price[rows],
            filled=self.filled[rows],
            group=self.group[rows],
            pnl_quote=self.pnl_quote[rows],
            side=self.side[rows],
        )


def executor_segments(columns: Mapping[str, np.ndarray]) -> ExecutorSegments:
    """The entry→exit segment of every executor (see :class:`ExecutorSegments`).

    Args:
        columns: :func:`executor_columns`' output.

    Example:
        >>> cols = executor_columns([{"timestamp": 0, "fill_timestamp": 60, "fill_price": 10.0,
        ...     "close_timestamp": 120, "exit_price": 11.0, "net_pnl_quote": 1.0,
        ...     "close_type": "TAKE_PROFIT", "side": "BUY", "entry_price": 10.0}])
        >>> seg = executor_segments(cols)
        >>> float(seg.start_s[0]), float(seg.end_price[0]), str(seg.group[0])
        (60.0, 11.0, 'TAKE_PROFIT|profit')
    """
    n = int(columns["created_s"].shape[0])
    filled = np.isfinite(columns["fill_s"]) & np.isfinite(columns["fill_price"])
    start_s = np.where(filled, columns["fill_s"], columns["created_s"])
    start_price = np.where(filled, columns["fill_price"], columns["order_price"])
    end_s = np.where(np.isfinite(columns["close_s"]), columns["close_s"], start_s)
    end_price = np.where(np.isfinite(columns["exit_price"]), columns["exit_price"], start_price)
    pnl = columns["pnl_quote"]
    sign = np.where(pnl > 0, "profit", np.where(pnl < 0, "loss", "flat"))
    close = columns["close_type"].astype(str)
    group = np.where(filled, np.char.add(np.char.add(close, "|"), sign.astype(str)), "unfilled")
    return ExecutorSegments(
        index=np.arange(n),
        start_s=start_s,
        start_price=start_price,
        end_s=end_s,
        end_price=end_price,
        filled=filled,
        group=group.astype(object),
        pnl_quote=np.where(np.isfinite(pnl), pnl, 0.0),
        side=columns["side"],
    )


def limit_segments(
    segments: ExecutorSegments, max_segments: int = MAX_SEGMENTS
) -> tuple[ExecutorSegments, str | None]:
    """At most ``max_segments`` segments, with a note when some were left out.

    Every filled executor is kept (the largest |PnL| ones if they alone are too many), then
    unfilled quotes, evenly thinned.
    """
    n = len(segments)
    if n <= max_segments:
        return segments, None
    filled = np.flatnonzero(segments.filled)
    unfilled = np.flatnonzero(~segments.filled)
    if filled.shape[0] >= max_segments:
        order = np.argsort(-np.abs(segments.pnl_quote[filled]), kind="stable")
        keep = np.sort(filled[order[:max_segments]])
    else:
        room = max_segments - filled.shape[0]
        picked = unfilled[np.linspace(0, unfilled.shape[0] - 1, room).astype(np.int64)]
        keep = np.sort(np.concatenate([filled, np.unique(picked)]))
    note = (
        f"the price chart draws {keep.shape[0]:,} of {n:,} executors: every filled one"
        + (" (the largest |PnL|)" if filled.shape[0] >= max_segments else "")
        + " and an even sample of the unfilled quotes"
    )
    return segments.take(keep), note


def _interval_s(ts: np.ndarray) -> int:
    """The series' step: its smallest positive difference (60 when unknown)."""
    if ts.shape[0] < 2:
        return 60
    steps = np.diff(ts)
    steps = steps[steps > 0]
    return int(steps.min()) if steps.shape[0] else 60


def bucket_seconds(ts: np.ndarray, max_points: int = MAX_CANDLES) -> int:
    """The smallest display interval that leaves at most ``max_points`` buckets.

    The series' own interval when it already fits; else the first of 1m, 3m, 5m, 15m, 30m, 1h,
    2h, 4h, 6h, 12h, 1d, 3d, 1w (then whole weeks) that is a multiple of it and fits.
    """
    step = _interval_s(ts)
    if ts.shape[0] == 0 or _count_buckets(ts, step) <= max_points:
        return step
    candidates = [b for b in _BUCKETS_S if b > step and b % step == 0]
    for bucket in candidates:
        if _count_buckets(ts, bucket) <= max_points:
            return bucket
    span = float(ts[-1] - ts[0])
    weeks = max(1, int(np.ceil(span / 604800 / max(max_points - 1, 1))))
    bucket = 604800 * weeks
    while _count_buckets(ts, bucket) > max_points:
        bucket *= 2
    return bucket


def _count_buckets(ts: np.ndarray, bucket: int) -> int:
    ids = np.floor_divide(ts, bucket)
    return int(np.count_nonzero(np.diff(ids))) + 1 if ids.shape[0] else 0


def _bucket_bounds(ts: np.ndarray, bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last row of each bucket of a sorted time column."""
    ids = np.floor_divide(ts, bucket)
    cuts = np.flatnonzero(np.diff(ids)) + 1
    first = np.concatenate([[0], cuts]).astype(np.int64)
    last = np.concatenate([cuts - 1, [ts.shape[0] - 1]]).astype(np.int64)
    return first, last


def aggregate_candles(candles: Mapping[str, np.ndarray], bucket_s: int) -> dict[str, np.ndarray]:
    """Resample candles to ``bucket_s`` bars, keeping OHLC semantics.

    Each bar opens at the bucket's start (``floor(ts / bucket_s) × bucket_s``), with the first
    open, the highest high, the lowest low, the last close and the summed volume of the candles
    in it. Buckets without candles are left out (gaps stay gaps).

    Args:
        candles: columns ``timestamp`` (epoch s, sorted), ``open``, ``high``, ``low``,
            ``close`` and optionally ``volume``.
        bucket_s: the new interval, seconds.

    Example:
        >>> bars = aggregate_candles({"timestamp": np.array([0, 60, 120]),
        ...     "open": np.array([1.0, 2, 3]), "high": np.array([2.0, 5, 4]),
        ...     "low": np.array([0.5, 1, 2]), "close": np.array([2.0, 3, 3.5])}, 180)
        >>> [float(bars[k][0]) for k in ("open", "high", "low", "close")]
        [1.0, 5.0, 0.5, 3.5]
    """
    ts = np.asarray(candles["timestamp"], dtype=np.int64)
    if ts.shape[0] == 0:
        return {k: np.zeros(0) for k in ("timestamp", "open", "high", "low", "close", "volume")}
    first, last = _bucket_bounds(ts, bucket_s)
    volume = candles.get("volume")
    vol = np.asarray(volume, dtype=np.float64) if volume is not None else np.zeros(ts.shape[0])
    return {
        "timestamp": np.floor_divide(ts[first], bucket_s) * bucket_s,
        "open": np.asarray(candles["open"], dtype=np.float64)[first],
        "high": np.maximum.reduceat(np.asarray(candles["high"], dtype=np.float64), first),
        "low": np.minimum.reduceat(np.asarray(candles["low"], dtype=np.float64), first),
        "close": np.asarray(candles["close"], dtype=np.float64)[last],
        "volume": np.add.reduceat(vol, first),
    }


def downsample(
    ts: np.ndarray, values: np.ndarray, bucket_s: int, how: str = "last"
) -> tuple[np.ndarray, np.ndarray]:
    """One point per ``bucket_s`` bucket of a line: its last value, or its min or max.

    The point sits at the time of the last sample in the bucket, so a cumulative curve still
    ends on its final value at its final time.

    Args:
        ts: sorted epoch seconds.
        values: one value per ``ts``.
        bucket_s: bucket width, seconds.
        how: ``last`` (level curves), ``min`` (drawdown) or ``max``.
    """
    ts = np.asarray(ts)
    values = np.asarray(values, dtype=np.float64)
    if ts.shape[0] == 0 or bucket_s <= _interval_s(ts):
        return ts, values
    first, last = _bucket_bounds(ts, bucket_s)
    if how == "last":
        return ts[last], values[last]
    if how == "min":
        return ts[last], np.fmin.reduceat(values, first)
    if how == "max":
        return ts[last], np.fmax.reduceat(values, first)
    raise ValueError(f"how must be last, min or max, got {how!r}")


def pnl_curves(
    timeseries: Mapping[str, Any], total_amount_quote: float | None = None
) -> dict[str, np.ndarray]:
    """The cumulative PnL columns of ``pnl_timeseries`` and the drawdown derived from them.

    ``total_pnl`` is the curve as the engine recorded it (the one ``max_drawdown_usd`` is
    computed on): executors' realized PnL plus the position hold's realized and unrealized
    PnL. Its last value is ``results.net_pnl_quote + results.unrealized_pnl_quote``.
    ``drawdown_quote`` is ``total_pnl − running max(total_pnl)`` (≤ 0; its minimum is
    ``max_drawdown_usd``), ``drawdown_pct`` the same in % of ``total_amount_quote``.

    Returns:
        ``timestamp`` and each PnL column present (float arrays); empty when the result has no
        timeseries (``--summary-only``).
    """
    if not isinstance(timeseries, Mapping) or "timestamp" not in timeseries:
        return {}
    out = {"timestamp": _floats(timeseries["timestamp"])}
    for name in (
        "executor_realized_pnl",
        "position_realized_pnl",
        "position_unrealized_pnl",
        "total_pnl",
    ):
        column = _floats(timeseries[name]) if name in timeseries else None
        if column is not None and column.shape == out["timestamp"].shape:
            out[name] = column  # a column of another length is not this curve's: left out
    if "total_pnl" not in out:
        parts = [out[k] for k in out if k != "timestamp"]
        out["total_pnl"] = np.sum(parts, axis=0) if parts else np.zeros_like(out["timestamp"])
    total = np.where(np.isfinite(out["total_pnl"]), out["total_pnl"], 0.0)
    drawdown = total - np.maximum.accumulate(total) if total.shape[0] else total
    out["drawdown_quote"] = drawdown
    if total_amount_quote:
        out["drawdown_pct"] = drawdown / total_amount_quote * 100.0
    return out


def _executor_base(columns: Mapping[str, np.ndarray]) -> np.ndarray:
    """Base amount each filled executor holds between its fill and its close (NaN: unknown)."""
    kind = columns["type"].astype(str)
    amount = columns["amount_base"]
    base = np.where(np.char.startswith(kind, "position") | (kind == ""), amount, np.nan)
    # A DCA executor may fill only some of its levels: its filled base follows from its gross
    # PnL, net + fees = side × base × (exit − average fill), when the exit is off the fill.
    gross = columns["pnl_quote"] + np.where(
        np.isfinite(columns["fees_quote"]), columns["fees_quote"], 0
    )
    move = columns["side"] * (columns["exit_price"] - columns["fill_price"])
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = gross / move
    well = np.abs(move) > 1e-6 * np.abs(columns["fill_price"])
    usable = well & np.isfinite(derived) & (derived > 0) & ~(derived > amount * (1 + 1e-6))
    dca = np.char.startswith(kind, "dca")
    base = np.where(dca, np.where(usable, derived, amount), base)
    return base


def inventory_curve(
    columns: Mapping[str, np.ndarray], timestamps: np.ndarray
) -> dict[str, np.ndarray]:
    """The net base position held over time: what the run is long (+) or short (−).

    At each time ``t`` it is the signed sum (buy +, sell −) of

    * every filled executor open at ``t`` (filled at or before ``t``, closed after it) counting
      its filled base amount: ``amount`` for a position executor (it fills whole); for a DCA
      executor the base implied by its gross PnL (``(net + fees) / (side × (exit − average
      fill))``; its full ``amount`` when that cannot be told); grid executors' changing
      inventory inside their life is not recorded by the engine and is left out;
    * the position hold: each executor closed with ``POSITION_HOLD`` hands its ``held_amount``
      over at its close, and the hold keeps it (netted, as Hummingbot's position book).

    Order executors (rebalancing market orders) fill and close at once: they count through the
    hold. Unfilled executors hold nothing.

    Args:
        columns: :func:`executor_columns`' output.
        timestamps: sorted epoch seconds to evaluate at (the run's bars).

    Returns:
        ``timestamp``, ``executors_base`` (open executors), ``hold_base`` (the position hold)
        and ``net_base`` (their sum), float arrays.
    """
    ts = np.asarray(timestamps, dtype=np.float64)
    filled = np.isfinite(columns["fill_s"])
    side = columns["side"]
    base = _executor_base(columns)
    open_ok = filled & np.isfinite(base) & np.isfinite(columns["close_s"]) & (side != 0)
    amounts = side[open_ok] * base[open_ok]
    opened = _step_sum(columns["fill_s"][open_ok], amounts, ts)
    closed = _step_sum(columns["close_s"][open_ok], amounts, ts)
    held = columns["held_base"]
    hold_ok = (
        (columns["close_type"] == "POSITION_HOLD")
        & np.isfinite(held)
        & np.isfinite(columns["close_s"])
    )
    hold = _step_sum(columns["close_s"][hold_ok], side[hold_ok] * held[hold_ok], ts)
    executors = opened - closed
    return {
        "timestamp": ts,
        "executors_base": executors,
        "hold_base": hold,
        "net_base": executors + hold,
    }


def _step_sum(times: np.ndarray, amounts: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Σ amounts whose time is ≤ each ``at``."""
    if times.shape[0] == 0:
        return np.zeros(at.shape[0])
    order = np.argsort(times, kind="stable")
    cumulative = np.concatenate([[0.0], np.cumsum(amounts[order])])
    return cumulative[np.searchsorted(times[order], at, side="right")]


def quote_bands(
    features: Mapping[str, np.ndarray],
    config: Mapping[str, Any],
    columns: Mapping[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], str | None]:
    """Quote levels of a market-making controller: ``reference_price × (1 ∓ spread × multiplier)``.

    Derivable when the features hold ``reference_price`` (and optionally
    ``spread_multiplier``, 1 when absent) and the config lists ``buy_spreads`` and
    ``sell_spreads``. The innermost and outermost level of each side are returned, named
    ``buy_0``, ``sell_2`` … When executors are given, the bands are checked against their order
    prices (an executor of level ``buy_i`` created at ``t`` should quote
    ``reference_price[t] × (1 − buy_spreads[i] × spread_multiplier[t])``); a controller whose
    quotes do not follow the formula (one that moves its spreads itself) gets no bands and a
    note saying why.

    Returns:
        ``{level id: price per feature row}`` and a note (``None`` when all is well or the
        bands do not apply).
    """
    ref = features.get("reference_price")
    buys = _spreads(config.get("buy_spreads"))
    sells = _spreads(config.get("sell_spreads"))
    if ref is None or not (buys or sells):
        return {}, None
    mult = features.get("spread_multiplier")
    multiplier = np.asarray(mult, dtype=np.float64) if mult is not None else np.ones_like(ref)
    if columns is not None and not _bands_match(features, multiplier, buys, sells, columns):
        return {}, (
            "quote bands left out: this controller's order prices do not follow "
            "reference_price × (1 ∓ spread × spread_multiplier) with the config's spreads "
            "(it sets its own spreads); the executors' segments show where it quoted"
        )
    bands: dict[str, np.ndarray] = {}
    for name, spreads, sign in (("sell", sells, 1.0), ("buy", buys, -1.0)):
        for index in sorted({0, len(spreads) - 1}) if spreads else []:
            bands[f"{name}_{index}"] = ref * (1.0 + sign * spreads[index] * multiplier)
    return bands, None


def _spreads(value: Any) -> list[float]:
    if isinstance(value, str):
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        return []
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return []


def _bands_match(
    features: Mapping[str, np.ndarray],
    multiplier: np.ndarray,
    buys: list[float],
    sells: list[float],
    columns: Mapping[str, np.ndarray],
) -> bool:
    """Whether the executors quote where the formula says.

    True when ≥ 90 % of up to 500 sampled executors of levels ``buy_i``/``sell_i`` do, or
    when there is none to check.
    """
    ts = features.get("timestamp")
    if ts is None or ts.shape[0] == 0:
        return False
    ref = features["reference_price"]
    rows = np.flatnonzero(np.isfinite(columns["created_s"]) & np.isfinite(columns["order_price"]))
    if rows.shape[0] == 0:
        return True  # nothing to check against
    rows = rows[np.linspace(0, rows.shape[0] - 1, min(500, rows.shape[0])).astype(np.int64)]
    checked = matched = 0
    for row in rows.tolist():
        found = _LEVEL_RE.match(str(columns["level_id"][row]))
        if not found:
            continue
        spreads = buys if found.group(1) == "buy" else sells
        level = int(found.group(2))
        if level >= len(spreads):
            continue
        k = int(np.searchsorted(ts, columns["created_s"][row], side="right")) - 1
        if k < 0:
            continue
        sign = -1.0 if found.group(1) == "buy" else 1.0
        expected = ref[k] * (1.0 + sign * spreads[level] * multiplier[k])
        checked += 1
        if np.isfinite(expected) and abs(expected - columns["order_price"][row]) <= 1e-6 * abs(
            expected
        ):
            matched += 1
    return checked == 0 or matched >= 0.9 * checked


def _candle_columns(candles: Mapping[str, Any] | None) -> dict[str, np.ndarray] | None:
    """Candles as sorted float columns, or None when absent or empty.

    Raises:
        ValueError: a column is missing or the columns differ in length.
    """
    if candles is None:
        return None
    key = "timestamp" if "timestamp" in candles else "ts"
    missing = [k for k in (key, "open", "high", "low", "close") if k not in candles]
    if missing:
        raise ValueError(f"candles need the columns {', '.join(missing)}")
    out = {"timestamp": np.asarray(candles[key], dtype=np.int64)}
    for name in ("open", "high", "low", "close", "volume"):
        if name in candles:
            out[name] = np.asarray(candles[name], dtype=np.float64)
    if len({v.shape[0] for v in out.values()}) != 1:
        raise ValueError("candle columns differ in length")
    if out["timestamp"].shape[0] == 0:
        return None
    order = np.argsort(out["timestamp"], kind="stable")
    if not np.all(order[1:] > order[:-1]):
        out = {k: v[order] for k, v in out.items()}
    return out


def _feature_columns(result: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Numeric feature columns of ``processed_data.features`` (``timestamp`` first)."""
    processed = result.get("processed_data")
    features = processed.get("features") if isinstance(processed, Mapping) else None
    if not isinstance(features, Mapping) or "timestamp" not in features:
        return {}
    ts = _floats(features["timestamp"])
    out = {"timestamp": ts}
    for name, values in features.items():
        if name == "timestamp" or not isinstance(values, list | tuple | np.ndarray):
            continue
        if len(values) != ts.shape[0]:
            continue
        column = _floats(values)
        if np.isfinite(column).any():
            out[str(name)] = column
    return out


def _price_like(
    features: Mapping[str, np.ndarray], close: np.ndarray | None, close_ts: np.ndarray | None
) -> list[str]:
    """Features on the price's scale (median ratio to the close within [0.8, 1.25])."""
    names = [n for n in features if n != "timestamp"]
    if close is None or close_ts is None or close.shape[0] == 0:
        base = features.get("reference_price")
        if base is None:
            return [n for n in names if n in ("reference_price", "close", "mid_price", "price")]
        reference = base
    else:
        rows = np.clip(np.searchsorted(close_ts, features["timestamp"], side="right") - 1, 0, None)
        reference = close[rows]
    out = []
    for name in names:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = features[name] / reference
        ratio = ratio[np.isfinite(ratio)]
        if name == "reference_price" or (ratio.shape[0] and 0.8 <= float(np.median(ratio)) <= 1.25):
            out.append(name)
    return out


# --- formatting ---------------------------------------------------------------------------------


def _quote_asset(result: Mapping[str, Any]) -> str:
    pair = str(_config(result).get("trading_pair") or "")
    return pair.split("-")[-1] if "-" in pair else "quote"


def _base_asset(result: Mapping[str, Any]) -> str:
    pair = str(_config(result).get("trading_pair") or "")
    return pair.split("-")[0] if "-" in pair else "base"


def _config(result: Mapping[str, Any]) -> Mapping[str, Any]:
    request = result.get("request")
    config = request.get("config") if isinstance(request, Mapping) else None
    return config if isinstance(config, Mapping) else {}


def _number(value: float, digits: int = 2) -> str:
    if abs(value) >= 1 or value == 0:
        return f"{value:,.{digits}f}"
    return f"{value:.4g}"


def _fmt_metric(key: str, value: Any, quote: str) -> str:
    """A result value with its unit: fractions as %, quote amounts with the quote asset."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, Mapping):
            return ", ".join(f"{k} {v}" for k, v in value.items()) or "–"
        return str(value)
    if key in _PERCENT_KEYS:
        return f"{value * 100:,.2f} %"
    if key.endswith("_quote") or key in ("total_volume", "max_drawdown_usd"):
        return f"{_number(float(value))} {quote}"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.3f}" if abs(value) < 1e6 else f"{value:,.0f}"


def _tone(value: Any) -> str | None:
    if not isinstance(value, int | float) or isinstance(value, bool) or value == 0:
        return None
    return "good" if value > 0 else "bad"


def _ms(seconds: np.ndarray) -> np.ndarray:
    return np.asarray(seconds, dtype=np.float64) * 1000.0


def _utc_minutes(seconds: np.ndarray) -> list[str]:
    """``YYYY-MM-DD HH:MM`` for each epoch second ('' for NaN)."""
    out = [""] * seconds.shape[0]
    ok = np.isfinite(seconds)
    if ok.any():
        text = np.datetime_as_string(seconds[ok].astype(np.int64).astype("datetime64[s]"), "m")
        for i, value in zip(np.flatnonzero(ok).tolist(), text.tolist(), strict=True):
            out[i] = value.replace("T", " ")
    return out


def _span(result: Mapping[str, Any]) -> str:
    request = result.get("request")
    if not isinstance(request, Mapping):
        return ""
    start, end = request.get("start"), request.get("end")
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        return ""
    first, last = _utc_minutes(np.array([float(start), float(end)]))
    days = (float(end) - float(start)) / 86400
    return f"{first} → {last} UTC ({days:,.1f} days)"


# --- figures ------------------------------------------------------------------------------------


def _plotly() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError as exc:  # pragma: no cover - plotly is a dependency
        raise ImportError(
            "reports need plotly: pip install 'hbbacktest[report]' (or pip install plotly)"
        ) from exc
    return go, make_subplots


@dataclass(frozen=True)
class _Prepared:
    """Everything a run's charts draw, computed once."""

    candles: dict[str, np.ndarray] | None
    bucket_s: int
    features: dict[str, np.ndarray]
    price_features: list[str]
    bands: dict[str, np.ndarray]
    segments: ExecutorSegments
    columns: dict[str, np.ndarray]
    pnl: dict[str, np.ndarray]
    inventory: dict[str, np.ndarray]
    notes: list[str]


def _prepare(
    result: Mapping[str, Any],
    candles: Mapping[str, Any] | None,
    *,
    max_candles: int = MAX_CANDLES,
    max_segments: int = MAX_SEGMENTS,
) -> _Prepared:
    notes: list[str] = []
    bars = _candle_columns(candles)
    listed = result.get("executors")
    executors = [e for e in listed if isinstance(e, Mapping)] if isinstance(listed, list) else []
    columns = executor_columns(executors)
    features = _feature_columns(result)
    # Candle columns among the features (hummingbot-api results carry them) are the candles,
    # not features; without candles the close stays, as the price line.
    for name in ("open", "high", "low", "volume", *(("close",) if bars is not None else ())):
        features.pop(name, None)
    config = _config(result)
    capital = config.get("total_amount_quote")
    pnl = pnl_curves(
        result.get("pnl_timeseries") or {},
        float(capital) if isinstance(capital, int | float) and capital > 0 else None,
    )
    clock = (
        bars["timestamp"]
        if bars is not None
        else pnl.get("timestamp", features.get("timestamp", np.zeros(0)))
    )
    bucket = bucket_seconds(np.asarray(clock, dtype=np.float64), max_candles)
    if bars is not None:
        step = _interval_s(bars["timestamp"])
        if bucket > step:
            shown = aggregate_candles(bars, bucket)
            notes.append(
                f"{bars['timestamp'].shape[0]:,} candles of {_duration(step)} are drawn as "
                f"{shown['timestamp'].shape[0]:,} bars of {_duration(bucket)} (each bar: first "
                "open, highest high, lowest low, last close); lines show the last value of "
                "each bar, the drawdown its lowest; zoom in for the shape, the table and "
                "metrics use every bar"
            )
            bars = shown
    elif features:
        notes.append(
            "no candles were given to the report: the price panel shows the controller's "
            "reference price (or other price-like features) instead of candlesticks"
        )
    else:
        notes.append("no candles and no price features: the price panel shows only executors")
    close = bars["close"] if bars is not None else None
    close_ts = bars["timestamp"] if bars is not None else None
    price_features = _price_like(features, close, close_ts) if features else []
    bands, band_note = quote_bands(features, config, columns) if features else ({}, None)
    if band_note:
        notes.append(band_note)
    segments, cap_note = limit_segments(executor_segments(columns), max_segments)
    if cap_note:
        notes.append(cap_note)
    inv_ts = pnl.get("timestamp")
    if inv_ts is None or inv_ts.shape[0] == 0:
        inv_ts = np.asarray(clock, dtype=np.float64)
    inventory = inventory_curve(columns, inv_ts)
    if np.any(np.char.startswith(columns["type"].astype(str), "grid")):
        notes.append(
            "the inventory leaves out grid executors' position while they run (the engine "
            "records only what they hand to the position hold)"
        )
    if not executors:
        notes.append("the result lists no executors (written with --summary-only, or none ran)")
    if not pnl:
        notes.append("the result has no pnl_timeseries: the PnL and drawdown panels are empty")
    return _Prepared(
        candles=bars,
        bucket_s=bucket,
        features=features,
        price_features=price_features,
        bands=bands,
        segments=segments,
        columns=columns,
        pnl=pnl,
        inventory=inventory,
        notes=notes,
    )


def _duration(seconds: int) -> str:
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _scatter(go: Any, points: int) -> Any:
    """WebGL for a line of more than :data:`GL_MIN_POINTS` points, SVG below.

    Executors are always WebGL (tens of thousands of segments and markers); lines are at most
    :data:`MAX_CANDLES` points after resampling, which SVG draws in milliseconds, while every
    WebGL subplot adds a context that takes up to a second to set up where the GPU is
    emulated (headless or remote browsers).
    """
    return go.Scattergl if points > GL_MIN_POINTS else go.Scatter


def _line(
    go: Any,
    ts: np.ndarray,
    values: np.ndarray,
    bucket: int,
    *,
    name: str,
    color: str | None = None,
    how: str = "last",
    **kwargs: Any,
) -> Any:
    x, y = downsample(ts, values, bucket, how)
    line = {"width": kwargs.pop("width", 1.5)}
    if color:
        line["color"] = color
    if "dash" in kwargs:
        line["dash"] = kwargs.pop("dash")
    if "shape" in kwargs:
        line["shape"] = kwargs.pop("shape")
    return _scatter(go, x.shape[0])(x=_ms(x), y=y, mode="lines", name=name, line=line, **kwargs)


def _segment_traces(go: Any, seg: ExecutorSegments, quote: str) -> list[Any]:
    """One WebGL trace per group: segments separated by gaps, a marker at each exit.

    Prices and hover data are float32 (7 significant digits, half the bytes); times stay
    float64 milliseconds. Unfilled quotes, usually most executors, carry no exit marker and
    no PnL (it is 0).
    """
    traces = []
    groups = sorted(set(seg.group.tolist()), key=lambda g: (g == "unfilled", g))
    unit = escape(quote)
    for group in groups:
        rows = np.flatnonzero(seg.group == group)
        k = rows.shape[0]
        unfilled = group == "unfilled"
        x = np.full(3 * k, np.nan)
        y = np.full(3 * k, np.nan, dtype=np.float32)
        x[0::3], x[1::3] = _ms(seg.start_s[rows]), _ms(seg.end_s[rows])
        y[0::3], y[1::3] = seg.start_price[rows], seg.end_price[rows]
        # Executor number (and PnL) at each end, for the hover: numbers, base64 in the JSON.
        custom = np.full((3 * k, 1 if unfilled else 2), np.nan, dtype=np.float32)
        for offset in (0, 1):
            custom[offset::3, 0] = seg.index[rows]
            if not unfilled:
                custom[offset::3, 1] = seg.pnl_quote[rows]
        style: dict[str, Any]
        if unfilled:
            name = f"unfilled quotes ({k:,})"
            style = {
                "mode": "lines",
                "line": {"color": _UNFILLED, "width": 1},
                "opacity": 0.35,
                "visible": True if k <= UNFILLED_VISIBLE_MAX else "legendonly",
                "hovertemplate": f"executor #%{{customdata[0]}} (never filled)<br>"
                f"quote %{{y:,.6g}} {unit}<extra></extra>",
            }
        else:
            close_type, sign = group.split("|")
            color = {"profit": _GOOD, "loss": _BAD}.get(sign, _FLAT)
            name = f"{close_type} {sign} ({k:,})"
            size = np.zeros(3 * k, dtype=np.uint8)
            size[1::3] = 7
            style = {
                "mode": "lines+markers",
                "line": {"color": color, "width": 1.5},
                "marker": {
                    "color": color,
                    "size": size,
                    "symbol": _CLOSE_SYMBOLS.get(close_type, "circle"),
                },
                "opacity": 0.8,
                "hovertemplate": f"executor #%{{customdata[0]}}<br>%{{y:,.6g}} {unit}<br>"
                f"net PnL %{{customdata[1]:+,.4g}} {unit}<extra>{escape(name)}</extra>",
            }
        traces.append(
            go.Scattergl(
                x=x,
                y=y,
                name=name,
                legendgroup="executors",
                legendgrouptitle_text="executors (entry → exit)",
                customdata=custom,
                **style,
            )
        )
    filled = np.flatnonzero(seg.filled)
    for sign, label, symbol, color in (
        (1, "buy entries", "triangle-up", _GOOD),
        (-1, "sell entries", "triangle-down", _BAD),
    ):
        rows = filled[seg.side[filled] == sign]
        if rows.shape[0] == 0:
            continue
        traces.append(
            go.Scattergl(
                x=_ms(seg.start_s[rows]),
                y=seg.start_price[rows],
                mode="markers",
                name=f"{label} ({rows.shape[0]:,})",
                legendgroup="entries",
                marker={"color": color, "size": 7, "symbol": symbol, "line": {"width": 0}},
                hovertemplate="entry %{y:,.6g}<extra>" + label + "</extra>",
            )
        )
    return traces


def _main_figure(result: Mapping[str, Any], prep: _Prepared, *, title: str | None = None) -> Any:
    go, make_subplots = _plotly()
    quote, base = _quote_asset(result), _base_asset(result)
    fig = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.025,
        row_heights=[0.55, 0.17, 0.12, 0.16],
    )
    bucket = prep.bucket_s
    if prep.candles is not None:
        bars = prep.candles
        fig.add_trace(
            go.Candlestick(
                x=_ms(bars["timestamp"]),
                open=bars["open"],
                high=bars["high"],
                low=bars["low"],
                close=bars["close"],
                name="candles",
                increasing={"line": {"color": "#2da44e", "width": 1}},
                decreasing={"line": {"color": "#cf222e", "width": 1}},
                opacity=0.75,
            ),
            row=1,
            col=1,
        )
    features = prep.features
    for i, name in enumerate(prep.price_features):
        fig.add_trace(
            _line(
                go,
                features["timestamp"],
                features[name],
                bucket,
                name=escape(name),
                color=_PALETTE[(i + 4) % len(_PALETTE)] if name != "reference_price" else "#0969da",
                width=1.5 if name == "reference_price" else 1,
                legendgroup="features",
            ),
            row=1,
            col=1,
        )
    for name, values in prep.bands.items():
        fig.add_trace(
            _line(
                go,
                features["timestamp"],
                values,
                bucket,
                name=f"{escape(name)} quote",
                color="#8250df" if name.startswith("sell") else "#1b7c83",
                width=1,
                dash="dot",
                legendgroup="bands",
            ),
            row=1,
            col=1,
        )
    for trace in _segment_traces(go, prep.segments, quote):
        fig.add_trace(trace, row=1, col=1)
    pnl = prep.pnl
    if pnl:
        ts = pnl["timestamp"]
        for name, color, width in (
            ("executor_realized_pnl", "#8c959f", 1.0),
            ("position_realized_pnl", "#8250df", 1.0),
            ("position_unrealized_pnl", "#bc4c00", 1.0),
            ("total_pnl", "#0969da", 2.0),
        ):
            curve = pnl.get(name)
            if curve is None or (name != "total_pnl" and not np.any(curve)):
                continue
            if name == "executor_realized_pnl" and np.allclose(curve, pnl["total_pnl"]):
                continue  # the same curve as total_pnl: no hold
            fig.add_trace(
                _line(go, ts, curve, bucket, name=name, color=color, width=width,
                      legendgroup="pnl"),
                row=2,
                col=1,
            )  # fmt: skip
        fig.add_trace(
            _line(
                go,
                ts,
                pnl["drawdown_quote"],
                bucket,
                how="min",
                name="drawdown",
                color=_BAD,
                width=1,
                fill="tozeroy",
                legendgroup="pnl",
            ),
            row=3,
            col=1,
        )
    inv = prep.inventory
    if inv["timestamp"].shape[0]:
        fig.add_trace(
            _line(go, inv["timestamp"], inv["net_base"], bucket, name=f"net position ({base})",
                  color="#0969da", shape="hv", legendgroup="inventory"),
            row=4,
            col=1,
        )  # fmt: skip
        if np.any(inv["hold_base"]):
            fig.add_trace(
                _line(go, inv["timestamp"], inv["hold_base"], bucket,
                      name=f"position hold ({base})", color="#bc4c00", dash="dot",
                      shape="hv", legendgroup="inventory"),
                row=4,
                col=1,
            )  # fmt: skip
    fig.update_layout(
        template="plotly_white",
        title={"text": escape(title), "x": 0.01} if title else None,
        margin={"l": 60, "r": 20, "t": 40 if title else 20, "b": 30},
        hovermode="closest",
        legend={"groupclick": "toggleitem", "font": {"size": 11}},
        uirevision="main",
    )
    fig.update_xaxes(type="date", showspikes=True, spikemode="across", spikethickness=1)
    fig.update_xaxes(rangeslider_visible=False, row=1, col=1)
    fig.update_yaxes(title_text=f"price ({quote})", row=1, col=1)
    fig.update_yaxes(title_text=f"PnL ({quote})", row=2, col=1)
    fig.update_yaxes(title_text=f"drawdown ({quote})", row=3, col=1)
    fig.update_yaxes(title_text=f"inventory ({base})", row=4, col=1)
    return fig


def _features_figure(prep: _Prepared, *, max_rows: int = 8) -> tuple[Any | None, list[str]]:
    """One panel per feature that is not on the price scale (at most ``max_rows``)."""
    names = [n for n in prep.features if n != "timestamp" and n not in prep.price_features]
    if not names:
        return None, []
    shown, left = names[:max_rows], names[max_rows:]
    go, make_subplots = _plotly()
    fig = make_subplots(
        rows=len(shown),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04 if len(shown) > 1 else 0.0,
        subplot_titles=[escape(n) for n in shown],
    )
    ts = prep.features["timestamp"]
    for row, name in enumerate(shown, start=1):
        fig.add_trace(
            _line(go, ts, prep.features[name], prep.bucket_s, name=escape(name),
                  color=_PALETTE[(row - 1) % len(_PALETTE)], width=1),
            row=row,
            col=1,
        )  # fmt: skip
    fig.update_layout(
        template="plotly_white",
        showlegend=False,
        margin={"l": 60, "r": 20, "t": 30, "b": 30},
        hovermode="x",
    )
    fig.update_xaxes(type="date")
    fig.update_annotations(font_size=12)
    notes = [f"features not drawn (more than {max_rows}): {', '.join(left)}"] if left else []
    return fig, notes


def main_figure(result: Mapping[str, Any], candles: Mapping[str, Any] | None = None) -> go.Figure:
    """The main chart of a run: price with executors, cumulative PnL, drawdown, inventory.

    Args:
        result: a result document (``hbbacktest run --output``'s JSON, as Python data).
        candles: the run's candles as columns ``timestamp`` (or ``ts``, epoch s), ``open``,
            ``high``, ``low``, ``close``, optionally ``volume``; without them the price panel
            shows the controller's price-like features.

    Raises:
        ValueError: the candles lack a column or their columns differ in length.

    Example:
        >>> fig = main_figure({"results": {}, "executors": []})
        >>> len(fig.layout.annotations)
        0
    """
    prep = _prepare(result, candles)
    return _main_figure(result, prep, title=_title(result))


def _title(result: Mapping[str, Any]) -> str:
    config = _config(result)
    name = config.get("id") or config.get("controller_name") or "backtest"
    market = " ".join(
        str(part) for part in (config.get("connector_name"), config.get("trading_pair")) if part
    )
    return f"{name} — {config.get('controller_name', '')} on {market}".strip(" —")


def _subtitle(result: Mapping[str, Any]) -> str:
    request = result.get("request") if isinstance(result.get("request"), Mapping) else {}
    assert isinstance(request, Mapping)
    parts = [_span(result)]
    if request.get("backtesting_resolution"):
        parts.append(f"{request['backtesting_resolution']} bars")
    if request.get("fill_model"):
        parts.append(f"fill model {request['fill_model']}")
    if isinstance(request.get("trade_cost"), int | float):
        parts.append(f"trade cost {request['trade_cost'] * 100:g} % per side")
    if result.get("data_source"):
        parts.append(f"data: {result['data_source']}")
    if result.get("run_id"):
        parts.append(f"run {str(result['run_id'])[:12]}")
    return " · ".join(p for p in parts if p)


def _metric_items(
    result: Mapping[str, Any], prep: _Prepared | None
) -> list[tuple[str, str, str | None]]:
    results = result.get("results") if isinstance(result.get("results"), Mapping) else {}
    assert isinstance(results, Mapping)
    quote = _quote_asset(result)
    config = _config(result)
    items: list[tuple[str, str, str | None]] = []

    def add(label: str, key: str, tone: bool = False) -> None:
        if key in results:
            value = results[key]
            items.append((label, _fmt_metric(key, value, quote), _tone(value) if tone else None))

    add("Net PnL", "net_pnl_quote", tone=True)
    add("Net PnL (% of capital)", "net_pnl", tone=True)
    add("Max drawdown", "max_drawdown_usd")
    add("Max drawdown (% of capital)", "max_drawdown_pct")
    add("Sharpe (Hummingbot's)", "sharpe_ratio")
    add("Profit factor", "profit_factor")
    add("Accuracy", "accuracy")
    add("Accuracy long", "accuracy_long")
    add("Accuracy short", "accuracy_short")
    add("Executors", "total_executors")
    add("With a position", "total_positions")
    add("Volume", "total_volume")
    add("Fees", "total_fees_quote")
    if results.get("unrealized_pnl_quote") or results.get("position_realized_pnl_quote"):
        add("Hold realized PnL", "position_realized_pnl_quote", tone=True)
        add("Hold unrealized PnL", "unrealized_pnl_quote", tone=True)
    capital = config.get("total_amount_quote")
    if isinstance(capital, int | float):
        items.append(("Capital", f"{_number(float(capital))} {quote}", None))
    if prep is not None and prep.inventory["net_base"].shape[0]:
        peak = float(np.max(np.abs(prep.inventory["net_base"])))
        items.append(("Largest inventory", f"{peak:.6g} {_base_asset(result)}", None))
    return items


def _warnings(result: Mapping[str, Any]) -> list[str]:
    warnings = result.get("warnings")
    return [str(w) for w in warnings] if isinstance(warnings, list) else []


def _notes_block(title: str, notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = "".join(f"<li>{escape(n)}</li>" for n in notes)
    return f'<h2>{escape(title)}</h2><div class="notes"><ul>{items}</ul></div>'


def _close_type_rows(columns: Mapping[str, np.ndarray]) -> list[list[Any]]:
    close = columns["close_type"].astype(str)
    pnl = np.where(np.isfinite(columns["pnl_quote"]), columns["pnl_quote"], 0.0)
    filled = np.isfinite(columns["fill_s"])
    rows = []
    for name in sorted(set(close.tolist())):
        mask = close == name
        with_position = mask & (pnl != 0)
        count = int(with_position.sum())
        rows.append(
            [
                name or "?",
                int(mask.sum()),
                int((mask & filled).sum()),
                round(float(pnl[mask].sum()), 6),
                round(float((pnl[with_position] > 0).sum()) / count * 100, 2) if count else None,
                round(float(pnl[with_position].mean()), 6) if count else None,
            ]
        )
    return rows


def _executor_table(result: Mapping[str, Any], columns: Mapping[str, np.ndarray]) -> str:
    quote, base = _quote_asset(result), _base_asset(result)
    n = int(columns["created_s"].shape[0])
    if n == 0:
        return ""
    rows = np.arange(n)
    note = ""
    if n > MAX_TABLE_ROWS:
        pnl = np.where(np.isfinite(columns["pnl_quote"]), columns["pnl_quote"], 0.0)
        rows = np.sort(np.argsort(-np.abs(pnl), kind="stable")[:MAX_TABLE_ROWS])
        note = (
            f'<p class="sub">The table lists the {MAX_TABLE_ROWS:,} executors with the largest '
            f"|PnL| of {n:,}, in creation order; every executor is in the result file and on "
            "the chart.</p>"
        )
    created = _utc_minutes(columns["created_s"][rows])
    filled = _utc_minutes(columns["fill_s"][rows])
    closed = _utc_minutes(columns["close_s"][rows])

    def num(name: str, i: int, scale: float = 1.0) -> float | None:
        value = float(columns[name][i])
        return round(value * scale, 10) if np.isfinite(value) else None

    body = []
    for j, i in enumerate(rows.tolist()):
        side = columns["side"][i]
        body.append(
            [
                i,
                columns["id"][i],
                columns["level_id"][i],
                "buy" if side > 0 else "sell" if side < 0 else "",
                str(columns["type"][i]).replace("_executor", ""),
                created[j],
                filled[j],
                closed[j],
                columns["close_type"][i],
                num("order_price", i),
                num("fill_price", i),
                num("exit_price", i),
                num("amount_base", i),
                num("pnl_quote", i),
                num("pnl_pct", i, 100.0),
                num("fees_quote", i),
                num("volume_quote", i),
            ]
        )
    labels = [
        "#", "id", "level", "side", "type", "created (UTC)", "filled (UTC)", "closed (UTC)",
        "close type", f"order price ({quote})", f"fill price ({quote})", f"exit price ({quote})",
        f"amount ({base})", f"net PnL ({quote})", "net PnL %", f"fees ({quote})",
        f"volume ({quote})",
    ]  # fmt: skip
    text = ("id", "level", "side", "type", "created (UTC)", "filled (UTC)", "closed (UTC)",
            "close type")  # fmt: skip
    return note + table_block("executors", labels, body, title="Executors", text_columns=text)


def run_report(
    result: Mapping[str, Any],
    *,
    candles: Mapping[str, Any] | None = None,
    title: str | None = None,
    notes: Sequence[str] = (),
    plotly_src: str | None = None,
) -> str:
    """The report of one backtest: one self-contained HTML page (plotly.js embedded).

    Args:
        result: a result document (``hbbacktest run --output``'s JSON, as Python data).
        candles: the run's candles as columns ``timestamp`` (epoch s), ``open``, ``high``,
            ``low``, ``close``, optionally ``volume``; without them the price panel shows the
            controller's reference price and the page says so.
        title: the page title (default: the config's id, controller and market).
        notes: more notes to show with the report's own (where the candles came from …).
        plotly_src: load plotly.js from this URL instead of embedding it (pages that share
            one copy: the web UI's, a sweep report's run pages).

    Returns:
        The HTML document (UTF-8 text). User text (ids, level ids, warnings) is escaped.

    Raises:
        ValueError: the candles lack a column or their columns differ in length.

    Example:
        >>> html = run_report({"results": {"net_pnl_quote": 1.5}, "executors": []})
        >>> html.startswith("<!DOCTYPE html>")
        True
    """
    prep = _prepare(result, candles)
    heading = title or _title(result)
    figure = _main_figure(result, prep)
    features_fig, feature_notes = _features_figure(prep)
    sections = [
        metric_tiles(_metric_items(result, prep)),
        _notes_block("Warnings", _warnings(result)),
        _notes_block("About this report", [*notes, *prep.notes, *feature_notes]),
        figure_block(figure, "main-chart", height_px=980, title="Price, executors, PnL, inventory"),
    ]
    if features_fig is not None:
        rows = len(features_fig.layout.annotations)
        sections.append(
            figure_block(
                features_fig, "features-chart", height_px=170 * rows + 60, title="Features"
            )
        )
    close_rows = _close_type_rows(prep.columns)
    if close_rows:
        quote = _quote_asset(result)
        sections.append(
            table_block(
                "close-types",
                ["close type", "executors", "filled", f"net PnL ({quote})", "win rate %",
                 f"mean PnL ({quote})"],
                close_rows,
                title="By close type",
                text_columns=("close type",),
            )
        )  # fmt: skip
    sections.append(_executor_table(result, prep.columns))
    config = _config(result)
    if config:
        sections.append(
            "<h2>Config</h2><details><summary>the controller config of this run</summary>"
            f"<pre>{escape(json.dumps(config, indent=2, default=str))}</pre></details>"
        )
    return page(heading, sections, subtitle=_subtitle(result), plotly_src=plotly_src)


# --- comparison ---------------------------------------------------------------------------------

_COMPARE_KEYS = (
    "net_pnl_quote", "net_pnl", "max_drawdown_usd", "max_drawdown_pct", "sharpe_ratio",
    "profit_factor", "accuracy", "accuracy_long", "accuracy_short", "total_executors",
    "total_positions", "total_volume", "total_fees_quote", "position_realized_pnl_quote",
    "unrealized_pnl_quote", "close_types",
)  # fmt: skip


def _names(results: Sequence[Mapping[str, Any]], names: Sequence[str] | None) -> list[str]:
    if names is not None:
        if len(names) != len(results):
            raise ValueError(f"{len(names)} names for {len(results)} results")
        raw = [str(n) for n in names]
    else:
        raw = []
        for result in results:
            config = _config(result)
            request = result.get("request") if isinstance(result.get("request"), Mapping) else {}
            assert isinstance(request, Mapping)
            label = str(config.get("id") or config.get("controller_name") or "run")
            if request.get("fill_model"):
                label += f" ({request['fill_model']})"
            raw.append(label)
    out: list[str] = []
    for name in raw:
        candidate, k = name, 2
        while candidate in out:
            candidate, k = f"{name} #{k}", k + 1
        out.append(candidate)
    return out


def equity_figure(
    results: Sequence[Mapping[str, Any]], names: Sequence[str] | None = None
) -> go.Figure:
    """Equity curves (``total_pnl`` over time) of several runs, overlaid, and their drawdowns.

    Each curve is resampled to at most :data:`MAX_CANDLES` points (the last value of each
    bucket; drawdowns the lowest).

    Raises:
        ValueError: ``names`` and ``results`` differ in length.
    """
    go, make_subplots = _plotly()
    labels = _names(results, names)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        row_heights=[0.7, 0.3])  # fmt: skip
    quotes = set()
    for i, (result, label) in enumerate(zip(results, labels, strict=True)):
        quotes.add(_quote_asset(result))
        curves = pnl_curves(result.get("pnl_timeseries") or {})
        if not curves:
            continue
        ts = curves["timestamp"]
        bucket = bucket_seconds(ts, MAX_CANDLES)
        color = _PALETTE[i % len(_PALETTE)]
        fig.add_trace(
            _line(go, ts, curves["total_pnl"], bucket, name=escape(label), color=color,
                  width=1.8, legendgroup=str(i)),
            row=1,
            col=1,
        )  # fmt: skip
        fig.add_trace(
            _line(go, ts, curves["drawdown_quote"], bucket, how="min",
                  name=f"{escape(label)} drawdown", color=color, width=1, legendgroup=str(i),
                  showlegend=False),
            row=2,
            col=1,
        )  # fmt: skip
    quote = quotes.pop() if len(quotes) == 1 else "quote"
    fig.update_layout(
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 20, "b": 30},
        hovermode="x unified",
        legend={"orientation": "h", "y": 1.04, "x": 0},
    )
    fig.update_xaxes(type="date")
    fig.update_yaxes(title_text=f"total PnL ({quote})", row=1, col=1)
    fig.update_yaxes(title_text=f"drawdown ({quote})", row=2, col=1)
    return fig


def compare_report(
    results: Sequence[Mapping[str, Any]],
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
) -> str:
    """Several runs side by side: equity curves overlaid, metrics in one table, each one's setup.

    Args:
        results: result documents (``hbbacktest run --output``'s JSON, as Python data).
        names: a label per result (default: config id and fill model; repeats get ``#2``…).
        title: the page title.

    Returns:
        The HTML document.

    Raises:
        ValueError: no results, or ``names`` and ``results`` differ in length.

    Example:
        >>> html = compare_report([{"results": {}}, {"results": {}}], names=["a", "b"])
        >>> "a" in html and "b" in html
        True
    """
    if not results:
        raise ValueError("compare_report needs at least one result")
    labels = _names(results, names)
    setup_rows = []
    for label, result in zip(labels, results, strict=True):
        config = _config(result)
        request = result.get("request") if isinstance(result.get("request"), Mapping) else {}
        assert isinstance(request, Mapping)
        trade_cost = request.get("trade_cost")
        setup_rows.append(
            [
                label,
                config.get("controller_name", ""),
                f"{config.get('connector_name', '')} {config.get('trading_pair', '')}".strip(),
                _span(result),
                request.get("backtesting_resolution", ""),
                request.get("fill_model", ""),
                trade_cost * 100 if isinstance(trade_cost, int | float) else None,
                str(result.get("run_id", ""))[:12],
            ]
        )
    metric_rows = []
    for key in _COMPARE_KEYS:
        values = [
            (r.get("results") or {}).get(key) if isinstance(r.get("results"), Mapping) else None
            for r in results
        ]
        if all(v is None for v in values):
            continue
        metric_rows.append(
            [key]
            + [_fmt_metric(key, v, _quote_asset(r)) for v, r in zip(values, results, strict=True)]
        )
    warnings = [
        f"{label}: {w}"
        for label, result in zip(labels, results, strict=True)
        for w in _warnings(result)
    ]
    missing = [
        label
        for label, result in zip(labels, results, strict=True)
        if not pnl_curves(result.get("pnl_timeseries") or {})
    ]
    notes = (
        [f"no pnl_timeseries (summary-only result), no curve: {', '.join(missing)}"]
        if missing
        else []
    )
    sections = [
        table_block(
            "runs",
            [
                "run",
                "controller",
                "market",
                "window",
                "resolution",
                "fill model",
                "trade cost %",
                "run id",
            ],
            setup_rows,
            title="Runs",
            text_columns=(
                "run",
                "controller",
                "market",
                "window",
                "resolution",
                "fill model",
                "run id",
            ),
        ),
        figure_block(
            equity_figure(results, labels),
            "equity-chart",
            height_px=620,
            title="Equity (total PnL) and drawdown",
        ),
        table_block(
            "metrics",
            ["metric", *labels],
            metric_rows,
            title="Metrics",
            text_columns=("metric", *labels),
        ),
        _notes_block("About this report", notes),
        _notes_block("Warnings", warnings),
    ]
    return page(
        title or f"Comparison of {len(results)} runs",
        sections,
        subtitle=" · ".join(labels),
    )
