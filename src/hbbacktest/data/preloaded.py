"""Candles loaded once and shared by worker processes through memory-mapped Arrow files.

A sweep's parent process gets every dataset its runs need through :class:`CandleAccess`
(fetching what is missing), writes each to an Arrow IPC file with :func:`write_shared`, and
hands the paths to its workers. Each worker maps them with :func:`map_shared`: the columns are
read-only views of the operating system's page cache, so N workers hold one copy of the candles
and nothing is re-read or re-pickled per run. :class:`PreloadedCandles` then answers
``candles(...)`` like :class:`CandleAccess`, from memory, never touching the network.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hbbacktest.core.errors import DataMissingError
from hbbacktest.core.time import format_time, interval_to_seconds
from hbbacktest.data.access import CandleWindow, window_warnings
from hbbacktest.data.candles import COLUMNS, Candles
from hbbacktest.data.sources.venues import VENUES
from hbbacktest.data.store import canonical_interval

DatasetKey = tuple[str, str, str]
"""(connector, trading pair, canonical interval)."""


def dataset_key(connector: str, trading_pair: str, interval: str) -> DatasetKey:
    """The key of a dataset: interval names made canonical (``60s`` is ``1m``)."""
    return connector, trading_pair.upper(), canonical_interval(interval)


def write_shared(candles: Candles, path: str | os.PathLike[str]) -> None:
    """Write candles to an Arrow IPC file that :func:`map_shared` maps without copying."""
    import pyarrow as pa

    table = pa.table(
        {
            "timestamp": pa.array(candles.ts, type=pa.int64()),
            **{name: pa.array(getattr(candles, name), type=pa.float64()) for name in COLUMNS},
        }
    ).replace_schema_metadata({b"interval_s": str(candles.interval_s).encode()})
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def map_shared(path: str | os.PathLike[str]) -> Candles:
    """Candles whose columns are read-only views of a memory-mapped Arrow IPC file."""
    import pyarrow as pa

    source = pa.memory_map(str(path), "r")
    table = pa.ipc.open_file(source).read_all()
    interval_s = int((table.schema.metadata or {})[b"interval_s"])

    def column(name: str, dtype: type) -> np.ndarray:
        chunk = table.column(name).combine_chunks()
        return np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=0)

    return Candles(
        ts=column("timestamp", np.int64),
        open=column("open", np.float64),
        high=column("high", np.float64),
        low=column("low", np.float64),
        close=column("close", np.float64),
        volume=column("volume", np.float64),
        interval_s=interval_s,
    )


@dataclass
class PreloadedCandles:
    """Candles already in memory, served like :meth:`CandleAccess.candles` (never fetching).

    Args:
        datasets: candles by :func:`dataset_key`; each covers what its runs ask for, warm-up
            included.
        sources: the ``data_source`` text of each dataset (what :class:`CandleAccess` said).
    """

    datasets: Mapping[DatasetKey, Candles]
    sources: Mapping[DatasetKey, str]

    def candles(
        self,
        connector: str,
        trading_pair: str,
        interval: str,
        start: int,
        end: int,
        *,
        warmup_bars: int = 0,
    ) -> CandleWindow:
        """The window from memory, with the same honest-window warnings as the cache gives.

        Raises:
            DataMissingError: the dataset was not preloaded, or holds nothing in the window.
        """
        key = dataset_key(connector, trading_pair, interval)
        whole = self.datasets.get(key)
        step = interval_to_seconds(interval)
        first = -(-start // step) * step - warmup_bars * step
        if whole is None:
            raise DataMissingError(
                f"{connector} {key[1]} {key[2]} candles were not loaded for this sweep"
            )
        candles = whole.between(first, end)
        if not len(candles):
            raise DataMissingError(
                f"no {key[2]} candles for {connector} {key[1]} in {format_time(first)} – "
                f"{format_time(end)} UTC"
            )
        notes = window_warnings(
            candles, connector, key[1], key[2], first, start, end, venue=VENUES.get(connector)
        )
        return CandleWindow(candles, first, start, end, tuple(notes), self.sources.get(key, ""))


def preload(
    paths: Mapping[DatasetKey, str | os.PathLike[str]], sources: Mapping[DatasetKey, str]
) -> PreloadedCandles:
    """Map every shared file (see :func:`write_shared`) into a :class:`PreloadedCandles`."""
    return PreloadedCandles(
        {key: map_shared(Path(path)) for key, path in paths.items()}, dict(sources)
    )


def join_candles(parts: Sequence[Candles]) -> Candles:
    """Candles of one dataset loaded in several windows, as one sorted series.

    Windows may overlap at their edges; a candle present twice is kept once.
    """
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p.ts for p in parts])
    _, first = np.unique(ts, return_index=True)

    def column(name: str) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in parts])[first]

    return Candles(
        ts=ts[first],
        open=column("open"),
        high=column("high"),
        low=column("low"),
        close=column("close"),
        volume=column("volume"),
        interval_s=parts[0].interval_s,
    )
