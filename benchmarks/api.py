"""HTTP API benchmarks: what ``POST /backtesting/run`` adds over an in-process run, and throughput.

Both start a real ``hbbacktest serve`` on 127.0.0.1 (offline, a fresh data dir) and talk to it
with ``http.client`` (raw bytes: the client's own decoding is not the server's cost). The
request is the embedded demo (pmm_simple on synthetic candles), so no shared data is needed.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Emit = Callable[..., None]
WEEK = (1704672000, 1705276800)  # the demo's 2024-01-08 .. 2024-01-15
DAY = (1704672000, 1704758400)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(workers: int) -> Iterator[int]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="hbb-bench-api-") as tmp:
        env = {**os.environ, "HBBACKTEST_DATA_DIR": tmp, "HBBACKTEST_OFFLINE": "1"}
        for name in ("HBBACKTEST_API_USERNAME", "HBBACKTEST_API_PASSWORD"):
            env.pop(name, None)
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "hbbacktest", "serve", "--port", str(port)),
                *("--workers", str(workers), "--log-level", "warning"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if _request(port, "GET", "/health")[0] == 200:
                        break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    err = process.stderr.read().decode() if process.stderr else ""
                    raise RuntimeError(f"hbbacktest serve did not start:\n{err}")
                time.sleep(0.1)
            yield port
        finally:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _request(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Accept-Encoding": "gzip", "Content-Type": "application/json"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _body(window: tuple[int, int]) -> dict[str, Any]:
    from hbbacktest.service.defaults import DEFAULT_CONFIG

    return {"start_time": window[0], "end_time": window[1], "config": DEFAULT_CONFIG}


def bench_overhead(emit: Emit, repeat: int) -> None:
    """``POST /backtesting/run`` wall time against the same run in-process, and the encodings.

    The overhead is the request's wall time less the in-process run and upstream's encoding
    (both reported): the server's queue, the worker's pipe, HTTP. Back to back, each run also
    shares the 2 cores with the previous one's compression and storing.
    """
    from hbbacktest.metrics.encode import json_chunks
    from hbbacktest.metrics.upstream import upstream_result_json
    from hbbacktest.service.backtest import run_backtest
    from hbbacktest.service.controllers import build_registry
    from hbbacktest.service.hbapi import request_from_body

    body = _body(WEEK)
    registry = build_registry()
    request = request_from_body(body, registry=registry, configs_dir=Path(tempfile.gettempdir()))
    run_backtest(request, registry=registry)  # compile / load kernels
    n = max(repeat, 15)
    runs, natives, upstreams, zips = [], [], [], []
    for _ in range(n):
        t0 = time.perf_counter()
        result = run_backtest(request, registry=registry)
        runs.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        native = b"".join(json_chunks(result))
        natives.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        upstream = upstream_result_json(result)
        upstreams.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        gzip.compress(native, 1, mtime=0)
        gzip.compress(upstream, 1, mtime=0)
        zips.append(time.perf_counter() - t0)
    executors = int(result.results["total_executors"])
    with _server(workers=1) as port:
        for _ in range(3):
            _request(port, "POST", "/backtesting/run", body)
        walls, spaced, size = [], [], 0
        for _ in range(n):
            t0 = time.perf_counter()
            status, raw = _request(port, "POST", "/backtesting/run", body)
            walls.append(time.perf_counter() - t0)
            assert status == 200, raw[:300]
            size = len(raw)
        for _ in range(n):
            # Spaced out: the previous run's compression and storing (in the server, after
            # the answer) no longer compete with this run for the 2 cores.
            time.sleep(0.3)
            t0 = time.perf_counter()
            _request(port, "POST", "/backtesting/run", body)
            spaced.append(time.perf_counter() - t0)
    command = "python -m benchmarks --only api_overhead"
    emit("api run in-process", runs, "s", command, executors=executors)
    emit("api encode upstream", upstreams, "s", command, bytes=len(upstream))
    emit("api encode native", natives, "s", command, bytes=len(native))
    emit("api gzip both", zips, "s", command)
    emit("api POST /run", walls, "s", command, gzip_bytes=size)
    emit("api POST /run spaced", spaced, "s", command)
    base = statistics.median(runs) + statistics.median(upstreams)
    # The figure: what the API adds to the run besides encoding upstream's format
    # (that encoding is reported above), back to back and spaced out.
    emit("api overhead beyond encoding", [(w - base) * 1000 for w in walls], "ms", command)
    emit(
        "api overhead, spaced",
        [(w - base) * 1000 for w in spaced],
        "ms",
        command,
        target_ms=30,
    )


def bench_throughput(emit: Emit, repeat: int, *, clients: int = 8, per_client: int = 10) -> None:
    """Small backtests (one demo day) from ``clients`` concurrent clients on 2 workers."""
    body = _body(DAY)
    with _server(workers=2) as port:
        for _ in range(2):
            _request(port, "POST", "/backtesting/run", body)
        latencies: list[float] = []
        errors: list[str] = []
        lock = threading.Lock()

        def client() -> None:
            for _ in range(per_client):
                t0 = time.perf_counter()
                status, raw = _request(port, "POST", "/backtesting/run", body)
                seconds = time.perf_counter() - t0
                with lock:
                    latencies.append(seconds)
                    if status != 200:
                        errors.append(f"{status}: {raw[:200]!r}")

        rates = []
        for _ in range(max(1, min(repeat, 3))):
            latencies.clear()
            threads = [threading.Thread(target=client) for _ in range(clients)]
            t0 = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            rates.append(clients * per_client / (time.perf_counter() - t0))
        assert not errors, errors[:3]
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    command = "python -m benchmarks --only api_throughput"
    emit(
        f"api throughput ({clients} clients)",
        rates,
        "/s",
        command,
        p50_ms=round(statistics.median(ordered) * 1000, 1),
        p99_ms=round(p99 * 1000, 1),
        requests=len(ordered),
        workers=2,
    )
