"""The backtest result, always strict JSON.

Hummingbot's shape (``executors``, ``processed_data``, ``results``) plus ``pnl_timeseries``,
``warnings`` and run metadata. :meth:`BacktestResult.to_dict` builds it as Python data;
:meth:`BacktestResult.to_json` and :func:`hbbacktest.metrics.encode.json_chunks` write the same
document without building a dict per executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from hbbacktest.config.request import BacktestRequest
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.data.candles import Candles
from hbbacktest.engine.backtest import RawRun
from hbbacktest.engine.records import KIND_DCA, KIND_GRID, KIND_NAMES, KIND_ORDER
from hbbacktest.metrics.encode import (
    barrier_json,
    finite_or_none,
    grid_config,
    json_chunks,
    json_column,
    processed_columns,
    processed_scalars,
    results_json,
)
from hbbacktest.metrics.holds import HoldCurves, hold_curves, hold_mask
from hbbacktest.metrics.summary import summarize_results
from hbbacktest.metrics.timeseries import pnl_timeseries

__all__ = ["BacktestResult", "build_result", "finite_or_none", "no_executor_note"]


@dataclass(frozen=True)
class BacktestResult:
    """A finished backtest.

    Attributes:
        request: what was run.
        results: Hummingbot's ``summarize_results`` keys (finite numbers).
        records: one row per executor (``engine.records.EXECUTOR_DTYPE``), creation order.
        level_ids: level id of each record.
        bar_ts: open time of every stepped bar (warm-up included); records' rows index it.
        start_row: first bar of the window.
        features: aligned feature columns over the window.
        timeseries: per-bar PnL columns over the window.
        warnings: recoverable problems met on the way (never silent).
        data_source: where the candles came from (``demo`` data is synthetic).
        bars: the candles the run stepped on (warm-up included), for encoders that show them
            (hummingbot-api's ``processed_data`` has the OHLCV columns).
    """

    request: BacktestRequest
    results: dict[str, Any]
    records: np.ndarray
    level_ids: list[str]
    bar_ts: np.ndarray
    start_row: int
    features: dict[str, np.ndarray]
    timeseries: dict[str, np.ndarray]
    warnings: list[str] = field(default_factory=list)
    data_source: str = ""
    holds: HoldCurves | None = None
    final_price: float = float("nan")
    dca_prices: np.ndarray | None = None
    dca_amounts_quote: np.ndarray | None = None
    bars: Candles | None = None

    @property
    def run_id(self) -> str:
        """The request's ``config_id``."""
        return self.request.config_id

    def executors(self) -> list[dict[str, Any]]:
        """Executors in Hummingbot's ``ExecutorInfo`` shape, plus flat convenience fields."""
        config = self.request.config
        barrier = barrier_json(config)
        leverage = getattr(config, "leverage", 1)
        prefix = self.run_id[:12]
        rec = self.records
        ts = self.bar_ts
        # Column lists first: indexing a structured array per field per row is ~10x slower.
        sides = [TradeType(code).name for code in rec["side"].tolist()]
        created = ts[rec["created_row"]].tolist()
        closed = ts[rec["close_row"]].tolist()
        fill_rows = rec["fill_row"].tolist()
        fill_ts = ts[np.maximum(rec["fill_row"], 0)].tolist()
        close_types = [CloseType(code).name for code in rec["close_type"].tolist()]
        entry = rec["entry_price"].tolist()
        amount = rec["amount_base"].tolist()
        fill_price = json_column(rec["fill_price"])
        exit_price = json_column(rec["exit_price"])
        pnl_pct = rec["net_pnl_pct"].tolist()
        pnl_quote = rec["net_pnl_quote"].tolist()
        fees = rec["cum_fees_quote"].tolist()
        filled_quote = rec["filled_amount_quote"].tolist()
        kinds = rec["kind"].tolist()
        hold_base = rec["hold_base"].tolist()
        dca_prices = self.dca_prices.tolist() if self.dca_prices is not None else None
        dca_amounts = (
            self.dca_amounts_quote.tolist() if self.dca_amounts_quote is not None else None
        )
        out = []
        for i in range(rec.shape[0]):
            side = sides[i]
            level_id = self.level_ids[i]
            executor_id = f"{prefix}-{i}"
            close_price = exit_price[i] if exit_price[i] is not None else entry[i]
            kind = KIND_NAMES[kinds[i]]
            executor_config: dict[str, Any] = {
                "id": executor_id,
                "type": kind,
                "timestamp": created[i],
                "controller_id": config.id,
                "connector_name": config.connector_name,
                "trading_pair": config.trading_pair,
                "side": side,
                "leverage": leverage,
                "level_id": level_id,
            }
            if kinds[i] == KIND_DCA and dca_prices is not None and dca_amounts is not None:
                executor_config.update(
                    {
                        "prices": dca_prices[i],
                        "amounts_quote": dca_amounts[i],
                        "mode": "MAKER",
                        "take_profit": barrier.get("take_profit") if barrier else None,
                        "stop_loss": barrier.get("stop_loss") if barrier else None,
                        "trailing_stop": barrier.get("trailing_stop") if barrier else None,
                        "time_limit": barrier.get("time_limit") if barrier else None,
                    }
                )
            elif kinds[i] == KIND_ORDER:
                executor_config.update(
                    {"amount": amount[i], "price": entry[i], "execution_strategy": "MARKET"}
                )
            elif kinds[i] == KIND_GRID:
                executor_config.update(grid_config(config))
            else:
                executor_config.update(
                    {
                        "entry_price": entry[i],
                        "amount": amount[i],
                        "triple_barrier_config": barrier,
                    }
                )
            out.append(
                {
                    "id": executor_id,
                    "timestamp": created[i],
                    "type": kind,
                    "status": "TERMINATED",
                    "config": executor_config,
                    "net_pnl_pct": pnl_pct[i],
                    "net_pnl_quote": pnl_quote[i],
                    "cum_fees_quote": fees[i],
                    "filled_amount_quote": filled_quote[i],
                    "is_active": False,
                    "is_trading": False,
                    "custom_info": {
                        "close_price": close_price,
                        "level_id": level_id,
                        "side": side,
                        "current_position_average_price": fill_price[i],
                    },
                    "close_timestamp": closed[i],
                    "close_type": close_types[i],
                    "controller_id": config.id,
                    "level_id": level_id,
                    "side": side,
                    "entry_price": entry[i],
                    "amount": amount[i],
                    "fill_timestamp": fill_ts[i] if fill_rows[i] >= 0 else None,
                    "fill_price": fill_price[i],
                    "exit_price": exit_price[i],
                    "held_amount": hold_base[i],
                }
            )
        return out

    def position_holds(self) -> list[dict[str, Any]]:
        """The netted position hold (Hummingbot's ``PositionSummary``), marked at the last close."""
        if self.holds is None or self.holds.n_executors == 0:
            return []
        config = self.request.config
        summary = self.holds.hold.summary(
            self.final_price, config.connector_name, config.trading_pair
        )
        return [{k: finite_or_none(v) for k, v in summary.items()}]

    def processed_data(self) -> dict[str, Any]:
        """The features the controller used, per bar of the window (columnar)."""
        columns = {name: json_column(values) for name, values in processed_columns(self).items()}
        return {"features": columns, **processed_scalars(self)}

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain JSON-able data with no NaN or infinity."""
        return {
            "run_id": self.run_id,
            "request": self.request.model_dump(mode="json"),
            "data_source": self.data_source,
            "results": results_json(self.results),
            "executors": self.executors(),
            "processed_data": self.processed_data(),
            "position_holds": self.position_holds(),
            "pnl_timeseries": {
                name: json_column(values) for name, values in self.timeseries.items()
            },
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Strict JSON: :meth:`to_dict`'s document, with NaN and infinity written as null.

        Without ``indent`` the executors are encoded column by column
        (:func:`~hbbacktest.metrics.encode.json_chunks`), several times faster than
        ``orjson.dumps(self.to_dict())`` and byte-identical to it. To write a large result, use
        ``hbbacktest.service.output.write_result``, which streams the same bytes to a file.

        Args:
            indent: indent nested values by two spaces when set (any truthy value).
        """
        if indent:
            return orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2).decode()
        return b"".join(json_chunks(self)).decode()


def build_result(
    request: BacktestRequest, raw: RawRun, *, warnings: list[str], data_source: str
) -> BacktestResult:
    """Assemble the result of a finished engine run."""
    holds = hold_curves(raw.records, raw.bars.close) if hold_mask(raw.records).any() else None
    final_price = float(raw.bars.close[-1]) if len(raw.bars) else float("nan")
    timeseries = pnl_timeseries(raw.records, raw.bars.ts, raw.start_row, holds)
    results = summarize_results(
        raw.records,
        float(request.config.total_amount_quote),
        timeseries["total_pnl"],
        holds,
        final_price,
    )
    notes = list(warnings)
    if raw.records.shape[0] == 0:
        notes.append(no_executor_note(raw.features, raw.start_row, len(raw.bars)))
    elif not _any_fill(raw.records):
        notes.append(
            "no order was filled: every executor ended without a position (spreads may be too wide "
            "for this market, or executor_refresh_time too short)"
        )
    # One lookup table instead of a Python loop: a year of a 40-level grid has millions of rows.
    names = np.array([level.level_id for level in raw.levels] or [""], dtype=object)
    return BacktestResult(
        request=request,
        results=results,
        records=raw.records,
        level_ids=names[raw.records["level"]].tolist(),
        bar_ts=raw.bars.ts,
        start_row=raw.start_row,
        features=raw.features,
        timeseries=timeseries,
        warnings=notes,
        data_source=data_source,
        holds=holds,
        final_price=final_price,
        dca_prices=raw.dca_prices,
        dca_amounts_quote=raw.dca_amounts_quote,
        bars=raw.bars,
    )


def _any_fill(records: np.ndarray) -> bool:
    # Any fill counts, held ones too (rebalance orders, a DCA or grid ending in POSITION_HOLD):
    # the summary's position counts leave those out, as upstream, but they did trade.
    return bool(((records["filled_amount_quote"] > 0) | (records["fill_row"] >= 0)).any())


_MARKET_FEATURES = ("reference_price", "spread_multiplier")


def no_executor_note(features: dict[str, np.ndarray], start_row: int, n_bars: int) -> str:
    """Why a run created no executor, from the features over the window.

    Checked in this order:

    1. the window (bars ``start_row`` … ``n_bars - 1``) has fewer than two bars;
    2. the features were never valid: a ``signal`` column (directional controllers) is NaN on
       every bar, or, without one, no bar has every market-making feature (``reference_price``,
       ``spread_multiplier``; for other controllers every feature) finite: the warm-up history
       is too short for the indicator lengths;
    3. the ``signal`` was valid but never non-zero (never ±1): the thresholds were never met;
    4. otherwise the controller, given valid features, never asked for an executor (a grid whose
       price never entered its range, a custom controller's own rule).

    Args:
        features: feature columns aligned to the bars (warm-up included).
        start_row: first bar of the window.
        n_bars: number of bars, warm-up included.

    Returns:
        One sentence for ``result.warnings``, starting "no executors were created".

    Example:
        >>> no_executor_note({"signal": np.array([np.nan, 0.0, 0.0])}, 0, 3)[-50:]
        'the thresholds were never crossed in this window)'
    """
    window = n_bars - start_row
    head = "no executors were created: "
    if window < 2:
        return (
            head + f"the window has {max(window, 0)} bar(s) and at least two are needed; "
            "widen start/end or pick a finer backtesting_resolution"
        )
    columns = {name: np.asarray(values[start_row:n_bars]) for name, values in features.items()}
    signal = columns.get("signal")
    if signal is not None:
        valid = np.isfinite(signal)
        if not valid.any():
            return head + (
                f"the 'signal' feature is NaN on all {window} bars of the window: the features "
                "never became valid (the warm-up history is too short for the indicator lengths; "
                "shorten them or start later)"
            )
        if not (signal[valid] != 0).any():
            return head + (
                f"the features were valid on {int(valid.sum())} of {window} bars, but the signal "
                "was never ±1 (it stayed 0: the controller's thresholds were never crossed in this "
                "window)"
            )
    # A directional controller decides on its signal alone; others need all their features.
    checked = [name for name in _MARKET_FEATURES if name in columns] or list(columns)
    if signal is None and checked:
        valid = np.ones(window, dtype=bool)
        for name in checked:
            valid &= np.isfinite(columns[name])
        if not valid.any():
            listed = ", ".join(repr(name) for name in checked)
            return head + (
                f"the features ({listed}) were never all valid (NaN on all {window} bars of the "
                "window: the warm-up history is too short for the indicator lengths; shorten "
                "them or start later)"
            )
    return head + (
        f"the features were valid, but over {window} bars the controller never asked for an "
        "executor (for grid_strike: the price never entered [start_price, end_price])"
    )
