"""Benchmarks: ``python -m benchmarks [--repeat N] [--only NAME]``.

Prints median / min / max wall time and bars per second for each case, with the command used.
Real-candle cases need ../shared/data/candles (skipped with a note when absent).

Cases:
  pmm_dynamic_30d   pmm_dynamic, 3 buy + 3 sell levels, 30 days of binance BTC-USDT 1m (target ≤ 0.5 s)
  pmm_simple_30d    the upstream parity config (upstream: 33 s with skip_rebalance)
  pmm_dynamic_365d  one year of synthetic 1m candles: time and peak memory (target ≤ 300 MB)
  builtins_30d      every built-in controller (tests/integration/builtin_configs.py), both fill
                    models, 30 days of binance BTC-USDT 1m, in-process (target ≤ 1 s each)
  hummingbot_30d    Hummingbot controller files run unchanged through the compatibility layer
                    (tests/fixtures/hummingbot_controllers), same window (target ≤ 5 s)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hbbacktest import BacktestRequest, load_controller_config, run_backtest
from hbbacktest.controllers.base import MarketData
from hbbacktest.controllers.registry import default_registry
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import resample
from hbbacktest.data.store import CandleStore
from hbbacktest.engine.backtest import EngineParams, run_controller

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "candles"
BTC_FILE = "binance_BTC-USDT_1m_20240726_20240825.parquet"
WINDOW = (1722003300, 1724595780)

PMM_DYNAMIC = {
    "controller_name": "pmm_dynamic",
    "connector_name": "binance",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "buy_spreads": "1,2,4",
    "sell_spreads": "1,2,4",
    "interval": "3m",
    "executor_refresh_time": 300,
    "cooldown_time": 15,
    "stop_loss": 0.03,
    "take_profit": 0.02,
    "time_limit": 2700,
    "skip_rebalance": True,
}
PMM_SIMPLE = {
    "controller_name": "pmm_simple",
    "connector_name": "binance",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "buy_spreads": "0.002,0.004",
    "sell_spreads": "0.002,0.004",
    "executor_refresh_time": 300,
    "cooldown_time": 15,
    "stop_loss": 0.03,
    "take_profit": 0.02,
    "time_limit": 2700,
    "skip_rebalance": True,
}


def _time(fn: Callable[[], Any], repeat: int) -> list[float]:
    fn()  # warm-up: numba cache load, imports
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _report(name: str, times: list[float], bars: int, extra: str = "") -> None:
    med = statistics.median(times)
    print(
        f"{name:<18} median {med:7.3f} s  min {min(times):7.3f} s  max {max(times):7.3f} s  "
        f"{bars / med:12,.0f} bars/s  ({bars} bars, {len(times)} runs){extra}"
    )


def _store() -> CandleStore | None:
    if not (SHARED / BTC_FILE).is_file():
        print(f"(skipping real-candle cases: {SHARED / BTC_FILE} not found)")
        return None
    store = CandleStore(tempfile.mkdtemp(prefix="hbbacktest-bench-"))
    store.import_file(SHARED / BTC_FILE, "binance", "BTC-USDT", "1m")
    return store


def bench_real(store: CandleStore, name: str, config: dict[str, Any], repeat: int) -> None:
    request = BacktestRequest(config=load_controller_config(config), start=WINDOW[0], end=WINDOW[1])
    result = run_backtest(request, store=store)
    bars = len(result.bar_ts)
    _report(
        f"{name} (run)",
        _time(lambda: run_backtest(request, store=store), repeat),
        bars,
        f"  executors {result.results['total_executors']}",
    )
    _report(
        f"{name} (+json)", _time(lambda: run_backtest(request, store=store).to_json(), repeat), bars
    )


def _synthetic_year() -> Candles:
    rng = np.random.default_rng(0)
    n = 365 * 1440
    close = 50_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    wick = np.abs(rng.normal(0, 0.0004, (2, n)))
    ts = 1_700_000_000 - 1_700_000_000 % 60 + 60 * np.arange(n, dtype=np.int64)
    return Candles(
        ts,
        open_,
        np.maximum(open_, close) * (1 + wick[0]),
        np.minimum(open_, close) * (1 - wick[1]),
        close,
        np.ones(n),
        60,
    )


def bench_year(repeat: int) -> None:
    """The engine alone over a year of 1m bars, in a fresh process for an honest peak RSS."""
    code = (
        "import resource, time, benchmarks.__main__ as b; import hbbacktest.engine.nb; "
        "bars = b._synthetic_year(); rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "before = rss(); b.run_year_once(bars); after = rss(); t = time.perf_counter(); "
        "b.run_year_once(bars); print(time.perf_counter() - t, before, after)"
    )
    times, before, after = [], [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        ).stdout.split()
        times.append(float(out[0]))
        before.append(int(out[1]) / 1024)
        after.append(int(out[2]) / 1024)
    added = max(a - b for a, b in zip(after, before, strict=True))
    extra = (
        f"  peak RSS {max(after):.0f} MB whole process: the run adds {added:.0f} MB to the "
        f"{max(before):.0f} MB of interpreter, libraries and candles"
    )
    _report("pmm_dynamic_365d", times, 365 * 1440, extra)


def run_year_once(bars: Candles) -> None:
    """One year of pmm_dynamic through the engine (used by bench_year's subprocess)."""
    config = dict(PMM_DYNAMIC, connector_name="binance_perpetual")
    registry = default_registry()
    controller = registry.create(registry.load_config(config))
    feeds = {("binance_perpetual", "BTC-USDT", "3m"): resample(bars, 180)}
    run_controller(
        controller, MarketData(bars=bars, feeds=feeds, start=int(bars.ts[0])), EngineParams()
    )


def bench_builtins(store: CandleStore, repeat: int) -> None:
    """Every built-in controller over the 30-day window (the run, without JSON)."""
    from tests.integration.builtin_configs import BUILTIN_CONFIGS

    for name, config in sorted(BUILTIN_CONFIGS.items()):
        for fill_model in ("hummingbot", "touch"):
            request = BacktestRequest(
                config=load_controller_config(config),
                start=WINDOW[0],
                end=WINDOW[1],
                fill_model=fill_model,
            )
            result = run_backtest(request, store=store)
            _report(
                f"{name}/{fill_model}",
                _time(lambda request=request: run_backtest(request, store=store), repeat),
                len(result.bar_ts),
                f"  executors {result.results['total_executors']}",
            )


def bench_hummingbot_files(store: CandleStore, repeat: int) -> None:
    """Hummingbot controller files through the compatibility layer, 30 days."""
    from hbbacktest.config.settings import Settings
    from hbbacktest.service import build_registry

    root = Path(__file__).resolve().parents[1]
    settings = Settings(
        data_dir=store.data_dir,
        controllers_dirs=(root / "tests" / "fixtures" / "hummingbot_controllers",),
    )
    registry = build_registry(settings)
    cases = {
        "pmm_simple_hb": PMM_SIMPLE,
        "dman_maker_v2_hb": {**PMM_SIMPLE, "dca_spreads": "0.001,0.003", "dca_amounts": "1,2"},
        "bollinger_v1_hb": {
            **{k: v for k, v in PMM_SIMPLE.items() if "spread" not in k},
            "interval": "3m",
            "bb_length": 50,
            "bb_long_threshold": 0.1,
            "bb_short_threshold": 0.9,
            "cooldown_time": 300,
        },
    }
    for name, config in cases.items():
        request = BacktestRequest(
            config=registry.load_config({**config, "controller_name": name}),
            start=WINDOW[0],
            end=WINDOW[1],
        )
        result = run_backtest(request, store=store, registry=registry)
        _report(
            name,
            _time(
                lambda request=request: run_backtest(request, store=store, registry=registry),
                repeat,
            ),
            len(result.bar_ts),
            f"  executors {result.results['total_executors']}",
        )


CASES = ("pmm_dynamic_30d", "pmm_simple_30d", "pmm_dynamic_365d", "builtins_30d", "hummingbot_30d")


def main() -> None:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=CASES)
    args = parser.parse_args()
    print(
        f"command: {' '.join([os.path.basename(sys.executable), '-m', 'benchmarks', *sys.argv[1:]])}"
    )
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    store = _store() if args.only != "pmm_dynamic_365d" else None
    if store is not None and args.only in (None, "pmm_dynamic_30d"):
        bench_real(store, "pmm_dynamic_30d", PMM_DYNAMIC, args.repeat)
    if store is not None and args.only in (None, "pmm_simple_30d"):
        bench_real(store, "pmm_simple_30d", PMM_SIMPLE, args.repeat)
    if store is not None and args.only in (None, "builtins_30d"):
        bench_builtins(store, args.repeat)
    if store is not None and args.only in (None, "hummingbot_30d"):
        bench_hummingbot_files(store, max(1, min(args.repeat, 3)))
    if args.only in (None, "pmm_dynamic_365d"):
        bench_year(max(1, min(args.repeat, 3)))


if __name__ == "__main__":
    main()
