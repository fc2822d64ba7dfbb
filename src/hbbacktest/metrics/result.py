"""The backtest result, always strict JSON.

Hummingbot's shape (``executors``, ``processed_data``, ``results``) plus ``pnl_timeseries``,
``warnings`` and run metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from hbbacktest.config.request import BacktestRequest
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.backtest import RawRun
from hbbacktest.engine.records import KIND_DCA, KIND_GRID, KIND_NAMES, KIND_ORDER
from hbbacktest.metrics.holds import HoldCurves, hold_curves, hold_mask
from hbbacktest.metrics.summary import summarize_results
from hbbacktest.metrics.timeseries import pnl_timeseries


def finite_or_none(value: Any) -> Any:
    """NaN and ±inf become None; NumPy scalars become Python numbers."""
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _column(values: np.ndarray) -> list[Any]:
    if values.dtype.kind in "iub":
        return list(values.tolist())
    as_float = values.astype(np.float64)
    listed: list[Any] = as_float.tolist()
    if not np.isfinite(as_float).all():
        listed = [v if math.isfinite(v) else None for v in listed]
    return listed


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

    @property
    def run_id(self) -> str:
        """The request's ``config_id``."""
        return self.request.config_id

    def executors(self) -> list[dict[str, Any]]:
        """Executors in Hummingbot's ``ExecutorInfo`` shape, plus flat convenience fields."""
        config = self.request.config
        barrier = getattr(config, "triple_barrier_config", None)
        barrier_json = barrier.model_dump(mode="json") if barrier is not None else None
        if barrier_json is not None:
            for key in (
                "open_order_type",
                "take_profit_order_type",
                "stop_loss_order_type",
                "time_limit_order_type",
            ):
                barrier_json[key] = barrier.__getattribute__(key).name
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
        fill_price = _column(rec["fill_price"])
        exit_price = _column(rec["exit_price"])
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
                        "take_profit": barrier_json.get("take_profit") if barrier_json else None,
                        "stop_loss": barrier_json.get("stop_loss") if barrier_json else None,
                        "trailing_stop": barrier_json.get("trailing_stop")
                        if barrier_json
                        else None,
                        "time_limit": barrier_json.get("time_limit") if barrier_json else None,
                    }
                )
            elif kinds[i] == KIND_ORDER:
                executor_config.update(
                    {"amount": amount[i], "price": entry[i], "execution_strategy": "MARKET"}
                )
            elif kinds[i] == KIND_GRID:
                executor_config.update(_grid_config(config))
            else:
                executor_config.update(
                    {
                        "entry_price": entry[i],
                        "amount": amount[i],
                        "triple_barrier_config": barrier_json,
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
        columns = {"timestamp": _column(self.bar_ts[self.start_row :])}
        for name, values in self.features.items():
            columns[name] = _column(values[self.start_row :])
        last = {
            name: finite_or_none(values[-1])
            for name, values in self.features.items()
            if len(values)
        }
        return {
            "features": columns,
            **{k: v for k, v in last.items() if k in ("reference_price", "spread_multiplier")},
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain JSON-able data with no NaN or infinity."""
        return {
            "run_id": self.run_id,
            "request": self.request.model_dump(mode="json"),
            "data_source": self.data_source,
            "results": {
                k: finite_or_none(v) if not isinstance(v, dict) else v
                for k, v in self.results.items()
            },
            "executors": self.executors(),
            "processed_data": self.processed_data(),
            "position_holds": self.position_holds(),
            "pnl_timeseries": {name: _column(values) for name, values in self.timeseries.items()},
            "warnings": list(self.warnings),
        }

    def to_json(self, *, indent: int | None = None) -> str:
        """Strict JSON: every float is finite (NaN and infinity were turned into null above)."""
        option = orjson.OPT_INDENT_2 if indent else 0
        return orjson.dumps(self.to_dict(), option=option).decode()


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
        notes.append(
            "no executors were created: no bar had valid features (check the warm-up history and "
            "indicator lengths) or the window is shorter than two bars"
        )
    elif results["total_positions"] == 0:
        notes.append(
            "no order was filled: every executor ended without a position (spreads may be too wide "
            "for this market, or executor_refresh_time too short)"
        )
    return BacktestResult(
        request=request,
        results=results,
        records=raw.records,
        level_ids=[raw.levels[int(i)].level_id for i in raw.records["level"]],
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
    )


def _grid_config(config: Any) -> dict[str, Any]:
    """The grid executor's config fields, from the controller config that set them."""
    keys = (
        "start_price",
        "end_price",
        "limit_price",
        "total_amount_quote",
        "min_spread_between_orders",
        "min_order_amount_quote",
        "max_open_orders",
        "max_orders_per_batch",
        "order_frequency",
        "activation_bounds",
        "keep_position",
    )
    out: dict[str, Any] = {key: getattr(config, key, None) for key in keys}
    barrier = getattr(config, "triple_barrier_config", None)
    if barrier is not None:
        out["triple_barrier_config"] = barrier.model_dump(mode="json")
    return out
