"""Summarize executors posted by a client: the ``results`` of a backtest, from executor dicts.

The use case behind ``POST /performance/summarize``. hummingbot-api once had the same endpoint
(``POST /performance/results``, body ``{"executors": [...]}``, answer
``{"executors": ..., "results": ...}``, removed upstream in June 2025); its body is accepted
here as is, with optional fields of our own (:class:`SummarizeRequest`).

Executors come in either of two shapes, field by field (a flat field wins over a nested one):

* hbbacktest's own (``hbbacktest run`` JSON ``executors``, ``BacktestResult.executors()``):
  enum names (``"BUY"``, ``"TAKE_PROFIT"``) and flat ``side``, ``fill_price``, ``exit_price``,
  ``held_amount``;
* hummingbot-api's ``ExecutorInfo``: integer enums (side 1/2, close_type 1 … 10, status 4),
  the side in ``config.side`` or ``custom_info.side``, prices in ``custom_info``
  (``close_price``, ``current_position_average_price``), numbers possibly as decimal strings,
  timestamps in s, ms, µs or ns, ``config``/``custom_info`` possibly JSON strings.

What is exact (``summarize_results`` runs on engine records rebuilt from the executors, with
the engine's own PnL-curve and position-hold code; tests check each claim on real runs):

* Always exact: ``net_pnl``, ``net_pnl_quote``, every count, ``close_types``, accuracies,
  ``total_volume``, ``profit_factor``, ``win_signals``/``loss_signals``, ``total_fees_quote``
  and ``position_realized_pnl_quote`` (held fills are netted in close-time order, ties in list
  order: post executors in creation order, as hbbacktest lists them).
* ``unrealized_pnl_quote`` marks the open position hold at ``final_price``, else at the last
  of ``prices``, else at the last price an executor reported (approximate).
* ``max_drawdown_usd``, ``max_drawdown_pct`` and ``sharpe_ratio`` are statistics of the per-bar
  ``total_pnl`` curve. With the run's window (``start``, ``end``, ``backtesting_resolution``)
  that curve is rebuilt bar by bar as the engine builds it: exact for bars at multiples of the
  resolution without gaps, except for what an open position hold adds, marked by the engine at
  every bar's close. Executors do not carry those closes: give ``prices`` (exact), or between
  executor closes the hold is marked at the last price an executor reported.
  Without a window the curve has one point per close time after a leading 0 (and, with an
  open hold and a known final price, one at the end). Drawdowns are then exact unless an
  executor booked PnL on the window's first bar, an ``EARLY_STOP`` with PnL closed on its
  last bar (upstream books it after the run ends), or a position hold was open (the engine
  marks it at every bar, the points only at close times, even with ``prices``);
  ``sharpe_ratio`` is not the backtest's: the per-bar curve repeats each value for as many
  bars as it lasted, and the window is unknown. Early stops are booked one bar after their
  close time, as upstream; without ``backtesting_resolution`` the bar is taken as the greatest
  common divisor of the executors' timestamp differences.

Held executors (``POSITION_HOLD``) hand ``held_amount`` base at their average entry price
(``fill_price`` / ``custom_info.current_position_average_price``) to the position hold; their
mark at ``exit_price`` / ``custom_info.close_price`` is taken out of their PnL, as the engine
does. Without ``held_amount`` (upstream's shape) it is ``filled_amount_quote`` / average price:
right for order, DCA and position executors up to rounding, too large for a grid executor that
completed round trips before it ended.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Mapping, Sequence
from enum import IntEnum
from typing import Annotated, Any, TypeVar

import numpy as np
from pydantic import (
    AfterValidator,
    AliasChoices,
    AliasPath,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from hbbacktest.config.request import MAX_BARS
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.core.errors import ConfigError, did_you_mean
from hbbacktest.core.time import MAX_EPOCH_S, format_time, interval_to_seconds, parse_time
from hbbacktest.engine.records import EXECUTOR_DTYPE
from hbbacktest.metrics.encode import results_json
from hbbacktest.metrics.holds import HoldCurves, executor_booked_pnl, hold_curves, hold_mask
from hbbacktest.metrics.summary import empty_summary, summarize_results
from hbbacktest.metrics.timeseries import pnl_timeseries

__all__ = ["ExecutorInput", "SummarizeRequest", "summarize", "summarize_executors"]

#: Bound on any amount, price or PnL: far beyond real values, far from float overflow even
#: summed and squared over millions of executors.
MAX_ABS = 1e18
#: Executors in one request.
MAX_EXECUTORS = 10_000_000
#: Problems named in one error message.
_MAX_PROBLEMS = 20
_MAX_SHOWN = 120

E = TypeVar("E", bound=IntEnum)


class RunnableStatus(IntEnum):
    """Hummingbot's executor status, with its names and codes."""

    NOT_STARTED = 1
    RUNNING = 2
    SHUTTING_DOWN = 3
    TERMINATED = 4


def _enum(enum: type[E], what: str) -> Callable[[Any], E]:
    """A validator reading ``enum`` from a member, its code, or its name in any case."""
    names = {member.name: member for member in enum}
    listed = ", ".join(f"{member.name} ({member.value})" for member in enum)
    # The common spellings, looked up at once (50,000 executors take three lookups each).
    quick: dict[Any, E] = {}
    for member in enum:
        quick.update({member.value: member, member.name: member, str(member.value): member})

    def parse(value: Any) -> E:
        if value is True or value is False:  # True == 1 would find a member
            raise ValueError(f"expected a {what} name or code, not a boolean; one of {listed}")
        try:
            return quick[value]
        except (KeyError, TypeError):
            pass
        code: Any = None
        if isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer()):
            code = int(value)
        elif isinstance(value, str):
            text = value.strip()
            if text.lstrip("+-").isdigit() and len(text) < 10:
                code = int(text)
            else:
                # Hummingbot's str() of an enum is "TradeType.BUY"; its name is what counts.
                key = text.rsplit(".", 1)[-1].upper()
                if key in names:
                    return names[key]
                raise ValueError(f"unknown {what}{did_you_mean(key, names)}; one of {listed}")
        else:
            raise ValueError(f"expected a {what} name or code; one of {listed}")
        try:
            return enum(code)
        except ValueError:
            raise ValueError(f"{code} is no {what} code; one of {listed}") from None

    return parse


def _terminated(value: RunnableStatus) -> RunnableStatus:
    if value is not RunnableStatus.TERMINATED:
        raise ValueError(
            f"the executor is {value.name}: only closed (TERMINATED) executors can be "
            "summarized; leave out active ones"
        )
    return value


def _no_bool(value: Any) -> Any:
    # pydantic reads True as 1.0; a boolean where a number belongs is a mistake.
    if value is True or value is False:
        raise ValueError("expected a number, not a boolean")
    return value


def _epoch_s(value: Any) -> int:
    if type(value) is int and 0 <= value < MAX_EPOCH_S:  # epoch seconds, the usual case
        return value
    if value is True or value is False:
        raise ValueError("expected an epoch timestamp, not a boolean")
    try:
        return parse_time(value, field="timestamp")
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("timestamp: ")) from None


Side = Annotated[TradeType, BeforeValidator(_enum(TradeType, "side"))]
Close = Annotated[CloseType, BeforeValidator(_enum(CloseType, "close type"))]
Status = Annotated[RunnableStatus, BeforeValidator(_enum(RunnableStatus, "status"))]
Timestamp = Annotated[int, BeforeValidator(_epoch_s)]
Quote = Annotated[float, Field(ge=-MAX_ABS, le=MAX_ABS), BeforeValidator(_no_bool)]
Positive = Annotated[float, Field(ge=0, le=MAX_ABS), BeforeValidator(_no_bool)]

_HINTS = {
    "side": "give side, config.side or custom_info.side (BUY/SELL or 1/2)",
    "close_type": "summarize only closed executors",
    "close_timestamp": "summarize only closed executors",
    "net_pnl_quote": "the executor's net PnL in quote",
}


class ExecutorInput(BaseModel):
    """One closed executor, in hbbacktest's shape or hummingbot-api's ``ExecutorInfo`` shape.

    Unknown keys are ignored; each field is read from the first place that has it.

    Attributes:
        side: ``side``, ``config.side`` or ``custom_info.side``: ``BUY``/``SELL`` or 1/2.
        close_type: ``TAKE_PROFIT`` … or its code 1 … 10 (any case; ``CloseType.X`` too).
        close_timestamp: when it closed: epoch s (ms, µs, ns are converted) or an ISO date.
        timestamp: when it was created (``timestamp`` or ``config.timestamp``), optional.
        status: ``TERMINATED`` (4) when given; an active executor is refused.
        net_pnl_quote: net PnL in quote (fees out; for a held executor, its mark included).
        net_pnl_pct: net PnL / filled amount, optional (checked, not used).
        cum_fees_quote: fees paid, quote (0 by default).
        filled_amount_quote: traded notional, quote (0 by default).
        held_amount: base handed to the position hold (``POSITION_HOLD`` only), optional.
        fill_price: average entry price (``fill_price`` or
            ``custom_info.current_position_average_price``; 0 means unknown), optional.
        exit_price: the close price (``exit_price`` or ``custom_info.close_price``), optional;
            a held executor's PnL is marked at it.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    side: Side = Field(
        validation_alias=AliasChoices(
            "side", AliasPath("config", "side"), AliasPath("custom_info", "side")
        )
    )
    close_type: Close
    close_timestamp: Timestamp
    timestamp: Timestamp | None = Field(
        default=None, validation_alias=AliasChoices("timestamp", AliasPath("config", "timestamp"))
    )
    status: Annotated[Status, AfterValidator(_terminated)] | None = None
    net_pnl_quote: Quote
    net_pnl_pct: Quote | None = None
    cum_fees_quote: Quote = 0.0
    filled_amount_quote: Positive = 0.0
    held_amount: Positive | None = None
    fill_price: Positive | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "fill_price", AliasPath("custom_info", "current_position_average_price")
        ),
    )
    exit_price: Positive | None = Field(
        default=None,
        validation_alias=AliasChoices("exit_price", AliasPath("custom_info", "close_price")),
    )

    @model_validator(mode="before")
    @classmethod
    def _decode_nested(cls, data: Any) -> Any:
        # hummingbot-api's database exports hold config and custom_info as JSON text.
        if not isinstance(data, Mapping):
            return data
        config, custom_info = data.get("config"), data.get("custom_info")
        if (config is None or type(config) is dict) and (
            custom_info is None or type(custom_info) is dict
        ):
            return data  # the usual case, checked cheaply
        for key in ("config", "custom_info"):
            if data.get(key) is not None and not isinstance(data[key], Mapping | str):
                raise ValueError(f"{key} must be an object, not {type(data[key]).__name__}")
        nested = [key for key in ("config", "custom_info") if isinstance(data.get(key), str)]
        if not nested:
            return data
        data = dict(data)
        for key in nested:
            try:
                data[key] = json.loads(data[key])
            except ValueError as exc:
                raise ValueError(f"{key} is text but not JSON ({exc})") from None
        return data


class PriceSeries(BaseModel):
    """Close prices over the run, read as of each time (the last close at or before it).

    Columns, as in a run's candles or its ``processed_data.features`` (whose other columns are
    ignored, so a ``features`` table with a ``close`` column can be posted as is).

    Attributes:
        timestamp: bar open times, strictly increasing: epoch s (ms, µs, ns converted).
        close: the bars' close prices (> 0), as many as timestamps.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False)

    timestamp: list[Timestamp] = Field(min_length=1, max_length=MAX_BARS)
    close: list[Annotated[float, Field(gt=0, le=MAX_ABS), BeforeValidator(_no_bool)]] = Field(
        min_length=1, max_length=MAX_BARS
    )

    @model_validator(mode="after")
    def _check_columns(self) -> PriceSeries:
        if len(self.timestamp) != len(self.close):
            raise ValueError(
                f"timestamp has {len(self.timestamp)} values and close {len(self.close)}; "
                "give one close per timestamp"
            )
        ts = np.asarray(self.timestamp, dtype=np.int64)
        steps = np.flatnonzero(np.diff(ts) <= 0)
        if steps.size:
            i = int(steps[0]) + 1
            raise ValueError(
                f"timestamp must increase strictly: timestamp[{i}] = {ts[i]} follows {ts[i - 1]}"
            )
        return self

    def at(self, times: np.ndarray) -> np.ndarray:
        """The close as of each time; NaN before the first timestamp."""
        ts = np.asarray(self.timestamp, dtype=np.int64)
        index = np.searchsorted(ts, times, side="right") - 1
        close = np.asarray(self.close, dtype=np.float64)
        return np.where(index >= 0, close[np.maximum(index, 0)], np.nan)


class SummarizeRequest(BaseModel):
    """The body of ``POST /performance/summarize``.

    Attributes:
        executors: closed executors (:class:`ExecutorInput`), in creation order.
        total_amount_quote: the capital (> 0), base of ``net_pnl`` and ``max_drawdown_pct``;
            1000 by default, as upstream's ``summarize_results``.
        final_price: the run's last close, at which an open position hold is marked; by
            default the last of ``prices``, else the last price an executor reports.
        prices: the run's close prices (:class:`PriceSeries`), marking an open position hold
            bar by bar as the engine does; without them, at the last price an executor reported.
        start: first bar of the run's window (``start_time`` too): epoch s/ms or a UTC date.
        end: last bar of the window, inclusive (``end_time`` too). Give both or neither.
        backtesting_resolution: the bar interval (``"1m"`` by default when a window is given).
            With a window, the drawdowns and the Sharpe ratio are the backtest's own.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        allow_inf_nan=False,
        json_schema_extra={
            "examples": [
                {
                    "executors": [
                        {
                            "timestamp": 1704672060,
                            "close_timestamp": 1704672960,
                            "side": "BUY",
                            "close_type": "TAKE_PROFIT",
                            "net_pnl_quote": 1.2,
                            "cum_fees_quote": 0.06,
                            "filled_amount_quote": 100.0,
                        }
                    ],
                    "total_amount_quote": 1000,
                    "start": 1704672000,
                    "end": 1704844800,
                    "backtesting_resolution": "1m",
                }
            ]
        },
    )

    executors: list[ExecutorInput] = Field(max_length=MAX_EXECUTORS)
    total_amount_quote: Annotated[float, Field(gt=0, le=MAX_ABS), BeforeValidator(_no_bool)] = (
        1000.0
    )
    final_price: Annotated[float, Field(gt=0, le=MAX_ABS), BeforeValidator(_no_bool)] | None = None
    prices: PriceSeries | None = None
    start: int | None = Field(default=None, validation_alias=AliasChoices("start", "start_time"))
    end: int | None = Field(default=None, validation_alias=AliasChoices("end", "end_time"))
    backtesting_resolution: str | None = None

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_times(cls, value: Any) -> Any:
        return None if value is None else _epoch_s(value)

    @field_validator("backtesting_resolution")
    @classmethod
    def _check_resolution(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                interval_to_seconds(value)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return value

    @model_validator(mode="after")
    def _check_window(self) -> SummarizeRequest:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end (the run's window), or neither")
        if self.start is not None and self.end is not None:
            if self.start >= self.end:
                raise ValueError(
                    f"start ({format_time(self.start)}) must be before end "
                    f"({format_time(self.end)})"
                )
            bars = (self.end - self.start) // self.resolution_s + 1
            if bars > MAX_BARS:
                raise ValueError(
                    f"the window holds {bars:,} {self.backtesting_resolution or '1m'} bars; at "
                    f"most {MAX_BARS:,}: give a coarser backtesting_resolution"
                )
        return self

    @property
    def resolution_s(self) -> int:
        """The bar interval in seconds (``1m`` when not given)."""
        return interval_to_seconds(self.backtesting_resolution or "1m")


def summarize_executors(
    executors: Sequence[Mapping[str, Any]],
    *,
    total_amount_quote: float = 1000.0,
    final_price: float | None = None,
    prices: Mapping[str, Sequence[Any]] | None = None,
    start: int | str | None = None,
    end: int | str | None = None,
    backtesting_resolution: str | None = None,
) -> dict[str, Any]:
    """Hummingbot's ``summarize_results`` keys (plus ours) for executors a client posts.

    Args:
        executors: closed executors, in hbbacktest's or hummingbot-api's shape
            (:class:`ExecutorInput`), in creation order.
        total_amount_quote: the capital, quote (> 0); default 1000.
        final_price: the run's last close, marking an open position hold; default: the last
            of ``prices``, else the last price an executor reports.
        prices: the run's closes, ``{"timestamp": [...], "close": [...]}``
            (:class:`PriceSeries`), marking an open position hold bar by bar.
        start: first bar of the run's window (epoch s/ms or a UTC date); with ``end``, the
            PnL curve is rebuilt bar by bar (exact drawdowns and Sharpe ratio).
        end: last bar of the window, inclusive.
        backtesting_resolution: the bar interval; ``"1m"`` when a window is given.

    Returns:
        The ``results`` dict of a backtest (same keys as ``BacktestResult.results``), strict
        JSON: finite numbers or None. No executors: :func:`empty_summary`. The module
        docstring says which metrics are exact and which are approximated, and how.

    Raises:
        ConfigError: an executor or option is invalid; the message names each executor index
            and field path (``executors[3].config.side``) and what was expected.

    Example:
        >>> from hbbacktest.service.backtest import run_backtest
        >>> from hbbacktest.service.defaults import default_request
        >>> result = run_backtest(default_request())
        >>> request = result.request
        >>> summary = summarize_executors(
        ...     result.executors(), total_amount_quote=1000, start=request.start, end=request.end
        ... )
        >>> summary == result.results
        True
    """
    return summarize(
        {
            "executors": executors,
            "total_amount_quote": total_amount_quote,
            "final_price": final_price,
            "prices": prices,
            "start": start,
            "end": end,
            "backtesting_resolution": backtesting_resolution,
        }
    )


def summarize(request: SummarizeRequest | Mapping[str, Any]) -> dict[str, Any]:
    """Summarize a :class:`SummarizeRequest` (or a body to validate as one).

    See :func:`summarize_executors` for the fields and the answer.

    Raises:
        ConfigError: the body is invalid (each problem named with its field path).
    """
    if not isinstance(request, SummarizeRequest):
        request = _validate(request)
    if not request.executors:
        return empty_summary()
    records, close_ts, created_ts, marks = _records(request.executors)
    if request.start is not None and request.end is not None:
        total_pnl, holds, last_price = _bar_curve(request, records, close_ts, marks)
    else:
        total_pnl, holds, last_price = _point_curve(request, records, close_ts, created_ts, marks)
    final_price = request.final_price if request.final_price is not None else last_price
    # Values are bounded (MAX_ABS); only a tiny capital can still overflow a ratio, which
    # results_json turns into None.
    with np.errstate(over="ignore", invalid="ignore"):
        results = summarize_results(
            records, request.total_amount_quote, total_pnl, holds, final_price
        )
    return results_json(results)


def _validate(body: Mapping[str, Any]) -> SummarizeRequest:
    if not isinstance(body, Mapping):
        raise ConfigError(
            f"the summarize body must be a JSON object with 'executors', got {type(body).__name__}"
        )
    data = dict(body)
    executors = data.get("executors")
    if isinstance(executors, Sequence) and not isinstance(executors, str | bytes | list):
        data["executors"] = list(executors)
    try:
        return SummarizeRequest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(body)"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    lines = []
    for error in errors[:_MAX_PROBLEMS]:
        loc = tuple(error["loc"])
        path = _path(loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            hint = _HINTS.get(str(loc[-1])) if loc[:1] == ("executors",) else None
            lines.append(f"{path}: required field is missing" + (f" ({hint})" if hint else ""))
            continue
        if error["type"] == "extra_forbidden":
            known = SummarizeRequest.model_fields
            lines.append(f"{path}: unknown field{did_you_mean(str(loc[-1]), known)}")
            continue
        given = error.get("input")
        if isinstance(given, Mapping):  # a whole executor: the message names the field
            lines.append(f"{path}: {message}")
            continue
        shown = repr(given)
        if len(shown) > _MAX_SHOWN:
            shown = shown[:_MAX_SHOWN] + "…"
        lines.append(f"{path} = {shown}: {message}")
    more = len(errors) - len(lines)
    if more > 0:
        lines.append(f"… and {more} more")
    header = f"invalid summarize request ({len(errors)} problem{'s' if len(errors) != 1 else ''}):"
    return "\n".join([header, *("  - " + line for line in lines)])


def _column(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _records(
    executors: Sequence[ExecutorInput],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Engine records (rows unset), close and creation times, and the price each reports."""
    n = len(executors)
    records = np.zeros(n, dtype=EXECUTOR_DTYPE)
    records["side"] = [int(e.side) for e in executors]
    records["close_type"] = [int(e.close_type) for e in executors]
    records["fill_row"] = -1
    records["net_pnl_quote"] = [e.net_pnl_quote for e in executors]
    records["net_pnl_pct"] = _column([e.net_pnl_pct for e in executors])
    records["cum_fees_quote"] = [e.cum_fees_quote for e in executors]
    records["filled_amount_quote"] = [e.filled_amount_quote for e in executors]
    # A zero average price is upstream's "never filled".
    fill = _column([e.fill_price or None for e in executors])
    exit_ = _column([e.exit_price or None for e in executors])
    records["entry_price"] = np.nan
    records["fill_price"] = fill
    records["exit_price"] = exit_
    held = records["close_type"] == CloseType.POSITION_HOLD
    given = _column([e.held_amount for e in executors])
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = np.where(fill > 0, records["filled_amount_quote"] / fill, 0.0)
    base = np.where(np.isnan(given), derived, given)
    records["hold_base"] = np.where(held, base, 0.0)
    records["hold_price"] = np.where(held & (records["hold_base"] > 0), fill, np.nan)
    close_ts = np.array([e.close_timestamp for e in executors], dtype=np.int64)
    created_ts = np.array(
        [-1 if e.timestamp is None else e.timestamp for e in executors], dtype=np.int64
    )
    marks = np.where(np.isfinite(exit_), exit_, fill)
    return records, close_ts, created_ts, marks


def _price_path(
    times: np.ndarray, rows: np.ndarray, marks: np.ndarray, series: PriceSeries | None
) -> np.ndarray:
    """A price for each curve point: ``series`` as of its time, else the last executor price.

    Executor prices fill what the series does not cover: each point takes the last price
    reported at or before it (the first one reported, before any).
    """
    length = times.shape[0]
    prices = np.full(length, np.nan)
    known = np.isfinite(marks)
    if known.any():
        order = np.argsort(rows[known], kind="stable")
        at, values = rows[known][order], marks[known][order]
        last = np.append(at[1:] != at[:-1], True)  # the last report of each row wins
        prices[at[last]] = values[last]
        index = np.where(np.isfinite(prices), np.arange(length), -1)
        np.maximum.accumulate(index, out=index)
        prices = np.where(index >= 0, prices[np.maximum(index, 0)], values[0])
    if series is not None:
        quoted = series.at(times)
        prices = np.where(np.isfinite(quoted), quoted, prices)
    # Nothing is held where no price is known, but NaN × 0 would still poison the curve.
    return np.where(np.isfinite(prices), prices, 0.0)


def _holds(records: np.ndarray, prices: np.ndarray) -> HoldCurves | None:
    return hold_curves(records, prices) if hold_mask(records).any() else None


def _last_price(request: SummarizeRequest, prices: np.ndarray) -> float:
    if request.final_price is not None:
        return request.final_price
    if request.prices is not None:
        return request.prices.close[-1]
    return float(prices[-1]) if prices[-1] > 0 else float("nan")


def _bar_curve(
    request: SummarizeRequest, records: np.ndarray, close_ts: np.ndarray, marks: np.ndarray
) -> tuple[np.ndarray, HoldCurves | None, float]:
    """The engine's per-bar ``total_pnl`` over the window, bars at multiples of the resolution."""
    assert request.start is not None and request.end is not None
    step = request.resolution_s
    first = -(-request.start // step) * step
    last = request.end // step * step
    resolution = request.backtesting_resolution or "1m"
    if last < first:
        raise ConfigError(
            f"no {resolution} bar opens between start ({format_time(request.start)}) and end "
            f"({format_time(request.end)})"
        )
    n = (last - first) // step + 1
    rows = (close_ts - first) // step
    outside = np.flatnonzero((rows < 0) | (rows >= n))
    if outside.size:
        shown = ", ".join(
            f"executors[{i}].close_timestamp = {close_ts[i]} ({format_time(close_ts[i])})"
            for i in outside[:5].tolist()
        )
        raise ConfigError(
            f"{outside.size} executor(s) closed outside the window's {resolution} bars "
            f"{format_time(first)} … {format_time(last)}: {shown}; widen start/end or leave "
            "them out"
        )
    records["created_row"] = rows
    records["close_row"] = rows
    bar_ts = first + step * np.arange(n, dtype=np.int64)
    prices = _price_path(bar_ts, rows, marks, request.prices)
    last_price = _last_price(request, prices)
    if request.final_price is not None:
        prices[-1] = request.final_price
    holds = _holds(records, prices)
    total = pnl_timeseries(records, bar_ts, 0, holds)["total_pnl"]
    return total, holds, last_price


def _point_curve(
    request: SummarizeRequest,
    records: np.ndarray,
    close_ts: np.ndarray,
    created_ts: np.ndarray,
    marks: np.ndarray,
) -> tuple[np.ndarray, HoldCurves | None, float]:
    """``total_pnl`` at each close time, after a leading 0 (see the module docstring)."""
    if request.backtesting_resolution is not None:
        step = request.resolution_s
    else:
        times = np.unique(np.concatenate([close_ts, created_ts[created_ts >= 0]]))
        step = int(np.gcd.reduce(np.diff(times))) if times.size > 1 else 0
    early = records["close_type"] == CloseType.EARLY_STOP
    # Doubled times: an early stop is booked a bar later, or just after its close time when
    # the bar is unknown.
    keys = 2 * close_ts + np.where(early, 2 * step if step > 0 else 1, 0)
    points, rows = np.unique(keys, return_inverse=True)
    rows = rows.reshape(-1).astype(np.int64) + 1
    records["created_row"] = rows
    records["close_row"] = rows
    point_ts = np.concatenate([points[:1] // 2, points // 2])
    prices = _price_path(point_ts, rows, marks, request.prices)
    last_price = _last_price(request, prices)
    holds = _holds(records, prices)
    booked = np.bincount(rows, weights=executor_booked_pnl(records), minlength=points.size + 1)
    total = np.cumsum(booked)
    if holds is not None:
        total = total + holds.realized + holds.unrealized
        given = request.final_price is not None or request.prices is not None
        if given and holds.hold.net_base != 0 and np.isfinite(last_price):
            # The run's end: the open hold marked at the final price.
            at_end = total[-1] - holds.unrealized[-1] + holds.hold.unrealized(last_price)
            total = np.append(total, at_end)
    return total, holds, last_price
