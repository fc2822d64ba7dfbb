"""Fetching in real processes: four at once into one cache, and one killed with SIGKILL.

The exchange is the local replay server (``tests/kit/exchange_server.py``) serving real
Binance BTC-USDT 1m candles (built ones when ``../shared`` is absent), slowed down with its
``delay`` fault so the fetches really run side by side and a kill lands mid-fetch. What must
hold: the cache ends up equal to the source row for row, ``data verify`` is happy, and the
server's log shows that no range was ever asked twice, also across processes and restarts.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hbbacktest.cli.main import app
from hbbacktest.data.access import CandleAccess
from hbbacktest.data.coverage import missing_ranges
from hbbacktest.data.store import CandleStore
from tests.kit.exchange_server import (
    ExchangeServer,
    Request,
    built_candles,
    delay,
    load_shared,
    shared_available,
)

SHARED_FILE = "binance_BTC-USDT_1m_20240726_20240825.parquet"
STEP = 60
SOURCE = (
    load_shared(SHARED_FILE)
    if shared_available(SHARED_FILE)
    else built_candles(30_000, start_ts=1_722_038_400, seed=5)
)
TS = SOURCE[0]
assert not (np.diff(TS) != STEP).any(), "the source must have no gaps"
BASE = 1440 - int(TS[0] % 86_400) // STEP  # the first candle at 00:00 UTC
FIELDS = ("open", "high", "low", "close", "volume")


def ts(i: int) -> int:
    """Open time of the source candle ``BASE + i``."""
    return int(TS[BASE + i])


@pytest.fixture(scope="module")
def server() -> Iterator[ExchangeServer]:
    srv = ExchangeServer()
    srv.add_market("binance", "BTC-USDT", *SOURCE)
    srv.warm()
    with srv:
        yield srv
    assert srv.errors == []


@pytest.fixture
def online(server: ExchangeServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[ExchangeServer]:
    """Fetching allowed (children inherit the environment), the server's log and faults clear."""
    server.clear_faults()
    server.clear_requests()
    monkeypatch.setenv("HBBACKTEST_OFFLINE", "0")
    monkeypatch.setenv("HBBACKTEST_EXCHANGE_URLS", json.dumps({"binance": server.base_url}))
    yield server
    server.clear_faults()


def asked(requests: list[Request]) -> list[tuple[int, int]]:
    """Each kline request's [startTime, endTime] in epoch s, sorted by start."""
    spans = []
    for request in requests:
        start = int(request.params["startTime"]) // 1000
        limit = int(request.params.get("limit", "500"))
        end_ms = request.params.get("endTime")
        end = int(end_ms) // 1000 if end_ms is not None else start + (limit - 1) * STEP
        spans.append((start, end))
    return sorted(spans)


def assert_disjoint(spans: list[tuple[int, int]]) -> None:
    assert all(a <= b for a, b in spans)
    for (a0, a1), (b0, b1) in itertools.pairwise(spans):
        assert b0 > a1, f"range asked twice: [{a0}, {a1}] and [{b0}, {b1}]"


def assert_equals_source(store: CandleStore, first: int, last: int) -> None:
    """The stored candles are exactly source rows ``first … last`` (indices from BASE)."""
    candles = store.load("binance", "BTC-USDT", "1m")
    lo, hi = BASE + first, BASE + last + 1
    np.testing.assert_array_equal(candles.ts, TS[lo:hi])
    for name, column in zip(FIELDS, SOURCE[1:], strict=True):
        np.testing.assert_array_equal(getattr(candles, name), column[lo:hi], name)


def verify(data_dir: Path) -> list[str]:
    """``hbbacktest data verify`` in this process; asserts it exits 0, returns its lines."""
    result = CliRunner().invoke(app, ["data", "verify", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


# --- four processes at once -------------------------------------------------------------------


def _cli_child(argv: list[str], out_file: str, barrier: object) -> None:
    """A spawned child: load everything, wait for the others, then run ``hbbacktest argv``."""
    import ccxt  # noqa: F401 - imported before the start line, as the fetch would

    import hbbacktest.service.data  # noqa: F401
    from hbbacktest.cli.main import app as cli

    barrier.wait(60)  # type: ignore[attr-defined]
    code: str | int | None = 0
    with (
        open(out_file, "w") as out,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(out),
    ):
        began = time.time()
        try:
            cli(args=argv, prog_name="hbbacktest")
        except SystemExit as exc:
            code = exc.code
        print(f"RAN {began} {time.time()}")
    sys.exit(code)


# Candle indices (from BASE) of the four windows: they overlap pairwise, and their union is
# [0, 5999]; each spans several 1000-candle pages.
WINDOWS = [(0, 2999), (2000, 4999), (4000, 5999), (1000, 4499)]


def test_four_processes_fetching_overlapping_windows_ask_each_range_once(
    online: ExchangeServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    online.inject(delay(0.15), venue="binance", times=100)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(WINDOWS))
    children = []
    for n, (first, last) in enumerate(WINDOWS):
        argv = [
            "data", "fetch", "--connector", "binance", "--pair", "BTC-USDT", "--interval", "1m",
            "--start", str(ts(first)), "--end", str(ts(last)), "--data-dir", str(data_dir),
        ]  # fmt: skip
        out = tmp_path / f"child{n}.txt"
        child = context.Process(target=_cli_child, args=(argv, str(out), barrier))
        child.start()
        children.append((child, out))
    for child, _ in children:
        child.join(120)
    outputs = [out.read_text() if out.exists() else "(no output)" for _, out in children]
    for (child, _), output in zip(children, outputs, strict=True):
        assert child.exitcode == 0, output

    # They ran at the same time: each started before any of them had finished.
    spans = [
        tuple(map(float, line.split()[1:]))
        for output in outputs
        for line in output.splitlines()
        if line.startswith("RAN ")
    ]
    assert len(spans) == len(WINDOWS)
    assert max(begin for begin, _ in spans) < min(end for _, end in spans)

    # Each range was asked once, and all that was asked is the union of the windows.
    requests = online.kline_requests("binance")
    assert all(r.status == 200 for r in requests)
    spans_asked = asked(requests)
    assert_disjoint(spans_asked)
    assert spans_asked[0][0] == ts(0)
    assert spans_asked[-1][1] == ts(5999)
    assert sum((b - a) // STEP + 1 for a, b in spans_asked) == 6000
    assert sum(r.rows or 0 for r in requests) == 6000
    # The windows only A and C cover were fetched by them; a waiting process found the rest.
    fetched = [o for o in outputs if ": fetched " in o]
    assert len(fetched) >= 2
    assert sum(int(o.split(": fetched ")[1].split()[0].replace(",", "")) for o in fetched) == 6000
    assert all(": fetched " in o or ": already cached for " in o for o in outputs)

    store = CandleStore(data_dir)
    assert_equals_source(store, 0, 5999)
    assert store.coverage("binance", "BTC-USDT", "1m") == [(ts(0), ts(5999))]
    lines = verify(data_dir)
    assert len(lines) == 1
    assert lines[0].split()[3:] == ["ok", "6,000", "rows"]
    assert not list((data_dir / "candles" / "binance").glob("*.tmp"))


# --- kill -9 mid-fetch ------------------------------------------------------------------------

_KILLED_FETCH = """
import sys
from hbbacktest.data.access import CandleAccess
from hbbacktest.data.store import CandleStore

data_dir, url, start, end = sys.argv[1:]
access = CandleAccess(
    CandleStore(data_dir), offline=False, exchange_urls={"binance": url}, commit_rows=1000
)
access.fill("binance", "BTC-USDT", "1m", int(start), int(end))
print("FINISHED")
"""

PAGES = 20  # the window of the killed fetch, in 1000-candle pages


def _stored_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).num_rows
    except (OSError, ValueError):
        return 0


def test_a_fetch_killed_mid_way_leaves_a_sound_cache_and_resumes_where_it_stopped(
    online: ExchangeServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    start, end = ts(0), ts(PAGES * 1000 - 1)
    online.inject(delay(0.2), venue="binance", times=PAGES + 5)
    child = subprocess.Popen(
        [sys.executable, "-c", _KILLED_FETCH, str(data_dir), online.base_url, str(start), str(end)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    path = data_dir / "candles" / "binance" / "BTC-USDT_1m.parquet"
    try:
        deadline = time.monotonic() + 60
        while _stored_rows(path) < 3000:  # three pages committed
            assert child.poll() is None, child.communicate()[0].decode()
            assert time.monotonic() < deadline, "the fetch committed no 3 pages within 60 s"
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        output = child.communicate(timeout=30)[0].decode()
    assert child.returncode == -signal.SIGKILL
    assert "FINISHED" not in output
    killed_requests = online.kline_requests("binance")
    online.clear_faults()

    # The cache reads, verifies, holds exactly source candles and nothing outside its coverage.
    store = CandleStore(data_dir)
    candles = store.load("binance", "BTC-USDT", "1m")
    coverage = store.coverage("binance", "BTC-USDT", "1m")
    assert coverage is not None
    assert 3000 <= len(candles) < PAGES * 1000
    assert len(candles) % 1000 == 0  # whole pages only: commits are atomic
    assert coverage == [(start, int(candles.ts[-1]))]
    assert_equals_source(store, 0, len(candles) - 1)
    lines = verify(data_dir)
    assert lines[0].split()[3:] == ["ok", f"{len(candles):,}", "rows"]
    for line in lines[1:]:  # a temporary the killed writer left, if the kill hit a write
        assert line.startswith(f"leftover: {path.parent}/.{path.name}.{child.pid}.tmp ("), line
    assert len(lines) <= 2

    # A new fetch asks only for what is missing, then the window is whole.
    online.clear_requests()
    access = CandleAccess(
        store, offline=False, exchange_urls={"binance": online.base_url}, commit_rows=1000
    )
    report = access.fill("binance", "BTC-USDT", "1m", start, end)
    missing = missing_ranges(start, end, coverage, STEP)
    assert missing == [(int(candles.ts[-1]) + STEP, end)]
    assert list(report.asked) == missing
    assert report.rows == PAGES * 1000 - len(candles)
    resumed = asked(online.kline_requests("binance"))
    assert_disjoint(resumed)
    assert resumed[0][0] == missing[0][0]
    assert resumed[-1][1] == end
    # Nothing the killed fetch had committed was asked again.
    assert all(a > coverage[-1][1] for a, _ in resumed)
    assert len(killed_requests) >= 3
    assert_equals_source(store, 0, PAGES * 1000 - 1)
    assert store.coverage("binance", "BTC-USDT", "1m") == [(start, end)]
    after = verify(data_dir)
    assert after == [f"binance        BTC-USDT     1m   ok  {PAGES * 1000:,} rows"]
    assert not list(path.parent.glob("*.tmp"))  # the next writer removed the leftover
