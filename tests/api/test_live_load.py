"""A live ``hbbacktest serve`` under load, killed mid-run, and refusing unsafe binds.

* 50 concurrent requests of every kind (valid runs on the three run paths, task submissions,
  invalid bodies, unknown controllers, bad config names, runs that fail in the worker) against
  ``--workers 2``: each gets its own right answer, strict JSON, never a 500; every valid run is
  the in-process run of its body. Meanwhile a thread polls ``/health``: the issue asks that it
  answer in < 50 ms while backtests run (asserted on p95, with a generous bound on the max).
* SIGKILL of the whole server mid-task, then a new server on the same data dir: finished
  results are all there, the running task is ``interrupted`` and resubmits, pending ones run.
* ``--host 0.0.0.0`` without credentials, or with admin/admin, exits 2 before binding;
  ``--insecure`` starts it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.metrics.upstream import upstream_result_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.defaults import DEFAULT_CONFIG
from hbbacktest.service.hbapi import request_from_body
from tests.kit.server import LiveServer, free_port, hbbacktest_env, live_server, serve_command

CREDENTIALS = ("load-tester", "a long and random secret")
DAY = 86_400
START = 1704672000  # 2024-01-08, inside the demo connector's coverage
HEALTH_P95_S = 0.050  # the issue: /health answers in < 50 ms while backtests run
HEALTH_MAX_S = 0.250
TASK_TIMEOUT_S = 60.0


def body(days: int = 7, **changes: Any) -> dict[str, Any]:
    """A hummingbot-api body on the demo connector.

    ``trade_cost`` and ``fill_model`` in ``changes`` are body fields; the rest change the config.
    """
    extra = {k: changes.pop(k) for k in list(changes) if k in ("trade_cost", "fill_model")}
    return {
        "start_time": START,
        "end_time": START + days * DAY,
        "config": {**DEFAULT_CONFIG, **changes},
        **extra,
    }


VALID = [
    body(),
    body(days=2),
    body(days=3, trade_cost=0.001),
    body(days=2, fill_model="touch", buy_spreads="0.001,0.003", sell_spreads="0.001,0.003"),
]


def strict_json(raw: bytes) -> Any:
    """Parse JSON, refusing NaN and Infinity (which ``json`` accepts by default)."""

    def refuse(token: str) -> Any:
        raise ValueError(f"non-standard JSON constant {token}")

    return json.loads(raw, parse_constant=refuse)


def native_result(payload: dict[str, Any], folder: Path) -> dict[str, Any]:
    """hummingbot-api's result of ``payload``, computed in this process."""
    settings = Settings(data_dir=folder, offline=True)
    registry = build_registry(settings)
    request = request_from_body(payload, registry=registry, configs_dir=folder / "configs")
    result: dict[str, Any] = orjson.loads(
        upstream_result_json(run_backtest(request, settings=settings, registry=registry))
    )
    return result


@pytest.fixture(scope="module")
def natives(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The in-process result of each :data:`VALID` body."""
    folder = tmp_path_factory.mktemp("natives")
    return [native_result(payload, folder) for payload in VALID]


def assert_same_result(got: dict[str, Any], native: dict[str, Any]) -> None:
    assert len(got["executors"]) == len(native["executors"]) > 0
    assert got["results"] == native["results"]
    assert got["executors"] == native["executors"]
    assert got["pnl_timeseries"] == native["pnl_timeseries"]


# ------------------------------------------------------------------------------------------
# 50 concurrent requests


@dataclass
class Call:
    """One request of the load and what it must get."""

    kind: str
    method: str
    path: str
    expect: int
    json_body: Any = None
    raw_body: bytes | None = None
    valid: int | None = None  # index in VALID of a body whose result is checked
    contains: str = ""  # a piece of text the answer's detail must hold
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""


def load_calls() -> list[Call]:
    """The 50 requests: 24 that succeed (16 runs on the three run paths, 8 tasks) and 26 that
    fail with their own status: 10 invalid bodies (422), 6 unknown controllers (404), 6 bad
    config names (400, 404), 2 runs the worker fails (409), 2 unknown ids (404)."""
    calls: list[Call] = []
    run_paths = ["/backtesting/run", "/backtesting/run-backtesting", "/run-backtesting"]
    for i in range(16):
        valid = i % len(VALID)
        path = run_paths[i % len(run_paths)]
        calls.append(Call("run", "POST", path, 200, json_body=VALID[valid], valid=valid))
    for i in range(8):
        valid = i % len(VALID)
        calls.append(Call("task", "POST", "/backtesting/tasks", 200, VALID[valid], valid=valid))
    invalid: list[tuple[Any, str]] = [
        ({}, "config"),
        ({**VALID[0], "start_time": "yesterday"}, "start_time"),
        ({**VALID[0], "config": 42}, "config"),
        ([], ""),
        (body(total_amount_quote=-5), "total_amount_quote"),
        ({**VALID[0], "start_time": START + 7 * DAY, "end_time": START}, "must be before end"),
        ({**VALID[0], "backtesting_resolution": "7q"}, "7q"),
        ({**VALID[0], "fill_model": "bogus"}, "fill_model"),
    ]
    for payload, text in invalid:
        calls.append(Call("invalid", "POST", "/backtesting/run", 422, payload, contains=text))
    for raw in (b'{"start_time": NaN, "config": {}}', b"{not json"):
        calls.append(Call("invalid", "POST", "/backtesting/run", 422, raw_body=raw))
    for name, path in [
        ("pmm_simpel", "/backtesting/run"),
        ("dman_v9", "/backtesting/run"),
        ("nothing_like_it", "/backtesting/run-backtesting"),
        ("grid_strike_x", "/run-backtesting"),
        ("pmm_simpel", "/backtesting/tasks"),
        ("bollinger", "/backtesting/tasks"),
    ]:
        calls.append(
            Call("unknown", "POST", path, 404, body(controller_name=name), contains=repr(name))
        )
    for name, expect, path in [
        ("no_such_config", 404, "/backtesting/run"),
        ("../escape", 400, "/backtesting/run"),
        ("/etc/passwd", 400, "/backtesting/run-backtesting"),
        ("a/../../b", 400, "/run-backtesting"),
        ("", 400, "/backtesting/tasks"),
        ("missing/deeper", 404, "/backtesting/tasks"),
    ]:
        payload = {**VALID[0], "config": name}
        text = "not found" if expect == 404 else "config name"
        calls.append(Call("bad name", "POST", path, expect, payload, contains=text))
    # Valid bodies the worker fails on: the demo candles do not cover 2017 (409, not 500).
    for path in ("/backtesting/run", "/run-backtesting"):
        late = {**VALID[0], "start_time": 1500000000, "end_time": 1500000000 + DAY}
        calls.append(Call("worker error", "POST", path, 409, late))
    calls.append(Call("missing", "GET", "/backtesting/tasks/0123456789abcdef", 404))
    calls.append(Call("missing", "DELETE", "/results/0123456789abcdef", 404))
    assert len(calls) == 50
    return calls


async def send(client: httpx.AsyncClient, call: Call) -> None:
    """Send one call; keep the raw (maybe gzip) answer, decoded only after the load."""
    kwargs: dict[str, Any] = {}
    if call.raw_body is not None:
        kwargs = {"content": call.raw_body, "headers": {"Content-Type": "application/json"}}
    elif call.json_body is not None:
        kwargs = {"json": call.json_body}
    async with client.stream(call.method, call.path, **kwargs) as response:
        call.status = response.status_code
        call.headers = dict(response.headers)
        call.raw = b"".join([chunk async for chunk in response.aiter_raw()])


class HealthProbe(threading.Thread):
    """Polls ``GET /health`` back to back (5 ms apart), timing each answer."""

    def __init__(self, url: str) -> None:
        super().__init__(name="health-probe", daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.samples: list[tuple[float, bool]] = []  # (seconds, a backtest running or queued)
        self.problems: list[str] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            while not self.stop.is_set():
                started = time.perf_counter()
                try:
                    response = client.get("/health")
                except httpx.HTTPError as exc:
                    self.problems.append(repr(exc))
                    return
                seconds = time.perf_counter() - started
                if response.status_code != 200:
                    self.problems.append(f"{response.status_code} {response.text}")
                    continue
                answer = strict_json(response.content)
                self.samples.append((seconds, bool(answer["running"] or answer["queue_depth"])))
                time.sleep(0.005)

    def busy_seconds(self) -> list[float]:
        """Latencies of the answers given while backtests ran or waited, sorted."""
        return sorted(seconds for seconds, busy in self.samples if busy)


def decoded(call: Call) -> Any:
    raw = call.raw
    if call.headers.get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    return strict_json(raw)


def wait_for_task(client: httpx.Client, task_id: str, *, until: tuple[str, ...]) -> dict[str, Any]:
    deadline = time.monotonic() + TASK_TIMEOUT_S
    while True:
        response = client.get(f"/backtesting/tasks/{task_id}")
        assert response.status_code == 200, response.text
        task: dict[str, Any] = strict_json(response.content)
        if task["status"] in until:
            return task
        assert time.monotonic() < deadline, f"task {task_id} still {task['status']}"
        time.sleep(0.05)


def test_50_concurrent_requests_with_health_under_50_ms(
    tmp_path: Path, natives: list[dict[str, Any]]
) -> None:
    calls = load_calls()
    env = {"HBBACKTEST_MAX_QUEUE": "200"}
    with live_server(tmp_path / "data", credentials=CREDENTIALS, workers=2, env=env) as server:
        probe = HealthProbe(server.url)

        async def load() -> float:
            limits = httpx.Limits(max_connections=60)
            async with httpx.AsyncClient(
                base_url=server.url, auth=CREDENTIALS, timeout=120, limits=limits
            ) as client:
                await client.get("/backtesting/tasks")  # connection and auth path warm
                probe.start()
                await asyncio.sleep(0.3)  # idle samples first
                started = time.perf_counter()
                await asyncio.gather(*(send(client, call) for call in calls))
                return time.perf_counter() - started

        try:
            load_s = asyncio.run(load())
        finally:
            probe.stop.set()
            probe.join(30)

        # Every answer: the expected status, strict JSON, never a 500.
        by_status: dict[int, int] = {}
        for call in calls:
            by_status[call.status] = by_status.get(call.status, 0) + 1
            answer = decoded(call)
            assert call.status == call.expect, (call.kind, call.path, call.status, answer)
            if call.expect >= 400:
                detail = json.dumps(answer["detail"])
                assert call.contains in detail, (call.kind, call.contains, detail)
        assert 500 not in by_status

        # Valid runs: the in-process result of their body; tasks: queued, then that too.
        runs = [c for c in calls if c.kind == "run"]
        tasks = [c for c in calls if c.kind == "task"]
        for call in runs:
            assert call.valid is not None
            assert call.headers["x-run-id"]
            assert_same_result(decoded(call), natives[call.valid])
        with httpx.Client(base_url=server.url, auth=CREDENTIALS, timeout=60) as client:
            for call in tasks:
                queued = decoded(call)
                assert call.valid is not None and queued["status"] in ("pending", "running")
                task = wait_for_task(client, queued["task_id"], until=("completed", "failed"))
                assert task["status"] == "completed", task
                assert_same_result(task["result"], natives[call.valid])
            # A run may be answered just before it is stored: wait for the store to catch up.
            deadline = time.monotonic() + 10
            while True:
                stored = strict_json(client.get("/results", params={"limit": 1}).content)
                metrics = client.get("/metrics").text
                if stored["total"] >= len(runs) + len(tasks) or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
        assert stored["total"] == len(runs) + len(tasks)
        assert 'hbbacktest_backtests_finished_total{status="completed"} 24.0' in metrics
        assert 'hbbacktest_backtests_finished_total{status="failed"} 2.0' in metrics

        # /health while the backtests ran (answers that saw one running or queued).
        assert not probe.problems, probe.problems[:5]
        busy = probe.busy_seconds()
        assert len(busy) >= 30, f"only {len(busy)} /health answers under load in {load_s:.2f} s"
        p50 = statistics.median(busy)
        p95 = busy[int(0.95 * (len(busy) - 1))]
        worst = busy[-1]
        print(
            f"\n50 requests in {load_s:.2f} s ({by_status}); /health under load "
            f"x{len(busy)} (of {len(probe.samples)}): p50 {p50 * 1000:.1f} ms, "
            f"p95 {p95 * 1000:.1f} ms, max {worst * 1000:.1f} ms"
        )
        assert p95 < HEALTH_P95_S, f"/health p95 {p95 * 1000:.1f} ms under load"
        assert worst < HEALTH_MAX_S, f"/health max {worst * 1000:.1f} ms under load"


# ------------------------------------------------------------------------------------------
# restart mid-run

GATED_CONTROLLER = '''\
"""A market maker whose features wait while a gate file exists (tests only)."""

import os
import time

import numpy as np

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.controllers.base import FeatureTable, MarketData, MarketMakingControllerBase


class GatedMMConfig(MarketMakingControllerConfigBase):
    controller_name: str = "gated_mm"
    gate: str = ""


class GatedMMController(MarketMakingControllerBase[GatedMMConfig]):
    def compute_features(self, data: MarketData) -> FeatureTable:
        deadline = time.monotonic() + 120
        while self.config.gate and os.path.exists(self.config.gate):
            if time.monotonic() > deadline:
                raise RuntimeError("the gate stayed closed for 120 s")
            time.sleep(0.02)
        bars = data.bars
        columns = {"reference_price": bars.close, "spread_multiplier": np.ones(len(bars))}
        return FeatureTable(ts=bars.ts, interval_s=bars.interval_s, columns=columns)
'''


def gated(gate: Path | None = None) -> dict[str, Any]:
    """One day of ``gated_mm``; with ``gate`` it waits while that file exists."""
    config = {
        "controller_name": "gated_mm",
        "controller_type": "market_making",
        "connector_name": "demo",
        "trading_pair": "BTC-USDT",
        "total_amount_quote": 1000,
        "buy_spreads": "0.002,0.004",
        "sell_spreads": "0.002,0.004",
        "take_profit": 0.02,
        "stop_loss": 0.03,
        "time_limit": 2700,
        "gate": str(gate) if gate else "",
    }
    return {"start_time": START, "end_time": START + DAY, "config": config}


@dataclass
class Restart:
    """What a server killed mid-task left, seen by the server started after it."""

    folder: Path
    done_task: str
    done_result: dict[str, Any]
    run_id: str
    run_result: dict[str, Any]
    running_task: str
    interrupted: dict[str, Any]  # the running task as the second server first shows it
    pending_tasks: list[str]
    members_at_kill: list[int]
    server: LiveServer
    client: httpx.Client


@pytest.fixture(scope="module")
def restart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restart]:
    """Server A: one task done, one run done, one task running, two pending; SIGKILL; server B."""
    folder = tmp_path_factory.mktemp("restart")
    (folder / "controllers" / "market_making").mkdir(parents=True)
    (folder / "controllers" / "market_making" / "gated_mm.py").write_text(GATED_CONTROLLER)
    gate = folder / "gate"
    gate.touch()
    env = {"HBBACKTEST_CONTROLLERS_DIR": str(folder / "controllers")}
    data = folder / "data"
    with live_server(data, credentials=CREDENTIALS, workers=1, env=env) as first:
        with httpx.Client(base_url=first.url, auth=CREDENTIALS, timeout=60) as client:
            done_task = client.post("/backtesting/tasks", json=gated()).json()["task_id"]
            done = wait_for_task(client, done_task, until=("completed", "failed"))
            assert done["status"] == "completed", done
            ran = client.post("/backtesting/run", json=gated())
            assert ran.status_code == 200, ran.text
            running_task = client.post("/backtesting/tasks", json=gated(gate)).json()["task_id"]
            wait_for_task(client, running_task, until=("running",))
            pending = [
                client.post("/backtesting/tasks", json=gated()).json()["task_id"] for _ in range(2)
            ]
            for task_id in pending:
                assert client.get(f"/backtesting/tasks/{task_id}").json()["status"] == "pending"
            health = client.get("/health").json()
            assert (health["running"], health["queue_depth"]) == (1, 2), health
        members = first.members()
        first.kill()  # the whole group, mid-task: no shutdown code runs
        assert first.process.returncode == -signal.SIGKILL
        assert not first.members()
    with (
        live_server(data, credentials=CREDENTIALS, workers=1, env=env, log_name="second.log") as s,
        httpx.Client(base_url=s.url, auth=CREDENTIALS, timeout=60) as client,
    ):
        interrupted = strict_json(client.get(f"/backtesting/tasks/{running_task}").content)
        yield Restart(
            folder=folder,
            done_task=done_task,
            done_result=done["result"],
            run_id=ran.headers["x-run-id"],
            run_result=strict_json(ran.content),
            running_task=running_task,
            interrupted=interrupted,
            pending_tasks=pending,
            members_at_kill=members,
            server=s,
            client=client,
        )
        gate.unlink(missing_ok=True)


def test_restart_keeps_finished_results(restart: Restart) -> None:
    # the killed server, its fork server and its worker were all running
    assert len(restart.members_at_kill) >= 3, restart.members_at_kill
    client = restart.client
    task = strict_json(client.get(f"/backtesting/tasks/{restart.done_task}").content)
    assert task["status"] == "completed"
    assert task["result"] == restart.done_result
    listed = strict_json(client.get("/results").content)
    ids = {item["id"]: item for item in listed["items"]}
    assert restart.run_id in ids and task["run_id"] in ids
    assert ids[task["run_id"]]["task_id"] == restart.done_task
    assert ids[restart.run_id]["controller_name"] == "gated_mm"
    again = client.get(f"/results/{restart.run_id}", params={"format": "hummingbot"})
    assert again.status_code == 200
    assert strict_json(again.content) == restart.run_result
    native = client.get(f"/results/{restart.run_id}")
    assert native.status_code == 200 and strict_json(native.content)


def test_restart_runs_pending_tasks(restart: Restart) -> None:
    for task_id in restart.pending_tasks:
        task = wait_for_task(restart.client, task_id, until=("completed", "failed"))
        assert task["status"] == "completed", task
        assert task["result"]["executors"] == restart.done_result["executors"]


def test_restart_interrupts_the_running_task_and_resubmit_completes_it(restart: Restart) -> None:
    client, task_id = restart.client, restart.running_task
    task = restart.interrupted
    assert task["status"] == "interrupted", task
    assert task["error_kind"] == "Interrupted" and "resubmit" in task["error"], task
    assert task["completed_at"] and "result" not in task
    listed = strict_json(client.get("/backtesting/tasks").content)
    assert {t["task_id"]: t["status"] for t in listed}[task_id] == "interrupted"

    again = client.post(f"/backtesting/tasks/{task_id}/resubmit")
    assert again.status_code == 200, again.text
    assert again.json() == {"task_id": task_id, "status": "pending"}
    # The gate is still closed: the task waits (pending or running), so a second resubmit
    # is a conflict.
    twice = client.post(f"/backtesting/tasks/{task_id}/resubmit")
    assert twice.status_code == 409, twice.text
    assert "wait for it to finish" in twice.json()["detail"]
    (restart.folder / "gate").unlink()
    done = wait_for_task(client, task_id, until=("completed", "failed"))
    assert done["status"] == "completed", done
    assert done["error"] is None and done["error_kind"] is None
    assert len(done["result"]["executors"]) == len(restart.done_result["executors"])
    assert client.post("/backtesting/tasks/0123456789abcdef/resubmit").status_code == 404


def test_the_interrupted_note_names_the_task(restart: Restart) -> None:
    task_id = restart.running_task
    assert f"/backtesting/tasks/{task_id}/resubmit" in restart.interrupted["error"]


def test_a_graceful_stop_marks_the_running_task_interrupted(tmp_path: Path) -> None:
    (tmp_path / "controllers" / "market_making").mkdir(parents=True)
    (tmp_path / "controllers" / "market_making" / "gated_mm.py").write_text(GATED_CONTROLLER)
    gate = tmp_path / "gate"
    gate.touch()
    env = {"HBBACKTEST_CONTROLLERS_DIR": str(tmp_path / "controllers")}
    with live_server(tmp_path / "data", workers=1, env=env) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            task_id = client.post("/backtesting/tasks", json=gated(gate)).json()["task_id"]
            wait_for_task(client, task_id, until=("running",))
        server.process.send_signal(signal.SIGINT)  # Ctrl+C; the kit checks the clean exit
        assert server.process.wait(timeout=30) == 0, server.log()
    with sqlite3.connect(tmp_path / "data" / "hbbacktest.db") as conn:
        status, error = conn.execute(
            "SELECT status, error FROM task WHERE id = ?", (task_id,)
        ).fetchone()
    conn.close()
    assert status == "interrupted", (status, error)
    assert f"/backtesting/tasks/{task_id}/resubmit" in error


# ------------------------------------------------------------------------------------------
# refusing to serve the network without credentials


def loopback_name() -> str | None:
    """This machine's host name when it resolves to loopback only (``check_bind`` does not
    resolve names, so it counts as a public address), else None."""
    name = socket.gethostname()
    try:
        _, _, addresses = socket.gethostbyname_ex(name)
    except OSError:
        return None
    loopback = addresses and all(a.startswith("127.") for a in addresses)
    return name if loopback and name not in ("localhost", "localhost.localdomain") else None


def serve_once(
    tmp_path: Path, host: str, *, credentials: tuple[str, str] | None, args: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        serve_command(host=host, port=free_port(), args=args),
        env=hbbacktest_env(tmp_path / "data", credentials=credentials),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        start_new_session=True,
    )


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [(None, "without credentials"), (("admin", "admin"), "admin/admin")],
)
def test_a_public_bind_without_real_credentials_exits_2(
    tmp_path: Path, credentials: tuple[str, str] | None, problem: str
) -> None:
    refused = serve_once(tmp_path, "0.0.0.0", credentials=credentials)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: serving 0.0.0.0"), refused.stderr
    assert problem in refused.stderr
    assert "HBBACKTEST_API_PASSWORD" in refused.stderr and "--insecure" in refused.stderr
    assert "Uvicorn running" not in refused.stderr and "startup" not in refused.stderr


def test_half_credentials_are_refused_even_on_loopback(tmp_path: Path) -> None:
    refused = subprocess.run(
        serve_command(port=free_port()),
        env={**hbbacktest_env(tmp_path / "data"), "HBBACKTEST_API_USERNAME": "someone"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2, refused.stderr
    assert "HBBACKTEST_API_PASSWORD is not set" in refused.stderr


def test_insecure_lets_a_public_bind_start(tmp_path: Path) -> None:
    # A host name that resolves to 127.0.0.1 is "public" to check_bind, and keeps the socket
    # on loopback; without one, 0.0.0.0 is bound, and stopped at once.
    host = loopback_name() or "0.0.0.0"
    refused = serve_once(tmp_path, host, credentials=None)
    assert refused.returncode == 2, refused.stderr
    with live_server(tmp_path / "data", host=host, args=("--insecure",)) as server:
        response = httpx.get(f"{server.url}/health", timeout=10)
        assert response.status_code == 200
        log = server.log()
    assert f"warning: serving {host} (reachable from other machines) without credentials" in log
    assert "allowed by --insecure" in log
    assert os.path.exists(tmp_path / "data" / "hbbacktest.db")
