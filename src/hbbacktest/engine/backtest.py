"""Request + candles + controller → raw executor records. Pure: no I/O, no global state."""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbbacktest.config.controller import (
    DirectionalTradingControllerConfigBase,
    MarketMakingControllerConfigBase,
)
from hbbacktest.controllers.actions import GridSpec
from hbbacktest.controllers.base import (
    ControllerBase,
    DirectionalTradingControllerBase,
    FeatureTable,
    Level,
    MarketData,
    MarketMakingControllerBase,
    StepControllerBase,
)
from hbbacktest.controllers.builtin.generic.grid_strike import GridStrikeController
from hbbacktest.core.enums import FillModel, OrderType, TradeType
from hbbacktest.core.errors import ControllerError, InternalError, call_controller
from hbbacktest.data.candles import Candles
from hbbacktest.engine import grid_nb, nb
from hbbacktest.engine.loop import run_step_controller, spec_params
from hbbacktest.engine.records import (
    CREATED_ROW,
    KIND_DCA,
    LEVEL,
    N_PARAMS,
    P_COOLDOWN_S,
    P_FEE,
    P_FILL_MODEL,
    P_OPEN_IS_LIMIT,
    P_REFRESH_S,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TIME_LIMIT_S,
    P_TP_IS_LIMIT,
    P_TRAIL_ACTIVATION,
    P_TRAIL_DELTA,
    to_records,
)

REBALANCE_LEVEL_ID = "position_rebalance"


@dataclass(frozen=True)
class EngineParams:
    """Engine options of one run.

    Attributes:
        fill_model: HUMMINGBOT (upstream-compatible) or TOUCH (realistic).
        trade_cost: fee per side, fraction of notional.
    """

    fill_model: FillModel = FillModel.HUMMINGBOT
    trade_cost: float = 0.0006


@dataclass(frozen=True)
class RawRun:
    """What the engine produced, before metrics.

    Attributes:
        bars: the stepped bars, warm-up history included.
        start_row: first row of the backtest window in ``bars``.
        records: executor records (``records.EXECUTOR_DTYPE``), in creation order.
        levels: the level each record's ``level`` indexes.
        features: feature columns aligned to ``bars`` (NaN before a value is visible).
    """

    bars: Candles
    start_row: int
    records: np.ndarray
    levels: list[Level]
    features: dict[str, np.ndarray]
    dca_prices: np.ndarray | None = None
    dca_amounts_quote: np.ndarray | None = None


def align_features(
    table: FeatureTable, bar_ts: np.ndarray, resolution_s: int
) -> dict[str, np.ndarray]:
    """Show each feature row to a bar only once the candle it came from has closed.

    The decision at bar ``k`` is taken at its close, ``bar_ts[k] + resolution_s``; a row computed
    from a candle opened at ``t`` with interval ``I`` is visible from ``t + I``. The result holds,
    for each bar, the latest visible row (NaN before the first). This is the only place where
    features meet bars, which is why no controller can look ahead.

    ``table`` is trusted: :func:`check_features` has checked what a controller returned.

    Raises:
        InternalError: the timestamps are not strictly increasing.
        ControllerError: a column's length differs from the timestamps'.
    """
    visible_from = np.asarray(table.ts, dtype=np.int64) + int(table.interval_s)
    if visible_from.shape[0] > 1 and np.any(np.diff(visible_from) <= 0):
        raise InternalError("feature table timestamps must be strictly increasing")
    index = np.searchsorted(visible_from, bar_ts + resolution_s, side="right") - 1
    seen = index >= 0
    safe = np.where(seen, index, 0)
    aligned = {}
    for name, values in table.columns.items():
        column = np.asarray(values, dtype=np.float64)
        if column.shape[0] != visible_from.shape[0]:
            raise ControllerError(
                f"feature {name!r} has {column.shape[0]} values for {visible_from.shape[0]} candles"
            )
        if column.shape[0] == 0:
            aligned[name] = np.full(bar_ts.shape[0], np.nan)
        else:
            aligned[name] = np.where(seen, column[safe], np.nan)
    return aligned


_EXPECTED_TABLE = (
    "a FeatureTable(ts=candle open times in epoch seconds, interval_s=their interval in "
    "seconds, columns={name: array of floats, one per row of ts})"
)
# Why a family needs each of its required columns, for the message when one is missing.
_NEEDED_FOR = {
    "reference_price": "the price its levels quote around",
    "signal": "1 opens a long, -1 a short, 0 nothing",
}


def _bad_return(controller: ControllerBase[Any], hook: str, problem: str) -> ControllerError:
    """A ControllerError about what ``hook`` returned, naming the file and line of its def."""
    file, line = controller.hook_location(hook)
    place = f" (defined at {file}:{line})" if file else ""
    name = controller.config.controller_name
    return ControllerError(
        f"controller {name!r}: {hook}{place} {problem}",
        controller_name=name,
        file=file,
        line=line,
    )


def _shown(value: object) -> str:
    text = " ".join(repr(value).split())  # numpy's reprs span lines
    text = text if len(text) <= 80 else text[:77] + "..."
    return text if value is None else f"{type(value).__name__} {text}"


def _as_floats(values: object) -> np.ndarray | None:
    """``values`` as a float64 array, or None when they are not all numbers (or None/NaN)."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):  # ragged nested sequences
        return None
    if array.dtype.kind in "biuf":
        return array.astype(np.float64)
    if array.dtype.kind != "O":
        return None  # strings, bytes, datetimes, complex …
    items = array.ravel().tolist()
    if not all(
        item is None or (isinstance(item, numbers.Number) and not isinstance(item, complex))
        for item in items
    ):
        return None
    try:
        floats = [math.nan if item is None else float(item) for item in items]
    except (TypeError, ValueError, OverflowError):
        return None
    return np.asarray(floats, dtype=np.float64).reshape(array.shape)


def check_features(table: object, controller: ControllerBase[Any]) -> FeatureTable:
    """Check what ``controller.compute_features`` returned; give it back normalised.

    Normalised: ``ts`` as int64, ``interval_s`` as int, every column as float64.

    Raises:
        ControllerError: ``table`` is not a FeatureTable; ``ts`` is not a 1-D array of whole,
            finite, strictly increasing numbers; ``interval_s`` is not a positive whole number;
            a column is not numeric, not 1-D or not one value per row of ``ts``; or a column
            the controller's family needs (``required_features``) is missing. The message
            names the file and line of the ``compute_features`` def and what was expected.
    """

    def bad(problem: str) -> ControllerError:
        return _bad_return(controller, "compute_features", problem)

    if not isinstance(table, FeatureTable):
        raise bad(f"returned {_shown(table)}; expected {_EXPECTED_TABLE}")
    ts = _as_floats(table.ts)
    if ts is None or ts.ndim != 1:
        raise bad(
            f"returned ts = {_shown(table.ts)}; expected a 1-D array of candle open times in "
            "epoch seconds"
        )
    finite = np.isfinite(ts)
    if not finite.all():
        row = int(np.argmin(finite))
        raise bad(
            f"returned ts with {ts[row]} at row {row}; expected candle open times in epoch "
            "seconds (whole, finite numbers)"
        )
    whole = ts.astype(np.int64)
    if not np.array_equal(whole, ts):
        row = int(np.argmax(whole != ts))
        raise bad(
            f"returned ts with {ts[row]} at row {row}; expected candle open times in whole "
            "epoch seconds"
        )
    steps = np.diff(whole)
    if steps.shape[0] and (steps <= 0).any():
        row = int(np.argmax(steps <= 0)) + 1
        what = "a duplicate" if steps[row - 1] == 0 else "an unsorted"
        raise bad(
            f"returned {what} timestamp: ts[{row}] = {whole[row]} after ts[{row - 1}] = "
            f"{whole[row - 1]}; expected candle open times sorted ascending, without duplicates"
        )
    interval = table.interval_s
    if (
        isinstance(interval, bool)
        or not isinstance(interval, int | float | np.integer | np.floating)
        or not (math.isfinite(interval) and interval > 0 and int(interval) == interval)
    ):
        raise bad(
            f"returned interval_s = {interval!r}; expected the interval of the candles the "
            "rows come from, in seconds (a positive whole number)"
        )
    if not isinstance(table.columns, Mapping):
        raise bad(
            f"returned columns = {_shown(table.columns)}; expected a dict of feature name → array"
        )
    columns: dict[str, np.ndarray] = {}
    for name, values in table.columns.items():
        if not isinstance(name, str):
            raise bad(f"returned a column named {name!r}; expected names that are str")
        column = _as_floats(values)
        if column is None:
            raise bad(
                f"returned column {name!r} = {_shown(values)}, which is not numeric; expected "
                "numbers (floats; NaN where a value is not available yet)"
            )
        if column.ndim != 1 or column.shape[0] != whole.shape[0]:
            size = column.shape[0] if column.ndim == 1 else f"shape {column.shape}"
            raise bad(
                f"returned column {name!r} with {size} values for {whole.shape[0]} timestamps; "
                "expected a 1-D array with one value per row of ts"
            )
        columns[name] = column
    for required in controller.required_features:
        if required not in columns:
            given = ", ".join(repr(c) for c in columns) or "none"
            why = _NEEDED_FOR.get(required, "its family's decision rules read it")
            raise bad(
                f"returned no {required!r} column (columns: {given}); expected one, as this "
                f"controller's family needs it ({why})"
            )
    return FeatureTable(whole, int(interval), columns)


def _checked_levels(controller: ControllerBase[Any], levels: object) -> list[Level]:
    if not isinstance(levels, list | tuple) or not all(isinstance(x, Level) for x in levels):
        raise _bad_return(
            controller, "levels", f"returned {_shown(levels)}; expected a list of Level"
        )
    return list(levels)


def _barrier_params(
    config: MarketMakingControllerConfigBase | DirectionalTradingControllerConfigBase,
    params: EngineParams,
) -> np.ndarray:
    vector = np.full(N_PARAMS, np.nan)
    barrier = config.triple_barrier_config
    vector[P_FEE] = params.trade_cost
    if barrier.take_profit is not None:
        vector[P_TAKE_PROFIT] = barrier.take_profit
    if barrier.stop_loss is not None:
        vector[P_STOP_LOSS] = barrier.stop_loss
    if barrier.trailing_stop is not None:
        vector[P_TRAIL_ACTIVATION] = barrier.trailing_stop.activation_price
        vector[P_TRAIL_DELTA] = barrier.trailing_stop.trailing_delta
    if barrier.time_limit is not None:
        vector[P_TIME_LIMIT_S] = barrier.time_limit
    if isinstance(config, MarketMakingControllerConfigBase):
        vector[P_REFRESH_S] = config.executor_refresh_time
    vector[P_COOLDOWN_S] = config.cooldown_time
    vector[P_TP_IS_LIMIT] = 1.0 if barrier.take_profit_order_type.is_limit_type() else 0.0
    vector[P_OPEN_IS_LIMIT] = 1.0 if barrier.open_order_type is not OrderType.MARKET else 0.0
    vector[P_FILL_MODEL] = float(params.fill_model)
    return vector


def _refresh_s(level: Level, config: MarketMakingControllerConfigBase) -> float:
    if np.isnan(level.refresh_s):
        return float(config.executor_refresh_time)
    return float(level.refresh_s)


def _dca_arrays(controller: ControllerBase[Any]) -> tuple[np.ndarray, np.ndarray]:
    pair = controller.dca_levels()
    offsets = weights = None
    if isinstance(pair, tuple | list) and len(pair) == 2:
        offsets, weights = _as_floats(pair[0]), _as_floats(pair[1])
    if (
        offsets is None
        or weights is None
        or offsets.shape != weights.shape
        or offsets.ndim != 1
        or not (np.isfinite(offsets).all() and np.isfinite(weights).all())
    ):
        raise _bad_return(
            controller,
            "dca_levels",
            f"returned {_shown(pair)}; expected two lists of numbers of the same length "
            "(offsets from the executor's price, amount weights)",
        )
    return offsets, weights


def _column_or_ones(features: dict[str, np.ndarray], name: str, n: int) -> np.ndarray:
    column = features.get(name)
    return np.ones(n) if column is None else column


def _ones_or(features: dict[str, np.ndarray], name: str, n: int) -> np.ndarray:
    # Before the feature is visible no executor can open anyway (the signal is NaN then too).
    column = features.get(name)
    if column is None:
        return np.ones(n)
    return np.where(np.isnan(column), 1.0, column)


def run_controller(
    controller: ControllerBase[Any],
    market: MarketData,
    params: EngineParams,
    *,
    feature_cache: MutableMapping[Hashable, FeatureTable] | None = None,
) -> RawRun:
    """Simulate ``controller`` over ``market.bars`` from ``market.start`` to the last bar.

    ``compute_features`` and, for a bar-by-bar controller, the whole bar loop each run under
    ``controller.time_limit_s`` (armed once per phase: nothing is added per bar).

    With ``feature_cache``, features are reused from an earlier run with the same
    :meth:`ControllerBase.feature_key` (a sweep's configs that differ only in spreads).

    Raises:
        ControllerError: the controller's own code failed (any exception, ``SystemExit``
            included), ran out of time, or returned something unusable; the message names the
            file and line.
        InternalError: hbbacktest's own code failed (a bug).
    """
    bars = market.bars
    start_row = int(np.searchsorted(bars.ts, market.start, side="left"))
    name = controller.config.controller_name
    key = controller.feature_key(market) if feature_cache is not None else None
    cached = None if key is None or feature_cache is None else feature_cache.get(key)
    if cached is not None:
        table = cached
    else:
        table = call_controller(
            lambda: controller.compute_features(market),
            controller_name=name,
            during="compute_features",
            time_limit_s=controller.time_limit_s,
        )
        if key is not None and feature_cache is not None:
            feature_cache[key] = table
    features = align_features(check_features(table, controller), bars.ts, bars.interval_s)
    if isinstance(controller, StepControllerBase):
        step = controller
        matrix, levels = call_controller(
            lambda: run_step_controller(
                step, bars, start_row, features, params.fill_model, params.trade_cost
            ),
            controller_name=name,
            during="the bar loop",
            time_limit_s=controller.time_limit_s,
        )
        records = to_records(matrix)
        return RawRun(
            bars=bars, start_row=start_row, records=records, levels=levels, features=features
        )
    if isinstance(controller, GridStrikeController):
        cfg = controller.config
        barrier = cfg.triple_barrier_config
        grid = GridSpec(
            side=cfg.side,
            start_price=cfg.start_price,
            end_price=cfg.end_price,
            limit_price=np.nan if cfg.limit_price is None else cfg.limit_price,
            total_amount_quote=cfg.total_amount_quote,
            min_spread_between_orders=cfg.min_spread_between_orders or 0.0,
            min_order_amount_quote=cfg.min_order_amount_quote or 5.0,
            take_profit=float(barrier.take_profit or 0.0),
            stop_loss=barrier.stop_loss,
            time_limit=barrier.time_limit,
            keep_position=cfg.keep_position,
        )
        matrix = grid_nb.grid_strike_nb(
            bars.ts, bars.open, bars.high, bars.low, bars.close, start_row, float(grid.side),
            grid.start_price, grid.end_price, grid.limit_price, grid.total_amount_quote,
            grid.min_spread_between_orders, grid.min_order_amount_quote, grid.take_profit,
            grid.keep_position, spec_params(grid, params.fill_model, params.trade_cost),
        )  # fmt: skip
        levels = [Level("grid", cfg.side, 0.0)]
        return RawRun(
            bars=bars, start_row=start_row, records=to_records(matrix), levels=levels,
            features=features,
        )  # fmt: skip
    if isinstance(controller, MarketMakingControllerBase):
        levels = _checked_levels(controller, controller.levels())
        matrix = nb.market_making_nb(
            bars.ts,
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            start_row,
            features["reference_price"],
            _column_or_ones(features, "spread_multiplier", bars.ts.shape[0]),
            np.array([float(level.side) for level in levels]),
            np.array([level.spread for level in levels]),
            np.array([level.amount_quote for level in levels]),
            np.array([level.amount_base for level in levels]),
            np.array([_refresh_s(level, controller.config) for level in levels]),
            *_dca_arrays(controller),
            _barrier_params(controller.config, params),
        )
        config = controller.config
        if not config.is_perpetual and not config.skip_rebalance:
            _, sell_amounts = config.spreads_and_amounts_quote(TradeType.SELL)
            orders = nb.rebalance_nb(
                bars.close,
                start_row,
                features["reference_price"],
                float(sum(sell_amounts)),
                float(config.position_rebalance_threshold_pct),
                params.trade_cost,
            )
            orders[:, LEVEL] = len(levels)
            levels = [*levels, Level(REBALANCE_LEVEL_ID, TradeType.BUY, 0.0)]
            matrix = np.concatenate((matrix, orders))
    elif isinstance(controller, DirectionalTradingControllerBase):
        config = controller.config
        levels = [Level("long", TradeType.BUY, 0.0), Level("short", TradeType.SELL, 0.0)]
        matrix = nb.directional_nb(
            bars.ts,
            bars.open,
            bars.high,
            bars.low,
            bars.close,
            start_row,
            features["signal"],
            config.total_amount_quote / config.max_executors_per_side,
            config.max_executors_per_side,
            float(config.cooldown_time),
            *_dca_arrays(controller),
            _ones_or(features, "dca_spread_multiplier", bars.ts.shape[0]),
            _ones_or(features, "dca_target_multiplier", bars.ts.shape[0]),
            _barrier_params(config, params),
        )
    else:
        raise InternalError(f"no engine loop for {type(controller).__name__}")
    order = np.lexsort((matrix[:, LEVEL], matrix[:, CREATED_ROW]))
    records = to_records(matrix, order)
    dca_prices, dca_amounts = _dca_orders(controller, records, levels, features, bars.close)
    return RawRun(
        bars=bars,
        start_row=start_row,
        records=records,
        levels=levels,
        features=features,
        dca_prices=dca_prices,
        dca_amounts_quote=dca_amounts,
    )


def _dca_orders(
    controller: ControllerBase[Any],
    records: np.ndarray,
    levels: list[Level],
    features: dict[str, np.ndarray],
    close: np.ndarray,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Each DCA executor's level prices and quote amounts, as the kernels derived them.

    The kernels keep only what they need to simulate; the result shows every executor's config,
    so the orders are rebuilt here from the same inputs (vectorised, once per run).
    """
    offsets, weights = _dca_arrays(controller)
    dca = records["kind"] == KIND_DCA
    if offsets.shape[0] == 0 or not dca.any():
        return None, None
    rows = records["created_row"]
    direction = np.where(records["side"] == TradeType.BUY, -1.0, 1.0)[:, None]
    if isinstance(controller, MarketMakingControllerBase):
        spread = np.array([level.spread for level in levels])[records["level"]]
        multiplier = _column_or_ones(features, "spread_multiplier", close.shape[0])
        price = features["reference_price"][rows] * (
            1.0 + direction[:, 0] * spread * multiplier[rows]
        )
        amount_quote = np.array([level.amount_quote for level in levels])[records["level"]]
        amount_base = np.array([level.amount_base for level in levels])[records["level"]]
        base = np.where(np.isnan(amount_base), amount_quote / price, amount_base)
        prices = price[:, None] * (1.0 + direction * offsets[None, :])
        amounts = base[:, None] * weights[None, :] * prices
    else:
        config = controller.config
        mult = _ones_or(features, "dca_spread_multiplier", close.shape[0])[rows]
        prices = close[rows][:, None] * (1.0 + direction * offsets[None, :] * mult[:, None])
        per_executor = config.total_amount_quote / config.max_executors_per_side
        amounts = np.broadcast_to(per_executor * weights[None, :], prices.shape).copy()
    prices[~dca] = np.nan
    amounts[~dca] = np.nan
    return prices, amounts
