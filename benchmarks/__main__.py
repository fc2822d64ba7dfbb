"""Benchmarks: ``python -m benchmarks [--quick] [--repeat N] [--only NAME ...]``.

Each figure prints a table line and, right after it, one JSON object on its own line:
``{"name", "median", "min", "max", "unit", "n", "command", ...}`` (filter lines starting with
``{`` to collect them). Real-candle cases need ../shared/data/candles (skipped with a note when
absent). ``--quick`` runs the cases marked quick, in under a minute after the first compile.

Cases (target in brackets):
  cli_help          whole process: ``hbbacktest --help`` [≤ 0.3 s]                          quick
  cli_version       whole process: ``hbbacktest --version``                                 quick
  cli_lists         whole process: ``controllers list`` and ``data list``                    quick
  cli_run_30d       whole process: ``hbbacktest run`` of pmm_dynamic (3+3 levels) over 30 days
                    of binance BTC-USDT 1m, writing the full JSON [≤ 1.2 s after compiling]  quick
  encode_30d        encoding the ~27k executors of that run to JSON [≤ 0.1 s]              quick
  pmm_dynamic_30d   the engine run in-process, and run + JSON [≤ 0.5 s]                     quick
  pmm_simple_30d    the upstream parity config (upstream: 33 s with skip_rebalance)         quick
  builtins_30d      every built-in controller, both fill models, 30 days [≤ 1 s each]
  hummingbot_30d    Hummingbot controller files through the compatibility layer [≤ 5 s]
  pmm_dynamic_365d  engine only, a synthetic year of 1m: time and peak memory
  output_year       pmm_simple 20+20 levels over a synthetic year (~2.8 M executors), the whole
                    ``hbbacktest run`` process writing JSON, Parquet and --summary-only: time,
                    peak RSS [≤ 2 GB], file sizes
  load_365d         a year of cached 1m candles through CandleAccess, offline [≤ 0.3 s]     quick
  import_bdv_month  a month of Binance Data Vision 1m klines (zip, CSV) into the store [≤ 1 s]
  fetch_replay      30 days of 1m from the local replay server into an empty cache: rows/s
  sweep_100         100 pmm_dynamic configs, 30 days, whole `sweep run` at 1 and 2 workers:
                    configs/s, scaling, peak memory [≤ 10 s]
  sweep_1000        1,000 pmm_simple configs over 7 days, 2 workers [≤ 30 s]
  sweep_scaling     8 Hummingbot-file runs (~1.6 s each), 30 days, at 1 and 2 workers: scaling
  api_overhead      ``POST /backtesting/run`` on a live ``hbbacktest serve`` against the same run
                    in-process (demo week, ~4.8k executors), encodings apart [≤ 30 ms]
  api_throughput    one-day demo backtests from 8 concurrent clients, 2 workers: requests/s,
                    p50/p99 latency
"""

from __future__ import annotations

import argparse
import json
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


def emit(name: str, samples: list[float], unit: str, command: str, **extra: Any) -> None:
    """Print one figure: a readable line, then the same as a JSON object on its own line."""
    med = statistics.median(samples)
    notes = "  ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in extra.items())
    print(
        f"{name:<24} median {med:9.3f} {unit:<2} min {min(samples):9.3f}  max {max(samples):9.3f}"
        f"  n {len(samples)}  {notes}"
    )
    record = {
        "name": name,
        "median": round(med, 6),
        "min": round(min(samples), 6),
        "max": round(max(samples), 6),
        "unit": unit,
        "n": len(samples),
        "command": command,
        **extra,
    }
    print(json.dumps(record))


def _report(name: str, times: list[float], bars: int, **extra: Any) -> None:
    med = statistics.median(times)
    emit(
        name,
        times,
        "s",
        f"python -m benchmarks --only {name.split(' ')[0].split('/')[0]}",
        bars=bars,
        bars_per_s=int(bars / med),
        **extra,
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
    executors = int(result.results["total_executors"])
    _report(
        f"{name} (run)",
        _time(lambda: run_backtest(request, store=store), repeat),
        bars,
        executors=executors,
    )
    _report(
        f"{name} (+json)",
        _time(lambda: run_backtest(request, store=store).to_json(), repeat),
        bars,
        executors=executors,
    )


def bench_encode(store: CandleStore, repeat: int) -> None:
    """Encoding a finished 30-day pmm_dynamic result (~27k executors) to JSON."""
    request = BacktestRequest(
        config=load_controller_config(PMM_DYNAMIC), start=WINDOW[0], end=WINDOW[1]
    )
    result = run_backtest(request, store=store)
    from hbbacktest.metrics import executors_json

    emit(
        "encode_30d (executors)",
        _time(lambda: executors_json(result), repeat),
        "s",
        "python -m benchmarks --only encode_30d",
        executors=int(result.results["total_executors"]),
    )
    samples = _time(result.to_json, repeat)
    emit(
        "encode_30d (to_json)",
        samples,
        "s",
        "python -m benchmarks --only encode_30d",
        executors=int(result.results["total_executors"]),
        json_mb=round(len(result.to_json()) / 1e6, 1),
    )


def _cli(*args: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "hbbacktest", *args], check=True, capture_output=True, text=True
    )
    return time.perf_counter() - t0


def _cli_samples(args: list[str], repeat: int) -> list[float]:
    _cli(*args)  # warm-up: the OS page cache, numba's cache files
    return [_cli(*args) for _ in range(repeat)]


def bench_cli_startup(cases: list[tuple[str, list[str]]], repeat: int) -> None:
    """Whole-process wall time of commands that must feel instant."""
    for name, args in cases:
        shown = ["DIR" if "/" in a else a for a in args]
        emit(name, _cli_samples(args, max(repeat, 5)), "s", "hbbacktest " + " ".join(shown))


def bench_cli_run(store: CandleStore, repeat: int) -> None:
    """Whole `hbbacktest run` process, 30 days of pmm_dynamic, full JSON written."""
    work = Path(tempfile.mkdtemp(prefix="hbbacktest-bench-run-"))
    config = work / "pmm_dynamic.json"
    config.write_text(json.dumps(PMM_DYNAMIC))
    out = work / "result.json"
    args = [
        "run", str(config), "--start", str(WINDOW[0]), "--end", str(WINDOW[1]),
        "--data-dir", str(store.data_dir), "--output", str(out),
    ]  # fmt: skip
    samples = _cli_samples(args, repeat)
    emit(
        "cli_run_30d",
        samples,
        "s",
        "hbbacktest run pmm_dynamic.json --start 1722003300 --end 1724595780 --output result.json",
        json_mb=round(out.stat().st_size / 1e6, 1),
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
    _report(
        "pmm_dynamic_365d",
        times,
        365 * 1440,
        peak_rss_mb=round(max(after)),
        run_adds_mb=round(added),
        before_run_mb=round(max(before)),
    )


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
                f"builtins_30d/{name}/{fill_model}",
                _time(lambda request=request: run_backtest(request, store=store), repeat),
                len(result.bar_ts),
                executors=int(result.results["total_executors"]),
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
            f"hummingbot_30d/{name}",
            _time(
                lambda request=request: run_backtest(request, store=store, registry=registry),
                repeat,
            ),
            len(result.bar_ts),
            executors=int(result.results["total_executors"]),
        )


def bench_output_year(repeat: int) -> None:
    """A year of 1m, pmm_simple 20+20 levels (~2.8 M executors): the whole CLI process per format."""
    work = Path(tempfile.mkdtemp(prefix="hbbacktest-bench-year-"))
    bars = _synthetic_year()
    store = CandleStore(work / "data")
    import pandas as pd

    frame = pd.DataFrame(
        {"timestamp": bars.ts, "open": bars.open, "high": bars.high, "low": bars.low,
         "close": bars.close, "volume": bars.volume}
    )  # fmt: skip
    store.write("binance_perpetual", "BTC-USDT", "1m", frame)
    spreads = ",".join(f"{0.0005 * (k + 1):.4f}" for k in range(20))
    config = work / "pmm_simple_40.json"
    config.write_text(
        json.dumps({**PMM_SIMPLE, "connector_name": "binance_perpetual",
                    "buy_spreads": spreads, "sell_spreads": spreads})
    )  # fmt: skip
    base = ["run", str(config), "--data-dir", str(store.data_dir)]
    for label, extra, out in (
        ("json", [], work / "year.json"),
        ("parquet", ["--format", "parquet"], work / "year_parquet" / "result.json"),
        ("summary-only", ["--summary-only"], work / "year_summary.json"),
    ):
        samples, peaks = [], []
        for _ in range(repeat):
            # A fresh child per sample: RUSAGE_CHILDREN's peak covers the largest child so far,
            # so measure in a new interpreter that waits on exactly one child.
            code = (
                "import resource, subprocess, sys, time; t = time.perf_counter(); "
                "subprocess.run([sys.executable, '-m', 'hbbacktest', *sys.argv[1:]], check=True, "
                "capture_output=True); "
                "print(time.perf_counter() - t, "
                "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            )
            line = subprocess.run(
                [sys.executable, "-c", code, *base, *extra, "--output", str(out)],
                check=True, capture_output=True, text=True,
            ).stdout.split()  # fmt: skip
            samples.append(float(line[0]))
            peaks.append(int(line[1]) / 1024)
        files = sorted(out.parent.glob(out.stem + "*")) if label == "parquet" else [out]
        size = sum(f.stat().st_size for f in files)
        emit(
            f"output_year ({label})",
            samples,
            "s",
            "hbbacktest run pmm_simple_40.json --data-dir DIR " + " ".join(extra),
            peak_rss_mb=round(max(peaks)),
            output_mb=round(size / 1e6, 1),
            files=len(files),
        )


CASES = (
    "cli_help",
    "cli_lists",
    "cli_run_30d",
    "encode_30d",
    "pmm_dynamic_30d",
    "pmm_simple_30d",
    "builtins_30d",
    "hummingbot_30d",
    "pmm_dynamic_365d",
    "output_year",
    "load_365d",
    "import_bdv_month",
    "fetch_replay",
    "sweep_100",
    "sweep_1000",
    "sweep_scaling",
    "api_overhead",
    "api_throughput",
)
QUICK = (
    "cli_help",
    "cli_lists",
    "cli_run_30d",
    "encode_30d",
    "pmm_dynamic_30d",
    "pmm_simple_30d",
    "load_365d",
)


def main() -> None:
    """Run the benchmarks and print their figures."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=CASES, nargs="+")
    parser.add_argument("--quick", action="store_true", help="only the quick cases, 3 repeats")
    args = parser.parse_args()
    # Every case reads candles the benchmark put in a fresh cache; offline, a warm-up range
    # the cache lacks is a warning instead of a download (fetching has its own case).
    os.environ.setdefault("HBBACKTEST_OFFLINE", "1")
    chosen = set(args.only or (QUICK if args.quick else CASES))
    repeat = min(args.repeat, 3) if args.quick else args.repeat
    print(
        f"command: {' '.join([os.path.basename(sys.executable), '-m', 'benchmarks', *sys.argv[1:]])}"
    )
    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    needs_store = chosen - {
        "cli_help",
        "pmm_dynamic_365d",
        "output_year",
        "load_365d",
        "import_bdv_month",
        "fetch_replay",
        "api_overhead",
        "api_throughput",
    }
    store = _store() if needs_store else None
    if "cli_help" in chosen:
        bench_cli_startup([("cli_help", ["--help"]), ("cli_version", ["--version"])], repeat)
    if "cli_lists" in chosen:
        lists = [("cli_lists (controllers list)", ["controllers", "list"])]
        if store is not None:
            lists.append(
                ("cli_lists (data list)", ["data", "list", "--data-dir", str(store.data_dir)])
            )
        bench_cli_startup(lists, repeat)
    if store is not None and "cli_run_30d" in chosen:
        bench_cli_run(store, repeat)
    if store is not None and "encode_30d" in chosen:
        bench_encode(store, repeat)
    if store is not None and "pmm_dynamic_30d" in chosen:
        bench_real(store, "pmm_dynamic_30d", PMM_DYNAMIC, repeat)
    if store is not None and "pmm_simple_30d" in chosen:
        bench_real(store, "pmm_simple_30d", PMM_SIMPLE, repeat)
    if store is not None and "builtins_30d" in chosen:
        bench_builtins(store, repeat)
    if store is not None and "hummingbot_30d" in chosen:
        bench_hummingbot_files(store, max(1, min(repeat, 3)))
    if "pmm_dynamic_365d" in chosen:
        bench_year(max(1, min(repeat, 3)))
    if "output_year" in chosen:
        bench_output_year(max(1, min(repeat, 2)))
    if chosen & {"load_365d", "import_bdv_month", "fetch_replay"}:
        from benchmarks import market_data

        if "load_365d" in chosen:
            market_data.bench_load_year(_synthetic_year(), emit, repeat)
        if "import_bdv_month" in chosen:
            market_data.bench_import_bdv(_synthetic_year(), emit, repeat)
        if "fetch_replay" in chosen:
            market_data.bench_fetch_replay(emit, repeat)
    if store is not None and chosen & {"sweep_100", "sweep_1000", "sweep_scaling"}:
        from benchmarks import sweeps

        sweeps.bench_sweeps(store, WINDOW, emit, chosen)
    if chosen & {"api_overhead", "api_throughput"}:
        from benchmarks import api

        if "api_overhead" in chosen:
            api.bench_overhead(emit, repeat)
        if "api_throughput" in chosen:
            api.bench_throughput(emit, repeat)


if __name__ == "__main__":
    main()
