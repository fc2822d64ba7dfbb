"""The bar-by-bar loop for controllers that decide in Python (:class:`StepControllerBase`).

Each bar, at its close, in Hummingbot's order: executors that ended are retired (a held fill
joins the position hold), the controller sees the active and recently ended executors and
returns actions, creates are simulated from this bar with the run's kernels, stops close the
executor at this bar. Each executor is simulated once when it is created (its whole future is
in the candles), and again from its creation if it is stopped early — so an executor's fate at
bar T never depends on anything after T.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hbbacktest.controllers.actions import (
    CreateExecutor,
    DCASpec,
    ExecutorSpec,
    ExecutorState,
    GridSpec,
    OrderSpec,
    PositionSpec,
    StopExecutor,
)
from hbbacktest.controllers.base import Level, StepControllerBase
from hbbacktest.core.enums import CloseType, FillModel, OrderType, TradeType
from hbbacktest.core.errors import ControllerError, call_controller
from hbbacktest.data.candles import Candles
from hbbacktest.engine import dca_nb, grid_nb, nb, order_nb
from hbbacktest.engine.positions import PositionBook
from hbbacktest.engine.records import (
    AMOUNT_BASE,
    CLOSE_ROW,
    CLOSE_TYPE,
    CUM_FEES_QUOTE,
    EXIT_PRICE,
    FILL_PRICE,
    FILL_ROW,
    FILLED_AMOUNT_QUOTE,
    HOLD_BASE,
    HOLD_PRICE,
    KIND,
    KIND_NAMES,
    LEVEL,
    N_FIELDS,
    N_PARAMS,
    NET_PNL_PCT,
    NET_PNL_QUOTE,
    P_FEE,
    P_FILL_MODEL,
    P_OPEN_IS_LIMIT,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TIME_LIMIT_S,
    P_TP_IS_LIMIT,
    P_TRAIL_ACTIVATION,
    P_TRAIL_DELTA,
    SIDE,
)

# An ended executor stays in the controller's view this long. Upstream shows every executor
# ever created, which makes each bar cost O(executors so far); an hour covers every cooldown and
# refresh rule of the Hummingbot controllers.
RETENTION_S = 3600.0
ORDER_STRATEGY = {OrderType.MARKET: 0, OrderType.LIMIT: 1, OrderType.LIMIT_MAKER: 2}


def _set(vector: np.ndarray, index: int, value: float | None) -> None:
    if value is not None:
        vector[index] = float(value)


def spec_params(spec: ExecutorSpec, fill_model: FillModel, trade_cost: float) -> np.ndarray:
    """The kernels' ``P_*`` vector for one executor."""
    vector = np.full(N_PARAMS, np.nan)
    vector[P_FEE] = trade_cost
    vector[P_FILL_MODEL] = float(fill_model)
    if isinstance(spec, PositionSpec):
        barrier = spec.barrier
        _set(vector, P_TAKE_PROFIT, barrier.take_profit)
        _set(vector, P_STOP_LOSS, barrier.stop_loss)
        _set(vector, P_TIME_LIMIT_S, barrier.time_limit)
        if barrier.trailing_stop is not None:
            vector[P_TRAIL_ACTIVATION] = barrier.trailing_stop.activation_price
            vector[P_TRAIL_DELTA] = barrier.trailing_stop.trailing_delta
        vector[P_TP_IS_LIMIT] = 1.0 if barrier.take_profit_order_type.is_limit_type() else 0.0
        vector[P_OPEN_IS_LIMIT] = 0.0 if barrier.open_order_type is OrderType.MARKET else 1.0
    elif isinstance(spec, DCASpec):
        _set(vector, P_TAKE_PROFIT, spec.take_profit)
        _set(vector, P_STOP_LOSS, spec.stop_loss)
        _set(vector, P_TIME_LIMIT_S, spec.time_limit)
        _set(vector, P_TRAIL_ACTIVATION, spec.trailing_activation)
        _set(vector, P_TRAIL_DELTA, spec.trailing_delta)
        vector[P_OPEN_IS_LIMIT] = 0.0 if spec.taker else 1.0
    elif isinstance(spec, GridSpec):
        _set(vector, P_STOP_LOSS, spec.stop_loss)
        _set(vector, P_TIME_LIMIT_S, spec.time_limit)
    return vector


@dataclass
class _Live:
    state: ExecutorState
    spec: ExecutorSpec
    params: np.ndarray
    rec: np.ndarray
    row: int  # creation bar
    close_row: int = 0  # plain ints: reading the record's floats every bar is slow
    fill_row: int = -1
    # (side sign, fill price, amount, fee, touch) of a filled position executor, for marking
    position: tuple[float, float, float, float, bool] | None = None

    def sync(self) -> None:
        rec = self.rec
        self.close_row = int(rec[CLOSE_ROW])
        fill = rec[FILL_ROW]
        self.fill_row = int(fill) if fill == fill else -1
        self.position = None
        if isinstance(self.spec, PositionSpec) and self.fill_row >= 0:
            self.position = (
                1.0 if rec[SIDE] == float(TradeType.BUY) else -1.0,
                float(rec[FILL_PRICE]),
                float(rec[AMOUNT_BASE]),
                float(self.params[P_FEE]),
                self.params[P_FILL_MODEL] != float(FillModel.HUMMINGBOT),
            )


class _Session:
    """The engine's :class:`~hbbacktest.controllers.base.StepSession`."""

    def __init__(self, bars: Candles, features: dict[str, np.ndarray], book: PositionBook) -> None:
        self._bars = bars
        self._features = features
        self._book = book
        self.row = 0
        self.executors: list[ExecutorState] = []

    @property
    def now(self) -> float:
        return float(self._bars.ts[self.row])

    @property
    def close(self) -> float:
        return float(self._bars.close[self.row])

    @property
    def bars(self) -> Candles:
        return self._bars

    def feature(self, name: str) -> float:
        column = self._features.get(name)
        return float("nan") if column is None else float(column[self.row])

    @property
    def held_base(self) -> float:
        return self._book.net_base

    def position_summary(self) -> dict[str, Any] | None:
        if self._book.empty:
            return None
        return self._book.summary(self.close)


class StepLoop:
    """One run of a :class:`StepControllerBase` over ``bars`` from ``start_row``."""

    def __init__(
        self,
        controller: StepControllerBase[Any],
        bars: Candles,
        start_row: int,
        features: dict[str, np.ndarray],
        fill_model: FillModel,
        trade_cost: float,
    ) -> None:
        self.controller = controller
        self.bars = bars
        self.start_row = start_row
        self.fill_model = fill_model
        self.trade_cost = trade_cost
        self.book = PositionBook()
        self.session = _Session(bars, features, self.book)
        self.live: list[_Live] = []
        self.ended: deque[_Live] = deque()
        self.all: list[_Live] = []
        self.by_id: dict[str, _Live] = {}
        self.closes: list[float] = bars.close.tolist()
        self.retention_s = float(getattr(controller, "history_s", RETENTION_S))

    # -- simulation ---------------------------------------------------------------------------

    def _simulate(
        self, spec: ExecutorSpec, params: np.ndarray, k: int, stop: int, mode: int
    ) -> np.ndarray:
        b = self.bars
        rec = np.full(N_FIELDS, np.nan)
        side = float(spec.side)
        if isinstance(spec, PositionSpec):
            refresh = stop if mode == dca_nb.STOP_IF_UNFILLED else b.ts.shape[0]
            nb.simulate_position_nb(
                b.ts, b.open, b.high, b.low, b.close, k, refresh, side,
                float(spec.entry_price), float(spec.amount), params, rec,
            )  # fmt: skip
            if mode != dca_nb.STOP_IF_UNFILLED and stop < rec[CLOSE_ROW]:
                _force_close_position(rec, stop, b.close, params, mode)
        elif isinstance(spec, DCASpec):
            dca_nb.simulate_dca_nb(
                b.ts, b.open, b.high, b.low, b.close, k, stop, mode, side,
                np.asarray(spec.prices, dtype=np.float64),
                np.asarray(spec.amounts_quote, dtype=np.float64), params, rec,
            )  # fmt: skip
        elif isinstance(spec, GridSpec):
            prices, amounts = grid_nb.grid_levels_nb(
                spec.start_price, spec.end_price, spec.total_amount_quote,
                spec.min_spread_between_orders, spec.min_order_amount_quote, float(b.close[k]),
            )  # fmt: skip
            grid_nb.grid_executor_nb(
                b.ts, b.open, b.high, b.low, b.close, k, stop, side, spec.start_price,
                spec.end_price, spec.limit_price, prices, amounts, spec.take_profit,
                spec.keep_position, params, rec,
            )  # fmt: skip
        else:
            price = float("nan") if spec.price is None else float(spec.price)
            order_nb.order_executor_nb(
                b.ts, b.open, b.high, b.low, b.close, k, stop, side, price,
                float(spec.amount), ORDER_STRATEGY.get(spec.order_type, 0), params, rec,
            )  # fmt: skip
        return rec

    def _create(self, action: CreateExecutor, row: int, serial: int) -> None:
        spec = action.spec
        params = spec_params(spec, self.fill_model, self.trade_cost)
        never = self.bars.ts.shape[0]
        rec = self._simulate(spec, params, row, never, dca_nb.STOP_IF_UNFILLED)
        executor_id = action.executor_id or f"executor-{serial}"
        kind = KIND_NAMES[int(rec[KIND])]
        state = ExecutorState(
            id=executor_id,
            timestamp=float(self.bars.ts[row]),
            type=kind,
            side=TradeType(int(spec.side)),
            config=action.config,
            level_id=spec.level_id,
            controller_id=str(getattr(self.controller.config, "id", None) or "main"),
            custom_info={"level_id": spec.level_id, "side": TradeType(int(spec.side))},
        )
        live = _Live(state, spec, params, rec, row)
        live.sync()
        self.live.append(live)
        self.all.append(live)
        self.by_id[executor_id] = live

    def _stop(self, action: StopExecutor, row: int) -> None:
        live = self.by_id.get(action.executor_id)
        if live is None or live.close_row <= row or not live.state.is_active:
            return
        mode = dca_nb.STOP_KEEP_POSITION if action.keep_position else dca_nb.STOP_ALWAYS
        rec = self._simulate(live.spec, live.params, live.row, row, mode)
        rec[LEVEL] = live.rec[LEVEL]
        live.rec = rec
        live.sync()

    # -- per bar ------------------------------------------------------------------------------

    def _update(self, row: int) -> None:
        close = self.bars.close
        closes = self.closes
        ts = self.bars.ts
        still = []
        for live in self.live:
            state = live.state
            if live.close_row <= row and live.row < row:
                rec = live.rec
                state.is_active = False
                state.is_trading = False
                state.status = "TERMINATED"
                state.close_type = CloseType(int(rec[CLOSE_TYPE]))
                state.close_timestamp = float(ts[int(rec[CLOSE_ROW])])
                state.net_pnl_pct = float(rec[NET_PNL_PCT])
                state.net_pnl_quote = float(rec[NET_PNL_QUOTE])
                state.cum_fees_quote = float(rec[CUM_FEES_QUOTE])
                state.filled_amount_quote = float(rec[FILLED_AMOUNT_QUOTE])
                state.custom_info["close_price"] = _finite(
                    rec[EXIT_PRICE], close[int(rec[CLOSE_ROW])]
                )
                state.custom_info["current_position_average_price"] = _finite(rec[FILL_PRICE], 0.0)
                if state.close_type is CloseType.POSITION_HOLD and rec[HOLD_BASE] > 0:
                    self.book.add(
                        state.side is TradeType.BUY,
                        float(rec[HOLD_BASE]),
                        float(rec[HOLD_PRICE]),
                        float(rec[CUM_FEES_QUOTE]),
                    )
                self.ended.append(live)
                continue
            still.append(live)
            fill_row = live.fill_row
            trading = 0 <= fill_row <= row and live.row < row
            state.is_trading = trading
            if trading:
                price = closes[row]
                state.custom_info["close_price"] = price
                if live.position is not None:
                    # A position's mark is arithmetic: no record copy, no kernel call.
                    sign, fill_price, amount, fee, touch = live.position
                    net, fees, volume = _position_close(
                        sign, fill_price, amount, fee, touch, price, keep=False
                    )
                    state.net_pnl_quote = net
                    state.net_pnl_pct = _pnl_pct(net, amount, fill_price)
                    state.cum_fees_quote = fees
                    state.filled_amount_quote = volume
                    state.custom_info["current_position_average_price"] = fill_price
                    continue
                mark = self._simulate(live.spec, live.params, live.row, row, dca_nb.STOP_ALWAYS)
                state.net_pnl_pct = float(mark[NET_PNL_PCT])
                state.net_pnl_quote = float(mark[NET_PNL_QUOTE])
                state.cum_fees_quote = float(mark[CUM_FEES_QUOTE])
                state.filled_amount_quote = float(mark[FILLED_AMOUNT_QUOTE])
                state.custom_info["current_position_average_price"] = _finite(mark[FILL_PRICE], 0.0)
        self.live = still
        horizon = ts[row] - self.retention_s
        while self.ended and (self.ended[0].state.close_timestamp or 0.0) < horizon:
            self.ended.popleft()
        self.session.executors = [live.state for live in self.live] + [
            live.state for live in self.ended
        ]

    def run(self) -> tuple[np.ndarray, list[Level]]:
        """Step every bar; return the record matrix (creation order) and its levels."""
        n = self.bars.ts.shape[0]
        self.session.row = self.start_row
        self._call(lambda: self.controller.prepare(self.session), "prepare")
        level_index: dict[tuple[str | None, int], int] = {}
        levels: list[Level] = []
        serial = 0
        for row in range(self.start_row, n):
            self.session.row = row
            self._update(row)
            actions = self._call(lambda: self.controller.on_bar(self.session), "on_bar")
            if actions is None:
                continue
            if type(actions) is not list and (
                not isinstance(actions, Iterable) or isinstance(actions, str | bytes | Mapping)
            ):
                raise self._bad_return(
                    f"returned {_shown(actions)} at bar {row}; expected a list of "
                    "CreateExecutor and StopExecutor actions"
                )
            for action in actions:
                if isinstance(action, CreateExecutor):
                    if not isinstance(action.spec, _SPECS):
                        raise self._bad_return(
                            f"returned CreateExecutor(spec={_shown(action.spec)}) at bar {row}; "
                            "expected a PositionSpec, DCASpec, GridSpec or OrderSpec"
                        )
                    self._create(action, row, serial)
                    serial += 1
                    live = self.all[-1]
                    key = (action.spec.level_id, int(action.spec.side))
                    if key not in level_index:
                        level_index[key] = len(levels)
                        levels.append(
                            Level(action.spec.level_id or "", TradeType(int(action.spec.side)), 0.0)
                        )
                    live.rec[LEVEL] = level_index[key]
                elif isinstance(action, StopExecutor):
                    self._stop(action, row)
                else:
                    raise self._bad_return(
                        f"returned {_shown(action)} in its list at bar {row}; expected "
                        "CreateExecutor or StopExecutor actions"
                    )
        matrix = np.array([live.rec for live in self.all]).reshape(-1, N_FIELDS)
        return matrix, levels

    def _call(self, fn: Any, what: str) -> Any:
        # Only catches and sorts errors: the time limit is armed once for the whole loop.
        return call_controller(
            fn, controller_name=self.controller.config.controller_name, during=what
        )

    def _bad_return(self, problem: str) -> ControllerError:
        file, line = self.controller.hook_location("on_bar")
        place = f" (defined at {file}:{line})" if file else ""
        name = self.controller.config.controller_name
        return ControllerError(
            f"controller {name!r}: on_bar{place} {problem}",
            controller_name=name,
            file=file,
            line=line,
        )


_SPECS = (PositionSpec, DCASpec, GridSpec, OrderSpec)


def _shown(value: object) -> str:
    text = " ".join(repr(value).split())  # numpy's reprs span lines
    return f"{type(value).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def _finite(value: float, default: float) -> float:
    return float(value) if np.isfinite(value) else float(default)


def _force_close_position(
    rec: np.ndarray, row: int, close: np.ndarray, params: np.ndarray, mode: int
) -> None:
    """Close a position executor at ``row``'s close (or hand it to a hold), in place."""
    keep = mode == dca_nb.STOP_KEEP_POSITION
    rec[CLOSE_ROW] = row
    fill = rec[FILL_ROW]
    if not (fill >= 0 and fill <= row):
        rec[CLOSE_TYPE] = float(CloseType.EARLY_STOP)
        rec[FILL_ROW] = -1.0
        for index in (FILL_PRICE, EXIT_PRICE):
            rec[index] = np.nan
        for index in (NET_PNL_PCT, NET_PNL_QUOTE, CUM_FEES_QUOTE, FILLED_AMOUNT_QUOTE):
            rec[index] = 0.0
        return
    fill_price = float(rec[FILL_PRICE])
    amount = float(rec[AMOUNT_BASE])
    exit_price = float(close[row])
    touch = params[P_FILL_MODEL] != float(FillModel.HUMMINGBOT)
    sign = 1.0 if rec[SIDE] == float(TradeType.BUY) else -1.0
    net, fees, volume = _position_close(
        sign, fill_price, amount, float(params[P_FEE]), touch, exit_price, keep=keep
    )
    if keep:
        rec[CLOSE_TYPE] = float(CloseType.POSITION_HOLD)
        rec[HOLD_BASE] = amount
        rec[HOLD_PRICE] = fill_price
    else:
        rec[CLOSE_TYPE] = float(CloseType.EARLY_STOP)
    rec[EXIT_PRICE] = exit_price
    rec[NET_PNL_QUOTE] = net
    rec[NET_PNL_PCT] = _pnl_pct(net, amount, fill_price)
    rec[CUM_FEES_QUOTE] = fees
    rec[FILLED_AMOUNT_QUOTE] = volume


def _pnl_pct(net: float, amount: float, fill_price: float) -> float:
    """Net PnL over the entry notional; a zero-size (or zero-priced) position has 0 %."""
    entry_quote = amount * fill_price
    return net / entry_quote if entry_quote != 0.0 else 0.0


def _position_close(
    sign: float,
    fill_price: float,
    amount: float,
    fee: float,
    touch: bool,
    price: float,
    *,
    keep: bool,
) -> tuple[float, float, float]:
    """Net PnL, fees and volume of a filled position closed (or kept) at ``price``.

    ``hummingbot``: fees on twice the entry notional, volume the entry notional (an early stop
    is not the simulation's closing row); ``touch``: fees and volume on entry plus exit notional.
    Kept for a hold: only the entry is paid and counted.
    """
    entry_quote = amount * fill_price
    if keep:
        fees, volume = fee * entry_quote, entry_quote
    elif touch:
        fees, volume = fee * amount * (fill_price + price), amount * (fill_price + price)
    else:
        fees, volume = 2.0 * fee * entry_quote, entry_quote
    return sign * (price - fill_price) * amount - fees, fees, volume


def run_step_controller(
    controller: StepControllerBase[Any],
    bars: Candles,
    start_row: int,
    features: dict[str, np.ndarray],
    fill_model: FillModel,
    trade_cost: float,
) -> tuple[np.ndarray, list[Level]]:
    """Run a bar-by-bar controller; see the module docstring."""
    loop = StepLoop(controller, bars, start_row, features, fill_model, trade_cost)
    return loop.run()


__all__: Sequence[str] = ("RETENTION_S", "StepLoop", "run_step_controller", "spec_params")
