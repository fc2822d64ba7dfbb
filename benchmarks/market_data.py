"""Market-data benchmarks: cached loads, file imports, fetches from the local replay server.

Cases (target in brackets):
  load_365d         a year of cached 1m candles through CandleAccess, offline [≤ 0.3 s]
  import_bdv_month  a month of Binance Data Vision 1m klines (zip and CSV) into the store,
                    in-process [≤ 1 s]
  fetch_replay      30 days of 1m from the local replay server (tests/kit/exchange_server.py)
                    into an empty cache, with and without ccxt's rate limiter: rows/s
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hbbacktest.data.access import CandleAccess
from hbbacktest.data.candles import Candles
from hbbacktest.data.sources.exchange import ExchangeClient
from hbbacktest.data.sources.venues import Venue
from hbbacktest.data.store import CandleStore

Emit = Callable[..., None]


def bench_load_year(year: Candles, emit: Emit, repeat: int) -> None:
    """A year of 1m from the cache: the one candle-access function, offline, and the raw load."""
    root = Path(tempfile.mkdtemp(prefix="hbbacktest-bench-"))
    try:
        store = CandleStore(root)
        store.write("binance", "BTC-USDT", "1m", year.to_frame())
        access = CandleAccess(store, offline=True)
        first, last = int(year.ts[0]), int(year.ts[-1])
        size = store.path("binance", "BTC-USDT", "1m").stat().st_size

        def load() -> None:
            window = access.candles("binance", "BTC-USDT", "1m", first, last)
            assert len(window.candles) == len(year)

        samples = _samples(load, repeat)
        emit(
            "load_365d",
            samples,
            "s",
            "python -m benchmarks --only load_365d",
            rows=len(year),
            file_mb=round(size / 1e6, 1),
            target="<= 0.3 s",
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _bdv_csv(candles: Candles) -> bytes:
    """Candles in Binance Data Vision's spot kline layout: 12 columns, no header, ms."""
    n = len(candles)
    ms = candles.ts * 1000
    columns = [
        ms,
        candles.open,
        candles.high,
        candles.low,
        candles.close,
        candles.volume,
        ms + candles.interval_s * 1000 - 1,
        candles.volume * candles.close,
        np.full(n, 100),
        candles.volume / 2,
        candles.volume * candles.close / 2,
        np.zeros(n, dtype=np.int64),
    ]
    out = io.StringIO()
    for row in zip(*columns, strict=True):
        out.write(",".join(f"{v:.8f}" if isinstance(v, float) else str(v) for v in row))
        out.write("\n")
    return out.getvalue().encode()


def bench_import_bdv(year: Candles, emit: Emit, repeat: int) -> None:
    """A 31-day month of 1m klines in BDV layout, as zip and as bare CSV, into a fresh store."""
    month = year.take(slice(0, 31 * 1440))
    root = Path(tempfile.mkdtemp(prefix="hbbacktest-bench-"))
    try:
        data = _bdv_csv(month)
        csv = root / "BTCUSDT-1m-2024-08.csv"
        csv.write_bytes(data)
        archive = root / "BTCUSDT-1m-2024-08.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(csv.name, data)
        for label, file in (("zip", archive), ("csv", csv)):
            counter = iter(range(10_000))

            def once(file: Path = file, counter: Any = counter) -> None:
                store = CandleStore(root / f"store{next(counter)}")
                report = store.import_file(file, "binance")
                assert report.rows_total == len(month)

            emit(
                f"import_bdv_month ({label})",
                _samples(once, repeat),
                "s",
                "python -m benchmarks --only import_bdv_month",
                rows=len(month),
                file_mb=round(file.stat().st_size / 1e6, 1),
                target="<= 1 s",
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def bench_fetch_replay(emit: Emit, repeat: int) -> None:
    """30 days of 1m from the local replay server into an empty cache: rows/s."""
    from tests.kit.exchange_server import ExchangeServer, built_candles, load_shared
    from tests.kit.exchange_server import shared_available as have_shared

    name = "binance_BTC-USDT_1m_20240726_20240825.parquet"
    ts, o, h, low, c, v = load_shared(name) if have_shared(name) else built_candles(43_200)
    server = ExchangeServer()
    server.add_market("binance", "BTC-USDT", ts, o, h, low, c, v)
    with server:
        server.warm()
        for limited in (False, True):
            roots: list[Path] = []

            def once(limited: bool = limited, roots: list[Path] = roots) -> None:
                root = Path(tempfile.mkdtemp(prefix="hbbacktest-bench-"))
                roots.append(root)

                def client(venue: Venue) -> Any:
                    return ExchangeClient(venue, base_url=server.base_url, rate_limit=limited)

                access = CandleAccess(CandleStore(root), client_factory=client)
                window = access.candles("binance", "BTC-USDT", "1m", int(ts[0]), int(ts[-1]))
                assert len(window.candles) == len(ts)

            samples = _samples(once, 1 if limited else repeat)
            for root in roots:
                shutil.rmtree(root, ignore_errors=True)
            med = sorted(samples)[len(samples) // 2]
            emit(
                f"fetch_replay ({'ccxt rate limiter' if limited else 'no rate limiter'})",
                samples,
                "s",
                "python -m benchmarks --only fetch_replay",
                rows=len(ts),
                rows_per_s=int(len(ts) / med),
                pages=-(-len(ts) // 1000),
            )


def _samples(fn: Callable[[], None], repeat: int) -> list[float]:
    fn()  # warm-up: imports, first Parquet read
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out
