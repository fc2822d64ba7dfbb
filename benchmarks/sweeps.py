"""Sweep benchmarks: whole ``hbbacktest sweep run`` processes over real candles.

Cases (target in brackets):
  sweep_100   100 pmm_dynamic configs (spreads × stop loss × take profit), 30 days of 1m
              BTC-USDT, end to end from the CLI [≤ 10 s]; at 1 and 2 workers: configs/s,
              scaling efficiency, peak memory of the largest process
  sweep_1000  1,000 pmm_simple configs over 7 days, 2 workers [≤ 30 s]
  sweep_scaling  8 runs of Hummingbot's pmm_simple file (compatibility layer, ~1.6 s each),
              30 days, at 1 and 2 workers: scaling efficiency of the process pool
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from hbbacktest.data.store import CandleStore

Emit = Callable[..., None]

PMM_DYNAMIC_BASE = {
    "controller_name": "pmm_dynamic",
    "connector_name": "binance",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "interval": "3m",
    "executor_refresh_time": 300,
    "cooldown_time": 15,
    "time_limit": 2700,
    "skip_rebalance": True,
}
PMM_SIMPLE_BASE = {
    "controller_name": "pmm_simple",
    "connector_name": "binance",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "executor_refresh_time": 300,
    "cooldown_time": 15,
    "time_limit": 2700,
    "skip_rebalance": True,
}


def _spec_100(start: int, end: int) -> dict[str, object]:
    return {
        "name": "bench_pmm_dynamic_100",
        "base": PMM_DYNAMIC_BASE,
        "grid": {
            "buy_spreads": ["1,2", "1,2,4", "0.5,1", "2,4", "1,3"],
            "stop_loss": [0.01, 0.02, 0.03, 0.05],
            "take_profit": [0.005, 0.01, 0.02, 0.04, 0.06],
        },
        "zip": {},
        "fixed": {"sell_spreads": "1,2"},
        "start": start,
        "end": end,
    }


def _spec_scaling(start: int, end: int) -> dict[str, object]:
    """8 runs of Hummingbot's own pmm_simple file through the compatibility layer (~1.6 s
    each): heavy enough per item that worker processes pay off."""
    return {
        "name": "bench_hummingbot_scaling",
        "base": {**PMM_SIMPLE_BASE, "controller_name": "pmm_simple_hb"},
        "grid": {"take_profit": [0.01, 0.02, 0.03, 0.04], "stop_loss": [0.02, 0.03]},
        "fixed": {"buy_spreads": "0.002,0.004", "sell_spreads": "0.002,0.004"},
        "start": start,
        "end": end,
    }


def _spec_1000(start: int, end: int) -> dict[str, object]:
    spreads = [f"{a / 1000:g},{b / 1000:g}" for a in range(1, 11) for b in range(11, 21)]
    return {
        "name": "bench_pmm_simple_1000",
        "base": PMM_SIMPLE_BASE,
        "grid": {"buy_spreads": spreads, "take_profit": [0.002, 0.004, 0.006, 0.008, 0.01]},
        "fixed": {"sell_spreads": "0.002,0.004", "stop_loss": 0.03},
        "start": start,
        "end": end,
    }


HB_DIR = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "hummingbot_controllers"


def _run(spec: Path, data_dir: Path, workers: int) -> tuple[float, int, int]:
    """Wall time, peak RSS (MB, the largest process) and workers used of one `sweep run`."""
    env = {
        **os.environ,
        "HBBACKTEST_DATA_DIR": str(data_dir),
        "HBBACKTEST_OFFLINE": "1",
        "HBBACKTEST_CONTROLLERS_DIR": str(HB_DIR),
    }
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hbbacktest",
            "sweep",
            "run",
            str(spec),
            "--workers",
            str(workers),
            "--database",
            f"sqlite:///{data_dir / 'bench.db'}",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"sweep run failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    (data_dir / "bench.db").unlink()
    used = re.search(r"(\d+) worker\(s\)", out.stdout)
    return seconds, peak // 1024, int(used.group(1)) if used else 0


def _at_1_and_2_workers(
    name: str,
    spec: dict[str, object],
    configs: int,
    folder: Path,
    store: CandleStore,
    emit: Emit,
    **extra: object,
) -> None:
    """One case at 1 and 2 workers, and the scaling efficiency between them."""
    path = folder / f"{name}.yml"
    path.write_text(yaml.safe_dump(spec))
    rates = {}
    for workers in (1, 2):
        seconds, peak, used = _run(path, store.data_dir, workers)
        rates[workers] = configs / seconds
        emit(
            f"{name} ({workers} worker{'s' * (workers > 1)})",
            [seconds],
            "s",
            f"python -m benchmarks --only {name}",
            configs=configs,
            configs_per_s=round(configs / seconds, 2),
            peak_rss_mb=peak,
            workers_used=used,
            **extra,
        )
    print(f"  scaling efficiency 1 → 2 workers asked: {rates[2] / rates[1] / 2:.0%}")


def bench_sweeps(store: CandleStore, window: tuple[int, int], emit: Emit, chosen: set[str]) -> None:
    """The sweep cases; each run starts from an empty results database."""
    folder = Path(tempfile.mkdtemp(prefix="hbbacktest-bench-sweep-"))
    try:
        start, end = window
        if "sweep_100" in chosen:
            _at_1_and_2_workers(
                "sweep_100", _spec_100(start, end), 100, folder, store, emit, target="<= 10 s"
            )
        if "sweep_scaling" in chosen:
            _at_1_and_2_workers("sweep_scaling", _spec_scaling(start, end), 8, folder, store, emit)
        if "sweep_1000" in chosen:
            spec = folder / "sweep_1000.yml"
            spec.write_text(yaml.safe_dump(_spec_1000(start, start + 7 * 86_400)))
            seconds, peak, used = _run(spec, store.data_dir, 2)
            emit(
                "sweep_1000 (2 workers)",
                [seconds],
                "s",
                "python -m benchmarks --only sweep_1000",
                configs=1000,
                configs_per_s=round(1000 / seconds, 1),
                peak_rss_mb=peak,
                workers_used=used,
                target="<= 30 s",
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
