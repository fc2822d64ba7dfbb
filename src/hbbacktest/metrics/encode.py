"""Encode a result for output: strict JSON block by block, and flat executor columns.

:func:`json_chunks` yields the bytes of ``orjson.dumps(result.to_dict())`` (byte for byte: same
keys, same order, same number formatting) without building a dict per executor. Each record
column is encoded once by orjson (one call per column and block); per-run and per-level
fragments (the barrier config, the controller id, a level's id and side, the kind's config
keys) are encoded once; rows are then assembled by joining those pieces. Memory stays bounded
by one block of executors, whatever the number of executors.

:func:`executor_columns` gives the same executors as flat NumPy columns, for tables (Parquet).

Every function here is pure: the result in, bytes or arrays out.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.engine.records import KIND_DCA, KIND_GRID, KIND_NAMES, KIND_ORDER

if TYPE_CHECKING:
    from hbbacktest.metrics.result import BacktestResult

BLOCK_ROWS = 50_000
"""Executors encoded per block: about 60 MB of JSON and as much scratch at a time."""

COLUMN_BLOCK = 500_000
"""Values of a per-bar column (``processed_data``, ``pnl_timeseries``) encoded per chunk."""

_BARRIER_ORDER_TYPES = (
    "open_order_type",
    "take_profit_order_type",
    "stop_loss_order_type",
    "time_limit_order_type",
)
_GRID_KEYS = (
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
_SUMMARY_KEYS = ("run_id", "request", "data_source", "results", "position_holds", "warnings")


def finite_or_none(value: Any) -> Any:
    """NaN and ±inf become None; NumPy scalars become Python numbers."""
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def json_column(values: np.ndarray) -> list[Any]:
    """A column as a JSON-able list: integers and booleans as they are, floats finite or None."""
    if values.dtype.kind in "iub":
        return list(values.tolist())
    as_float = values.astype(np.float64)
    listed: list[Any] = as_float.tolist()
    if not np.isfinite(as_float).all():
        listed = [v if math.isfinite(v) else None for v in listed]
    return listed


def barrier_json(config: Any) -> dict[str, Any] | None:
    """A position executor's ``triple_barrier_config``, order types by name (as Hummingbot)."""
    barrier = getattr(config, "triple_barrier_config", None)
    if barrier is None:
        return None
    out: dict[str, Any] = barrier.model_dump(mode="json")
    for key in _BARRIER_ORDER_TYPES:
        out[key] = getattr(barrier, key).name
    return out


def grid_config(config: Any) -> dict[str, Any]:
    """The grid executor's config fields, from the controller config that set them."""
    out: dict[str, Any] = {key: getattr(config, key, None) for key in _GRID_KEYS}
    barrier = getattr(config, "triple_barrier_config", None)
    if barrier is not None:
        out["triple_barrier_config"] = barrier.model_dump(mode="json")
    return out


def results_json(results: Mapping[str, Any]) -> dict[str, Any]:
    """The ``results`` mapping with every number finite or None (dicts of counts kept)."""
    return {k: finite_or_none(v) if not isinstance(v, dict) else v for k, v in results.items()}


def summary_dict(result: BacktestResult) -> dict[str, Any]:
    """The result without its per-executor and per-bar parts (what ``--summary-only`` writes).

    Keys, in this order: ``run_id``, ``request``, ``data_source``, ``results``,
    ``position_holds``, ``warnings`` (the order they have in :meth:`BacktestResult.to_dict`).
    """
    return {
        "run_id": result.run_id,
        "request": result.request.model_dump(mode="json"),
        "data_source": result.data_source,
        "results": results_json(result.results),
        "position_holds": result.position_holds(),
        "warnings": list(result.warnings),
    }


def processed_columns(result: BacktestResult) -> dict[str, np.ndarray]:
    """``processed_data``'s feature columns over the window, ``timestamp`` first."""
    start = result.start_row
    columns = {"timestamp": result.bar_ts[start:]}
    for name, values in result.features.items():
        columns[name] = values[start:]
    return columns


def processed_scalars(result: BacktestResult) -> dict[str, Any]:
    """The features Hummingbot's ``processed_data`` also carries as scalars: their last value."""
    last = {
        name: finite_or_none(values[-1]) for name, values in result.features.items() if len(values)
    }
    return {k: v for k, v in last.items() if k in ("reference_price", "spread_multiplier")}


def json_chunks(
    result: BacktestResult,
    *,
    summary_only: bool = False,
    block_rows: int = BLOCK_ROWS,
    column_block: int = COLUMN_BLOCK,
) -> Iterator[bytes]:
    """The result's strict JSON, in chunks whose concatenation is one document.

    The bytes are those of ``orjson.dumps(result.to_dict())`` (or, with ``summary_only``, of
    ``orjson.dumps(summary_dict(result))``); NaN and infinity are written as ``null``. At most
    one block of executors and one chunk of a per-bar column are held at a time.

    Args:
        result: a finished backtest.
        summary_only: leave out ``executors``, ``processed_data`` and ``pnl_timeseries``.
        block_rows: executors per chunk (> 0); default 50 000.
        column_block: values of a per-bar column per chunk (> 0); default 500 000.

    Yields:
        Non-empty byte strings, in document order.

    Example:
        >>> from hbbacktest.service import default_request, run_backtest
        >>> result = run_backtest(default_request())
        >>> b"".join(json_chunks(result)) == orjson.dumps(result.to_dict())
        True
    """
    dumps = orjson.dumps
    yield (
        b'{"run_id":'
        + dumps(result.run_id)
        + b',"request":'
        + dumps(result.request.model_dump(mode="json"))
        + b',"data_source":'
        + dumps(result.data_source)
        + b',"results":'
        + dumps(results_json(result.results))
    )
    if not summary_only:
        yield b',"executors":['
        encoder = _ExecutorEncoder(result)
        n = result.records.shape[0]
        for start in range(0, n, block_rows):
            if start:
                yield b","
            yield encoder.rows(start, min(start + block_rows, n))
        yield b'],"processed_data":{"features":{'
        for index, (name, values) in enumerate(processed_columns(result).items()):
            yield (b"," if index else b"") + dumps(name) + b":"
            yield from _column_chunks(values, column_block)
        yield b"}"
        for name, value in processed_scalars(result).items():
            yield b"," + dumps(name) + b":" + dumps(value)
        yield b"}"
    yield b',"position_holds":' + dumps(result.position_holds())
    if not summary_only:
        yield b',"pnl_timeseries":{'
        for index, (name, values) in enumerate(result.timeseries.items()):
            yield (b"," if index else b"") + dumps(name) + b":"
            yield from _column_chunks(values, column_block)
        yield b"}"
    yield b',"warnings":' + dumps(list(result.warnings)) + b"}"


def executors_json(result: BacktestResult, start: int = 0, stop: int | None = None) -> bytes:
    """The JSON array of executors ``start`` … ``stop - 1``: ``orjson.dumps`` of that slice.

    The fast encoder on its own, e.g. to time it or to serve a page of executors.

    Example:
        >>> from hbbacktest.service import default_request, run_backtest
        >>> result = run_backtest(default_request())
        >>> executors_json(result, 0, 2) == orjson.dumps(result.executors()[:2])
        True
    """
    first, last, _ = slice(start, stop).indices(result.records.shape[0])
    return _ExecutorEncoder(result).rows(first, max(first, last), head=b"[", tail=b"]")


def _column_chunks(values: np.ndarray, column_block: int) -> Iterator[bytes]:
    # The same numbers as json_column(values), encoded a chunk at a time.
    n = values.shape[0]
    if n == 0:
        yield b"[]"
        return
    if values.dtype.kind not in "iub":
        values = values.astype(np.float64, copy=False)
    option = orjson.OPT_SERIALIZE_NUMPY
    for start in range(0, n, column_block):
        # orjson writes a float64 as the Python float would be (NaN, ±inf as null) and an
        # integer or bool as itself, straight from the array
        part = np.ascontiguousarray(values[start : start + column_block])
        body = orjson.dumps(part, option=option)[1:-1]
        first = b"[" if start == 0 else b","
        yield first + body + (b"]" if start + column_block >= n else b"")


def _items(values: list[Any] | np.ndarray) -> list[bytes]:
    """Orjson's encoding of each item of a list (or 1-D array) of numbers and None.

    Numbers and ``null`` hold no comma, so the list's encoding splits into its items. Arrays
    go to orjson as they are: it writes a float64 or int64 exactly as the Python number (NaN
    and infinity as null), without the ``tolist()`` copy.
    """
    if len(values) == 0:
        return []
    if isinstance(values, np.ndarray):
        # orjson reads only C-contiguous arrays; a record field is a strided view
        values = np.ascontiguousarray(values)
    return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].split(b",")


def _inner_rows(rows: np.ndarray) -> list[bytes]:
    """Orjson's encoding of each row of a 2-D float array, without its brackets."""
    if rows.shape[0] == 0:
        return []
    return orjson.dumps(rows.tolist())[2:-2].split(b"],[")


class _ExecutorEncoder:
    """Encodes blocks of a result's executors; holds the per-run fragments, encoded once."""

    def __init__(self, result: BacktestResult) -> None:
        self.result = result
        config = result.request.config
        dumps = orjson.dumps
        self.id_prefix = dumps(result.run_id[:12])[1:-1] + b"-"
        self.controller_id = dumps(config.id)
        self.fixed_config = (
            b',"controller_id":'
            + self.controller_id
            + b',"connector_name":'
            + dumps(config.connector_name)
            + b',"trading_pair":'
            + dumps(config.trading_pair)
        )
        self.leverage = dumps(getattr(config, "leverage", 1))
        barrier = barrier_json(config)
        self.barrier = dumps(barrier)
        self.has_dca = result.dca_prices is not None and result.dca_amounts_quote is not None
        dca_limits = barrier or {}
        self.dca_tail = b'],"mode":"MAKER"' + b"".join(
            b',"' + key.encode() + b'":' + dumps(dca_limits.get(key))
            for key in ("take_profit", "stop_loss", "trailing_stop", "time_limit")
        )
        self.groups: dict[tuple[int, int, str, int], tuple[bytes, ...]] = {}

    def _kind_keys(self, kind: int) -> tuple[bytes, bytes, bytes]:
        # The kind's own config keys around its two per-row values (see rows()).
        if kind == KIND_DCA and self.has_dca:
            return b',"prices":[', b'],"amounts_quote":[', self.dca_tail
        if kind == KIND_ORDER:
            return b',"amount":', b',"price":', b',"execution_strategy":"MARKET"'
        if kind == KIND_GRID:
            # Encoded only when a grid executor exists (other configs lack the grid's fields).
            grid = orjson.dumps(grid_config(self.result.request.config))[1:-1]
            return (b"," + grid if grid else b""), b"", b""
        return b',"entry_price":', b',"amount":', b',"triple_barrier_config":' + self.barrier

    def _group(self, kind: int, side: int, level: str, close_type: int) -> tuple[bytes, ...]:
        # Fragments that depend only on the executor's kind, side, level and close type.
        key = (kind, side, level, close_type)
        found = self.groups.get(key)
        if found is not None:
            return found
        dumps = orjson.dumps
        kind_name = dumps(KIND_NAMES[kind])
        side_name = dumps(TradeType(side).name)
        level_id = dumps(level)
        close_name = dumps(CloseType(close_type).name)
        first, second, last = self._kind_keys(kind)
        made = (
            b',"type":' + kind_name + b',"status":"TERMINATED","config":{"id":"' + self.id_prefix,
            b'","type":' + kind_name + b',"timestamp":',
            self.fixed_config
            + b',"side":'
            + side_name
            + b',"leverage":'
            + self.leverage
            + b',"level_id":'
            + level_id
            + first,
            second,
            last + b'},"net_pnl_pct":',
            b',"level_id":'
            + level_id
            + b',"side":'
            + side_name
            + b',"current_position_average_price":',
            b',"close_type":'
            + close_name
            + b',"controller_id":'
            + self.controller_id
            + b',"level_id":'
            + level_id
            + b',"side":'
            + side_name
            + b',"entry_price":',
        )
        self.groups[key] = made
        return made

    def _group_columns(self, rec: np.ndarray, levels: list[str]) -> list[list[bytes]]:
        """Per-row group fragments, looked up by a small integer key (no per-row Python)."""
        names = sorted(set(levels))
        index = {name: i for i, name in enumerate(names)}
        level_codes = np.fromiter(map(index.__getitem__, levels), np.int64, len(levels))
        # kind, side and close type are int8 codes: as bytes (0-255) they pack into one key
        kinds = rec["kind"].astype(np.uint8).astype(np.int64)
        sides = rec["side"].astype(np.uint8).astype(np.int64)
        closes = rec["close_type"].astype(np.uint8).astype(np.int64)
        n_levels = len(names)
        key = ((kinds * 256 + sides) * 256 + closes) * n_levels + level_codes
        present, inverse = np.unique(key, return_inverse=True)
        table = []
        for value in present.tolist():
            rest, level = divmod(value, n_levels)
            rest, close = divmod(rest, 256)
            kind, side = divmod(rest, 256)
            table.append(self._group(kind, side, names[level], close))
        fragments = np.empty((len(table), 7), dtype=object)
        for i, row in enumerate(table):
            fragments[i, :] = row
        picked = fragments[inverse.reshape(-1)]
        return [picked[:, j].tolist() for j in range(7)]

    def rows(self, start: int, stop: int, *, head: bytes = b"", tail: bytes = b"") -> bytes:
        """Executors ``start`` to ``stop - 1`` as JSON objects separated by commas.

        ``head`` and ``tail`` are put around them without copying the block once more.
        """
        result = self.result
        rec = result.records[start:stop]
        if rec.shape[0] == 0:
            return head + tail
        ts = result.bar_ts
        fill_rows = rec["fill_row"]
        ids = _items(np.arange(start, stop, dtype=np.int64))
        created = _items(ts[rec["created_row"]])
        closed = _items(ts[rec["close_row"]])
        fill_ts = ts[np.maximum(fill_rows, 0)].astype(object)
        fill_ts[fill_rows < 0] = None
        fill_timestamp = _items(fill_ts.tolist())
        entry_values = rec["entry_price"]
        exit_values = rec["exit_price"]
        entry = _items(entry_values)
        amount = _items(rec["amount_base"])
        fill_price = _items(rec["fill_price"])
        exit_price = _items(exit_values)
        close_price = _items(np.where(np.isfinite(exit_values), exit_values, entry_values))
        pnl_pct = _items(rec["net_pnl_pct"])
        pnl_quote = _items(rec["net_pnl_quote"])
        fees = _items(rec["cum_fees_quote"])
        filled = _items(rec["filled_amount_quote"])
        held = _items(rec["hold_base"])
        first, second = self._kind_values(rec, start, stop, entry, amount)
        a, b, c, d, e, f, h = self._group_columns(rec, result.level_ids[start:stop])
        repeat = itertools.repeat
        pieces = (
            ids,
            repeat(b'","timestamp":'),
            created,
            a,
            ids,
            b,
            created,
            c,
            first,
            d,
            second,
            e,
            pnl_pct,
            repeat(b',"net_pnl_quote":'),
            pnl_quote,
            repeat(b',"cum_fees_quote":'),
            fees,
            repeat(b',"filled_amount_quote":'),
            filled,
            repeat(b',"is_active":false,"is_trading":false,"custom_info":{"close_price":'),
            close_price,
            f,
            fill_price,
            repeat(b'},"close_timestamp":'),
            closed,
            h,
            entry,
            repeat(b',"amount":'),
            amount,
            repeat(b',"fill_timestamp":'),
            fill_timestamp,
            repeat(b',"fill_price":'),
            fill_price,
            repeat(b',"exit_price":'),
            exit_price,
            repeat(b',"held_amount":'),
            held,
        )
        # the repeat()s are endless: the value columns (all n long) end the zip
        objects = list(map(b"".join, zip(*pieces, strict=False)))
        # Each object's opening '{"id":"<prefix>-' and closing '}' go in the separator, so the
        # join copies them instead of each row holding two more pieces.
        opening = b'{"id":"' + self.id_prefix
        objects[0] = head + opening + objects[0]
        objects[-1] += b"}" + tail
        return (b"}," + opening).join(objects)

    def _kind_values(
        self, rec: np.ndarray, start: int, stop: int, entry: list[bytes], amount: list[bytes]
    ) -> tuple[list[bytes], list[bytes]]:
        """The two per-row values inside each executor's kind-specific config."""
        kinds = rec["kind"]
        first, second = entry, amount  # position executors: entry_price, amount
        special = (kinds == KIND_ORDER) | (kinds == KIND_GRID)
        dca = kinds == KIND_DCA if self.has_dca else np.zeros(kinds.shape[0], dtype=bool)
        if not (special.any() or dca.any()):
            return first, second
        first, second = list(entry), list(amount)
        for i in np.flatnonzero(kinds == KIND_ORDER).tolist():
            first[i], second[i] = amount[i], entry[i]
        for i in np.flatnonzero(kinds == KIND_GRID).tolist():
            first[i] = second[i] = b""
        if dca.any():
            rows = np.flatnonzero(dca)
            assert self.result.dca_prices is not None
            assert self.result.dca_amounts_quote is not None
            prices = _inner_rows(self.result.dca_prices[start:stop][rows])
            amounts = _inner_rows(self.result.dca_amounts_quote[start:stop][rows])
            for i, price, quote in zip(rows.tolist(), prices, amounts, strict=True):
                first[i], second[i] = price, quote
        return first, second


def executor_columns(
    result: BacktestResult, start: int = 0, stop: int | None = None
) -> dict[str, Any]:
    """Executors ``start`` to ``stop - 1`` as flat columns, named as the JSON's keys.

    Strings (``id``, ``type``, ``level_id``, ``side``, ``close_type``) are lists of ``str``;
    timestamps are int64 arrays, ``fill_timestamp`` a masked array (masked: never filled);
    prices and amounts are float64 arrays where NaN or infinity means "none" (``null`` in the
    JSON); ``amount`` is in base currency. ``dca_prices`` and ``dca_amounts_quote`` (2-D,
    NaN rows for executors that are not DCA) are present only for runs with DCA executors.
    The per-run parts of each executor's ``config`` (barrier, controller, market) are in the
    result's ``request`` and not repeated here.
    """
    rec = result.records[start:stop]
    first = start
    last = first + rec.shape[0]
    ts = result.bar_ts
    prefix = result.run_id[:12]
    fill_rows = rec["fill_row"]
    entry = rec["entry_price"]
    exit_price = rec["exit_price"]
    kind_names = np.array(KIND_NAMES, dtype=object)
    side_names = {int(t): t.name for t in TradeType}
    close_names = {int(c): c.name for c in CloseType}
    columns: dict[str, Any] = {
        "id": [f"{prefix}-{i}" for i in range(first, last)],
        "timestamp": ts[rec["created_row"]],
        "type": kind_names[rec["kind"]].tolist(),
        "level_id": list(result.level_ids[first:last]),
        "side": [side_names[code] for code in rec["side"].tolist()],
        "close_type": [close_names[code] for code in rec["close_type"].tolist()],
        "close_timestamp": ts[rec["close_row"]],
        "fill_timestamp": np.ma.masked_array(ts[np.maximum(fill_rows, 0)], mask=fill_rows < 0),
        "entry_price": entry,
        "amount": rec["amount_base"],
        "fill_price": rec["fill_price"],
        "exit_price": exit_price,
        "close_price": np.where(np.isfinite(exit_price), exit_price, entry),
        "net_pnl_pct": rec["net_pnl_pct"],
        "net_pnl_quote": rec["net_pnl_quote"],
        "cum_fees_quote": rec["cum_fees_quote"],
        "filled_amount_quote": rec["filled_amount_quote"],
        "held_amount": rec["hold_base"],
    }
    if result.dca_prices is not None and result.dca_amounts_quote is not None:
        columns["dca_prices"] = result.dca_prices[first:last]
        columns["dca_amounts_quote"] = result.dca_amounts_quote[first:last]
    return columns


__all__ = [
    "BLOCK_ROWS",
    "barrier_json",
    "executor_columns",
    "executors_json",
    "finite_or_none",
    "grid_config",
    "json_chunks",
    "json_column",
    "processed_columns",
    "processed_scalars",
    "results_json",
    "summary_dict",
]
