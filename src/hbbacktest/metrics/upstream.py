"""A result in hummingbot-api's ``POST /backtesting/run`` shape and encoding.

hummingbot-api returns ``executors`` (``ExecutorInfo.to_dict()``), ``processed_data`` (the
features frame after ``fillna(0)``, ``DataFrame.to_dict()``: ``{column: {"<epoch s>.0":
value}}``), ``results``, ``position_holds``, ``position_held_timeseries`` and
``pnl_timeseries`` (lists of rows), all passed through FastAPI's ``jsonable_encoder``: enums
become their integer ``value``, ``Decimal`` fields an ``int`` when integral and a ``float``
otherwise, dict keys strings. :func:`upstream_result` builds that document from a
:class:`~hbbacktest.metrics.result.BacktestResult`; :func:`upstream_result_json` writes the
same document as strict JSON bytes, encoding the executors column by column. Field by field,
with what differs from upstream and why: ``docs/hummingbot-api-format.md``.

Numbers that are not finite never reach the output: ``processed_data`` writes them as ``0``
(upstream's ``fillna(0)``), every other field as ``null``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import orjson

from hbbacktest.core.enums import OrderType, TradeType
from hbbacktest.data.candles import Candles
from hbbacktest.engine.records import KIND_DCA, KIND_GRID, KIND_NAMES, KIND_ORDER, KIND_POSITION
from hbbacktest.metrics.holds import hold_curves, hold_mask
from hbbacktest.metrics.result import BacktestResult

__all__ = [
    "OHLCV_COLUMNS",
    "RESULT_KEYS",
    "TERMINATED",
    "UPSTREAM_KEYS",
    "upstream_result",
    "upstream_result_json",
]

UPSTREAM_KEYS = (
    "executors",
    "processed_data",
    "results",
    "position_holds",
    "position_held_timeseries",
    "pnl_timeseries",
)
"""The top-level keys of hummingbot-api's ``/backtesting/run`` result, in its order."""

RESULT_KEYS = (
    "net_pnl",
    "net_pnl_quote",
    "total_executors",
    "total_executors_with_position",
    "total_volume",
    "total_long",
    "total_short",
    "close_types",
    "accuracy_long",
    "accuracy_short",
    "total_positions",
    "accuracy",
    "max_drawdown_usd",
    "max_drawdown_pct",
    "sharpe_ratio",
    "profit_factor",
    "win_signals",
    "loss_signals",
    "unrealized_pnl_quote",
    "position_realized_pnl_quote",
    "total_fees_quote",
)
"""Upstream's ``summarize_results`` keys, in its order."""

_INT_RESULT_KEYS = frozenset(
    {
        "total_executors",
        "total_executors_with_position",
        "total_long",
        "total_short",
        "total_positions",
        "win_signals",
        "loss_signals",
    }
)

TERMINATED = 4
"""``RunnableStatus.TERMINATED``: every executor of a finished backtest."""

OHLCV_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")
"""The candle columns ``processed_data`` starts with (``timestamp`` in epoch seconds)."""

_MISSING_OHLCV_NOTE = (
    "processed_data has no open/high/low/close/volume columns: the encoder was not given the "
    "run's candles"
)
_DEFAULT_BARRIER: dict[str, Any] = {
    "stop_loss": None,
    "take_profit": None,
    "time_limit": None,
    "trailing_stop": None,
    "open_order_type": int(OrderType.LIMIT),
    "take_profit_order_type": int(OrderType.MARKET),
    "stop_loss_order_type": int(OrderType.MARKET),
    "time_limit_order_type": int(OrderType.MARKET),
}
_INT64_BOUND = 2.0**63
_DUMPS_NUMPY = orjson.OPT_SERIALIZE_NUMPY
_DECIMAL_FIELDS = ("net_pnl_pct", "net_pnl_quote", "cum_fees_quote", "filled_amount_quote")


def upstream_result(
    result: BacktestResult,
    *,
    candles: Candles | None = None,
    extras: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The result as hummingbot-api's ``/backtesting/run`` returns it, as Python data.

    Keys: ``executors``, ``processed_data``, ``results``, ``position_holds``,
    ``position_held_timeseries``, ``pnl_timeseries`` (upstream's, in its order), then
    ``warnings``, ``run_id``, ``fill_model`` and any ``extras``. ``orjson.dumps`` of it gives
    the bytes of :func:`upstream_result_json`.

    Args:
        result: a finished backtest.
        candles: the bars the run stepped on (``result.bar_ts`` must all be in it; default
            ``result.bars``); they give ``processed_data`` its
            ``open``/``high``/``low``/``close``/``volume`` and the ``close_price`` of executors
            that never filled. Without any, those columns are left out (a note in ``warnings``
            says so) and unfilled executors' ``close_price`` is their order price.
        extras: more top-level keys, added after (and overriding) the default extras.

    Returns:
        Plain data: ``str``, ``int``, ``float`` (always finite), ``bool``, ``None``, lists, dicts
        (``extras`` are passed on as given).

    Raises:
        ValueError: ``extras`` names one of upstream's keys, or ``candles`` misses bars of the
            result.

    Example:
        >>> from hbbacktest.service import default_request, run_backtest
        >>> doc = upstream_result(run_backtest(default_request()))
        >>> doc["executors"][0]["status"], doc["executors"][0]["close_type"] in range(1, 11)
        (4, True)
    """
    encoder = _Upstream(result, candles)
    document: dict[str, Any] = {
        "executors": encoder.executor_dicts(),
        "processed_data": encoder.processed_data(),
        "results": encoder.results(),
        "position_holds": encoder.position_holds(),
        "position_held_timeseries": encoder.position_held_timeseries(),
        "pnl_timeseries": encoder.pnl_timeseries(),
    }
    document.update(encoder.extras(extras))
    return document


def upstream_result_json(
    result: BacktestResult,
    *,
    candles: Candles | None = None,
    extras: Mapping[str, Any] | None = None,
) -> bytes:
    """Strict JSON bytes of :func:`upstream_result` (no NaN or Infinity, ever).

    Byte for byte ``orjson.dumps(upstream_result(result, candles=candles, extras=extras))``,
    but the executors are encoded column by column instead of one dict each.

    Args:
        result: a finished backtest.
        candles: the bars the run stepped on; see :func:`upstream_result`.
        extras: more top-level keys; see :func:`upstream_result`.

    Raises:
        ValueError: as :func:`upstream_result`.

    Example:
        >>> from hbbacktest.service import default_request, run_backtest
        >>> result = run_backtest(default_request())
        >>> upstream_result_json(result) == orjson.dumps(upstream_result(result))
        True
    """
    encoder = _Upstream(result, candles)
    dumps = orjson.dumps
    parts = [
        b'{"executors":',
        encoder.executors_json(),
        b',"processed_data":',
        dumps(encoder.processed_data()),
        b',"results":',
        dumps(encoder.results()),
        b',"position_holds":',
        dumps(encoder.position_holds()),
        b',"position_held_timeseries":',
        dumps(encoder.position_held_timeseries()),
        b',"pnl_timeseries":',
        dumps(encoder.pnl_timeseries()),
    ]
    for key, value in encoder.extras(extras).items():
        parts += [b",", dumps(key), b":", dumps(value)]
    parts.append(b"}")
    return b"".join(parts)


# --- number encodings --------------------------------------------------------------------------


def _decimal(value: Any) -> int | float | None:
    """A ``Decimal`` field as ``jsonable_encoder`` writes it: int when integral, else float.

    ``Decimal(x)`` of an integral float has exponent ≥ 0, which FastAPI encodes as ``int``.
    Not finite → None; beyond int64 → float (orjson writes no larger integers).
    """
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number):
        return None
    if number.is_integer() and -_INT64_BOUND <= number < _INT64_BOUND:
        return int(number)
    return number


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _float_items(values: np.ndarray) -> list[bytes]:
    """Orjson's encoding of each float (not finite → null) of a 1-D array."""
    if values.shape[0] == 0:
        return []
    array = np.ascontiguousarray(values, dtype=np.float64)
    return orjson.dumps(array, option=_DUMPS_NUMPY)[1:-1].split(b",")


def _decimal_items(values: np.ndarray) -> list[bytes]:
    """:func:`_decimal` of each value of a 1-D float array, encoded (column-wise)."""
    items = _float_items(values)
    if not items:
        return items
    array = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        integral = (
            np.isfinite(array)
            & (np.floor(array) == array)
            & (array >= -_INT64_BOUND)
            & (array < _INT64_BOUND)
        )
    if integral.any():
        ints = orjson.dumps(array[integral].astype(np.int64), option=_DUMPS_NUMPY)
        picked = np.array(items, dtype=object)
        picked[integral] = ints[1:-1].split(b",")
        items = picked.tolist()
    return items


def _decimal_list(row: np.ndarray) -> list[int | float | None]:
    # A DCA price or amount list: NaN pads rows shorter than the widest one.
    return [_decimal(x) for x in row.tolist() if math.isfinite(x)]


# --- the encoder -------------------------------------------------------------------------------


class _Upstream:
    """One result's upstream document, piece by piece; per-run parts worked out once."""

    def __init__(self, result: BacktestResult, candles: Candles | None) -> None:
        if candles is None:
            candles = result.bars
        self.result = result
        self.config = config = result.request.config
        self.window = result.bar_ts[result.start_row :]
        self.close = None if candles is None else _aligned(candles, result.bar_ts)
        self.candles = candles
        # A config without an id has none (null), as in the native result, never "None".
        self.controller_id = None if config.id is None else str(config.id)
        self.barrier = _barrier(config)
        self.leverage = int(getattr(config, "leverage", 1))
        self.activation_bounds = _activation_bounds(config)
        self.id_prefix = result.run_id[:12] + "-"

    # executors: the reference, one dict per executor ------------------------------------------

    def executor_dicts(self) -> list[dict[str, Any]]:
        """``ExecutorInfo.to_dict()`` of every executor, jsonable-encoded, creation order."""
        rec = self.result.records
        rows = _ExecutorRows(self)
        ts = self.result.bar_ts.astype(np.float64)
        columns = zip(
            rec["kind"].tolist(),
            rec["side"].tolist(),
            self.result.level_ids,
            ts[rec["created_row"]].tolist(),
            ts[rec["close_row"]].tolist(),
            rec["close_type"].tolist(),
            *(rec[field].tolist() for field in _DECIMAL_FIELDS),
            rows.close_price.tolist(),
            rows.average_price.tolist(),
            rows.last_update.tolist(),
            strict=True,
        )
        out = []
        for i, (kind, side, level, created, closed, close_type, *numbers) in enumerate(columns):
            pnl_pct, pnl_quote, fees, filled, close_price, average_price, last_update = numbers
            executor_id = self.id_prefix + str(i)
            custom_info: dict[str, Any] = {
                "close_price": _finite(close_price),
                "level_id": level,
                "side": side,
                "current_position_average_price": _finite(average_price),
                "open_order_last_update": _finite(last_update),
            }
            if kind == KIND_GRID:
                custom_info.update(self._grid_custom_info(side))
            out.append(
                {
                    "id": executor_id,
                    "timestamp": created,
                    "type": KIND_NAMES[kind],
                    "status": TERMINATED,
                    "config": self._executor_config(i, kind, side, level, executor_id, created),
                    "net_pnl_pct": _decimal(pnl_pct),
                    "net_pnl_quote": _decimal(pnl_quote),
                    "cum_fees_quote": _decimal(fees),
                    "filled_amount_quote": _decimal(filled),
                    "is_active": False,
                    "is_trading": False,
                    "custom_info": custom_info,
                    "close_timestamp": closed,
                    "close_type": close_type,
                    "controller_id": self.controller_id,
                    "side": side,
                }
            )
        return out

    def _executor_config(
        self, i: int, kind: int, side: int, level: str, executor_id: str, created: float
    ) -> dict[str, Any]:
        """One executor's config: upstream's ``*ExecutorConfig`` fields, in their order."""
        head: dict[str, Any] = {
            "id": executor_id,
            "type": KIND_NAMES[kind],
            "timestamp": created,
            "controller_id": self.controller_id,
        }
        first, second = self._kind_values(i, kind)
        return {**head, **self._config_body(kind, side, level, first, second)}

    def _kind_values(self, i: int, kind: int) -> tuple[Any, Any]:
        """The two per-executor values inside a config (see :meth:`_config_body`)."""
        rec = self.result.records
        entry = rec["entry_price"][i]
        amount = rec["amount_base"][i]
        if kind == KIND_DCA:
            prices, amounts = self._dca_rows(i)
            return amounts, prices
        if kind == KIND_ORDER:
            return _decimal(amount), _decimal(entry)
        if kind == KIND_GRID:
            return None, None
        return _decimal(entry), _decimal(amount)

    def _dca_rows(self, i: int) -> tuple[list[Any], list[Any]]:
        result = self.result
        if result.dca_prices is None or result.dca_amounts_quote is None:
            rec = result.records
            entry = float(rec["entry_price"][i])
            return [_decimal(entry)], [_decimal(entry * float(rec["amount_base"][i]))]
        return _decimal_list(result.dca_prices[i]), _decimal_list(result.dca_amounts_quote[i])

    def _config_body(
        self, kind: int, side: int, level: str, first: Any, second: Any
    ) -> dict[str, Any]:
        """A config after its ``id, type, timestamp, controller_id`` head.

        ``first``/``second`` are the per-executor values: position ``entry_price``, ``amount``;
        DCA ``amounts_quote``, ``prices``; order ``amount``, ``price``; grid none.
        """
        config = self.config
        market = {"connector_name": config.connector_name, "trading_pair": config.trading_pair}
        barrier = self.barrier
        if kind == KIND_DCA:
            return {
                **market,
                "side": side,
                "leverage": self.leverage,
                "amounts_quote": first,
                "prices": second,
                "take_profit": barrier["take_profit"],
                "stop_loss": barrier["stop_loss"],
                "trailing_stop": barrier["trailing_stop"],
                "time_limit": barrier["time_limit"],
                "mode": "MAKER",
                "activation_bounds": self.activation_bounds,
                "level_id": level,
            }
        if kind == KIND_GRID:
            return {**market, **self._grid_fields(side, level)}
        pair_first = {"trading_pair": config.trading_pair, "connector_name": config.connector_name}
        if kind == KIND_ORDER:
            return {
                **pair_first,
                "side": side,
                "amount": first,
                "position_action": "OPEN",
                "price": second,
                "chaser_config": None,
                "execution_strategy": "MARKET",
                "leverage": self.leverage,
                "level_id": level,
            }
        return {
            **pair_first,
            "side": side,
            "entry_price": first,
            "amount": second,
            "triple_barrier_config": barrier,
            "leverage": self.leverage,
            "activation_bounds": self.activation_bounds,
            "level_id": level,
        }

    def _grid_fields(self, side: int, level: str) -> dict[str, Any]:
        """``GridExecutorConfig``'s fields after the market, from the controller config."""
        config = self.config

        def get(name: str, default: Any = None) -> Any:
            return getattr(config, name, default)

        max_per_batch = get("max_orders_per_batch")
        return {
            "start_price": _decimal(get("start_price")),
            "end_price": _decimal(get("end_price")),
            "limit_price": _decimal(get("limit_price")),
            "side": side,
            "total_amount_quote": _decimal(get("total_amount_quote")),
            "min_spread_between_orders": _decimal(get("min_spread_between_orders", 0.0005)),
            "min_order_amount_quote": _decimal(get("min_order_amount_quote", 5.0)),
            "max_open_orders": int(get("max_open_orders", 5)),
            "max_orders_per_batch": None if max_per_batch is None else int(max_per_batch),
            "order_frequency": int(get("order_frequency", 0)),
            "activation_bounds": _decimal(get("activation_bounds")),
            "safe_extra_spread": _decimal(get("safe_extra_spread", 0.0001)),
            "triple_barrier_config": self.barrier,
            "leverage": self.leverage,
            "level_id": level,
            "deduct_base_fees": bool(get("deduct_base_fees", False)),
            "keep_position": bool(get("keep_position", False)),
            "coerce_tp_to_step": bool(get("coerce_tp_to_step", False)),
        }

    def _grid_custom_info(self, side: int) -> dict[str, Any]:
        # Upstream's grid simulator adds its levels and fills; the engine keeps neither.
        return {
            "fill_events": [],
            "grid_level_prices": [],
            "grid_tp_prices": [],
            "grid_side": TradeType(side).name,
            "grid_limit_price": _finite_or_none(getattr(self.config, "limit_price", None)),
        }

    # executors: the fast path, column by column ----------------------------------------------

    def executors_json(self) -> bytes:
        """The JSON array of :meth:`executor_dicts`, encoded column by column."""
        rec = self.result.records
        n = rec.shape[0]
        if n == 0:
            return b"[]"
        ts = self.result.bar_ts
        rows = _ExecutorRows(self)
        ids = orjson.dumps(np.arange(n, dtype=np.int64), option=_DUMPS_NUMPY)[1:-1].split(b",")
        created = _float_items(ts[rec["created_row"]])
        first, second = self._kind_value_items(rec)
        repeat = itertools.repeat
        kind_type, config_type, config_head, between, config_end, custom, custom_end, tail = (
            self._group_fragments(rec)
        )
        pieces: tuple[Iterable[bytes], ...] = (
            ids,
            repeat(b'","timestamp":'),
            created,
            kind_type,
            ids,
            config_type,
            created,
            config_head,
            first,
            between,
            second,
            config_end,
            _decimal_items(rec["net_pnl_pct"]),
            repeat(b',"net_pnl_quote":'),
            _decimal_items(rec["net_pnl_quote"]),
            repeat(b',"cum_fees_quote":'),
            _decimal_items(rec["cum_fees_quote"]),
            repeat(b',"filled_amount_quote":'),
            _decimal_items(rec["filled_amount_quote"]),
            repeat(b',"is_active":false,"is_trading":false,"custom_info":{"close_price":'),
            _float_items(rows.close_price),
            custom,
            _float_items(rows.average_price),
            repeat(b',"open_order_last_update":'),
            _float_items(rows.last_update),
            custom_end,
            _float_items(ts[rec["close_row"]]),
            tail,
        )
        # Every value column is n long; the repeat()s are endless and stop with them.
        objects = list(map(b"".join, zip(*pieces, strict=False)))
        # Each object's opening and closing go in the separator; the array's brackets onto the
        # first and last object: the block is copied once, by the join.
        opening = b'{"id":"' + orjson.dumps(self.id_prefix)[1:-1]
        objects[0] = b"[" + opening + objects[0]
        objects[-1] += b"}]"
        return (b"}," + opening).join(objects)

    def _kind_value_items(self, rec: np.ndarray) -> tuple[list[bytes], list[bytes]]:
        """Encoded :meth:`_kind_values` of every executor."""
        kinds = rec["kind"]
        entry = _decimal_items(rec["entry_price"])
        amount = _decimal_items(rec["amount_base"])
        first, second = list(entry), list(amount)
        for i in np.flatnonzero(kinds == KIND_ORDER).tolist():
            first[i], second[i] = amount[i], entry[i]
        for i in np.flatnonzero(kinds == KIND_GRID).tolist():
            first[i] = second[i] = b""
        for i in np.flatnonzero(kinds == KIND_DCA).tolist():
            prices, amounts = self._dca_rows(i)
            first[i], second[i] = orjson.dumps(amounts), orjson.dumps(prices)
        return first, second

    def _group_fragments(self, rec: np.ndarray) -> list[list[bytes]]:
        """Per-executor fragments that depend only on its kind, side, level and close type.

        Encoded once per group present, then picked per row by the group's index: eight
        columns, in the order :meth:`_fragments` returns them.
        """
        levels = self.result.level_ids
        names = sorted(set(levels))
        index = {name: code for code, name in enumerate(names)}
        level_codes = np.fromiter(map(index.__getitem__, levels), np.int64, len(levels))
        # kind, side and close type are small codes (int8): packed into one integer key
        key = (
            (rec["kind"].astype(np.int64) * 256 + rec["side"].astype(np.uint8)) * 256
            + rec["close_type"].astype(np.uint8)
        ) * len(names) + level_codes
        present, inverse = np.unique(key, return_inverse=True)
        table = np.empty((present.shape[0], 8), dtype=object)
        for row, value in enumerate(present.tolist()):
            rest, level = divmod(value, len(names))
            rest, close_type = divmod(rest, 256)
            kind, side = divmod(rest, 256)
            table[row, :] = self._fragments(kind, side, names[level], close_type)
        picked = table[inverse.reshape(-1)]
        return [picked[:, j].tolist() for j in range(8)]

    def _fragments(self, kind: int, side: int, level: str, close_type: int) -> tuple[bytes, ...]:
        """The constant pieces around one group's per-row values (see :meth:`executors_json`).

        The config's pieces come from encoding :meth:`_config_body` with markers in place of
        its two per-row values, so both paths share one definition of every config.
        """
        dumps = orjson.dumps
        kind_name = dumps(KIND_NAMES[kind])
        body = dumps(self._config_body(kind, side, level, _FIRST, _SECOND))[1:-1]
        # a grid's config has no per-row value: all of it goes before the (empty) values
        before, _, rest = body.partition(dumps(_FIRST))
        between, _, after = rest.partition(dumps(_SECOND))
        custom_end = b'},"close_timestamp":'
        if kind == KIND_GRID:
            custom_end = b"," + dumps(self._grid_custom_info(side))[1:-1] + custom_end
        side_code = str(side).encode()
        controller = dumps(self.controller_id)
        return (
            b',"type":' + kind_name + b',"status":4,"config":{"id":"' + dumps(self.id_prefix)[1:-1],
            b'","type":' + kind_name + b',"timestamp":',
            b',"controller_id":' + controller + b"," + before,
            between,
            after + b'},"net_pnl_pct":',
            b',"level_id":'
            + dumps(level)
            + b',"side":'
            + side_code
            + b',"current_position_average_price":',
            custom_end,
            b',"close_type":'
            + str(close_type).encode()
            + b',"controller_id":'
            + controller
            + b',"side":'
            + side_code,
        )

    # the rest of the document -----------------------------------------------------------------

    def processed_data(self) -> dict[str, dict[str, Any]]:
        """``{column: {"<epoch s>.0": value}}`` over the window, non-finite values as 0."""
        result = self.result
        start = result.start_row
        columns: dict[str, np.ndarray] = {"timestamp": self.window.astype(np.float64)}
        if self.candles is not None:
            rows = np.searchsorted(self.candles.ts, self.window)
            for name in OHLCV_COLUMNS[1:]:
                columns[name] = getattr(self.candles, name)[rows]
        for name, values in result.features.items():
            columns.setdefault(name, values[start:])
        keys = _float_items(columns["timestamp"])
        labels = [key.decode() for key in keys]
        return {
            name: dict(zip(labels, _filled(values), strict=True))
            for name, values in columns.items()
        }

    def results(self) -> dict[str, Any]:
        """``results`` with upstream's types: counts as int, the rest float.

        A run without executors gets upstream's literal: every key ``0``, ``close_types`` too.
        """
        native = self.result.results
        if self.result.records.shape[0] == 0:
            return dict.fromkeys(RESULT_KEYS, 0)
        out: dict[str, Any] = {}
        for key in (*RESULT_KEYS, *(k for k in native if k not in RESULT_KEYS)):
            value = native.get(key)
            if key == "close_types":
                out[key] = {str(name): int(count) for name, count in sorted((value or {}).items())}
            elif key in _INT_RESULT_KEYS:
                out[key] = int(value or 0)
            elif key == "sharpe_ratio":
                out[key] = _finite_or_none(value) or 0.0  # upstream: None → 0
            elif isinstance(value, float | int | np.number) and not isinstance(value, bool):
                out[key] = _finite_or_none(value)
            else:
                out[key] = value
        return out

    def position_holds(self) -> list[dict[str, Any]]:
        """The netted hold as upstream serializes its ``BacktestPositionHold`` (one market)."""
        holds = self.result.holds
        if holds is None or holds.n_executors == 0:
            return []
        book = holds.hold
        rec = self.result.records
        held = rec[hold_mask(rec) & (rec["hold_base"] > 0) & (rec["hold_price"] > 0)]
        quote = held["hold_base"] * held["hold_price"]
        buys = held["side"] == TradeType.BUY
        return [
            {
                "connector_name": self.config.connector_name,
                "trading_pair": self.config.trading_pair,
                "buy_amount_base": _finite_or_none(book.buy_amount_base),
                "buy_amount_quote": _finite_or_none(quote[buys].sum()),
                "sell_amount_base": _finite_or_none(book.sell_amount_base),
                "sell_amount_quote": _finite_or_none(quote[~buys].sum()),
                "net_amount_base": _finite_or_none(book.net_base),
                "cum_fees_quote": _finite_or_none(book.cum_fees_quote),
                "volume_traded_quote": _finite_or_none(book.volume_traded_quote),
                "is_closed": bool(book.net_base == 0),
                "n_executors": int(holds.n_executors),
            }
        ]

    def position_held_timeseries(self) -> list[dict[str, Any]]:
        """One row per window bar with an open hold: its notional long/short, PnL, ``n_holds``."""
        holds = self.result.holds
        if holds is None:
            return []
        start = self.result.start_row
        net = holds.net_base[start:]
        open_rows = np.flatnonzero(net != 0)
        if open_rows.shape[0] == 0:
            return []
        if self.close is not None:
            notional = np.abs(net) * self.close[start:]
        else:
            # net × close = unrealized + average × net; the curves marked at a price of 0 give
            # −average × net, so no per-bar close is needed.
            at_zero = hold_curves(self.result.records, np.zeros(self.result.bar_ts.shape[0]))
            notional = np.abs(holds.unrealized[start:] - at_zero.unrealized[start:])
        timestamps = self.window[open_rows].astype(np.float64).tolist()
        longs = (net[open_rows] > 0).tolist()
        amounts = notional[open_rows].tolist()
        unrealized = holds.unrealized[start:][open_rows].tolist()
        realized = holds.realized[start:][open_rows].tolist()
        out = []
        for ts, is_long, amount, upnl, rpnl in zip(
            timestamps, longs, amounts, unrealized, realized, strict=True
        ):
            notional = _finite(amount)
            # upstream sums the empty side to the integer 0; net is long − short
            long_amount: float | int | None = notional if is_long else 0
            short_amount: float | int | None = 0 if is_long else notional
            net_amount = None if notional is None else (notional if is_long else 0 - notional)
            out.append(
                {
                    "timestamp": ts,
                    "long_amount": long_amount,
                    "short_amount": short_amount,
                    "net_amount": net_amount,
                    "unrealized_pnl": _finite(upnl),
                    "realized_pnl": _finite(rpnl),
                    "n_holds": 1,
                }
            )
        return out

    def pnl_timeseries(self) -> list[dict[str, Any]]:
        """One row per window bar: upstream's keys, our per-bar PnL curve."""
        series = self.result.timeseries
        n = series["timestamp"].shape[0]
        if self.result.holds is None:
            # upstream sums over no open holds: the integer 0
            position_realized: list[Any] = [0] * n
            position_unrealized: list[Any] = [0] * n
        else:
            position_realized = _finite_list(series["position_realized_pnl"])
            position_unrealized = _finite_list(series["position_unrealized_pnl"])
        return [
            {
                "timestamp": ts,
                "executor_realized_pnl": realized,
                "position_realized_pnl": p_realized,
                "position_unrealized_pnl": p_unrealized,
                "total_pnl": total,
                "active_executors": active,
                "cumulative_volume": volume,
            }
            for ts, realized, p_realized, p_unrealized, total, active, volume in zip(
                series["timestamp"].astype(np.float64).tolist(),
                _finite_list(series["executor_realized_pnl"]),
                position_realized,
                position_unrealized,
                _finite_list(series["total_pnl"]),
                series["active_executors"].astype(np.int64).tolist(),
                _finite_list(series["cumulative_volume"]),
                strict=True,
            )
        ]

    def extras(self, extras: Mapping[str, Any] | None) -> dict[str, Any]:
        """``warnings``, ``run_id``, ``fill_model``, then the caller's extras.

        Raises:
            ValueError: an extra is named as one of upstream's keys.
        """
        notes = list(self.result.warnings)
        has_ohlcv = self.candles is not None or all(
            name in self.result.features for name in OHLCV_COLUMNS[1:]
        )
        if not has_ohlcv:
            notes.append(_MISSING_OHLCV_NOTE)
        out: dict[str, Any] = {
            "warnings": notes,
            "run_id": self.result.run_id,
            "fill_model": self.result.request.fill_model,
        }
        for key, value in (extras or {}).items():
            if key in UPSTREAM_KEYS:
                raise ValueError(
                    f"extras may not replace upstream's key {key!r}; name it differently "
                    f"(upstream's keys: {', '.join(UPSTREAM_KEYS)})"
                )
            out[str(key)] = value
        return out


class _ExecutorRows:
    """Per-executor float columns both executor paths share."""

    def __init__(self, encoder: _Upstream) -> None:
        result = encoder.result
        rec = result.records
        ts = result.bar_ts.astype(np.float64)
        filled = rec["fill_row"] >= 0
        fill_price = rec["fill_price"]
        exit_price = rec["exit_price"]
        kinds = rec["kind"]
        # Upstream's simulators start current_position_average_price at the config's price
        # (position, DCA) or 0 (grid, order) and move it to the fill.
        unfilled_average = np.where(
            (kinds == KIND_POSITION) | (kinds == KIND_DCA), rec["entry_price"], 0.0
        )
        self.average_price: np.ndarray = np.where(
            np.isfinite(fill_price), fill_price, unfilled_average
        )
        # close_price: the exit fill; upstream's value, the bar close at the close, else.
        fallback = rec["entry_price"] if encoder.close is None else encoder.close[rec["close_row"]]
        self.close_price: np.ndarray = np.where(np.isfinite(exit_price), exit_price, fallback)
        self.last_update: np.ndarray = np.where(
            filled, ts[np.maximum(rec["fill_row"], 0)], ts[rec["close_row"]]
        )


# Markers for the two per-row values of a config; replaced by the rows' values when encoding.
_FIRST = "\x00first\x00"
_SECOND = "\x00second\x00"


def _aligned(candles: Candles, bar_ts: np.ndarray) -> np.ndarray:
    """The candles' close at every bar of the result.

    Raises:
        ValueError: a bar of the result is not among the candles.
    """
    rows = np.searchsorted(candles.ts, bar_ts)
    inside = rows < candles.ts.shape[0]
    if not inside.all() or not (candles.ts[rows] == bar_ts).all():
        have = f"{int(candles.ts[0])} … {int(candles.ts[-1])}" if len(candles) else "none"
        raise ValueError(
            f"candles must hold every bar of the result ({int(bar_ts[0])} … {int(bar_ts[-1])}, "
            f"{bar_ts.shape[0]} bars); they hold {have}: pass the candles the run stepped on"
        )
    close: np.ndarray = candles.close[rows]
    return close


def _barrier(config: Any) -> dict[str, Any]:
    """The config's ``TripleBarrierConfig`` as upstream dumps it (order types as ints)."""
    barrier = getattr(config, "triple_barrier_config", None)
    if barrier is None:
        return dict(_DEFAULT_BARRIER)
    trailing = barrier.trailing_stop
    return {
        "stop_loss": _decimal(barrier.stop_loss),
        "take_profit": _decimal(barrier.take_profit),
        "time_limit": None if barrier.time_limit is None else int(barrier.time_limit),
        "trailing_stop": None
        if trailing is None
        else {
            "activation_price": _decimal(trailing.activation_price),
            "trailing_delta": _decimal(trailing.trailing_delta),
        },
        "open_order_type": int(barrier.open_order_type),
        "take_profit_order_type": int(barrier.take_profit_order_type),
        "stop_loss_order_type": int(barrier.stop_loss_order_type),
        "time_limit_order_type": int(barrier.time_limit_order_type),
    }


def _activation_bounds(config: Any) -> list[Any] | None:
    # Position and DCA executors take the controller's bounds (dman_maker_v2 names them
    # executor_activation_bounds).
    for name in ("activation_bounds", "executor_activation_bounds"):
        bounds = getattr(config, name, None)
        if bounds is not None:
            values = bounds if isinstance(bounds, list | tuple) else [bounds]
            return [_decimal(value) for value in values]
    return None


def _finite_or_none(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _finite_list(values: np.ndarray) -> list[Any]:
    listed: list[Any] = values.astype(np.float64).tolist()
    if not np.isfinite(values).all():
        listed = [v if math.isfinite(v) else None for v in listed]
    return listed


def _filled(values: np.ndarray) -> list[Any]:
    """A ``processed_data`` column: integers and booleans as they are, floats NaN/±inf → 0."""
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return list(array.tolist())
    as_float = array.astype(np.float64)
    cleaned: list[Any] = np.where(np.isfinite(as_float), as_float, 0.0).tolist()
    return cleaned
