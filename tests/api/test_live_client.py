"""hummingbot-api-client against a live ``hbbacktest serve``: the drop-in promise, end to end.

One server (a real subprocess, HTTP Basic on) serves the module. The official client
(``hummingbot-api-client``, aiohttp) runs backtests, queues and deletes tasks, and saves a
config it then runs by name; what it gets must be what an in-process ``run_backtest`` of the
same body gives. The legacy paths the dashboard calls are checked with plain aiohttp and httpx.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
import pytest
from hummingbot_api_client import HummingbotAPIClient

from hbbacktest.config.settings import Settings
from hbbacktest.metrics.upstream import upstream_result_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.defaults import DEFAULT_CONFIG
from hbbacktest.service.hbapi import request_from_body
from tests.kit.server import LiveServer, live_server

CREDENTIALS = ("hb-tester", "correct horse battery staple")
START, END = 1704672000, 1705276800  # 2024-01-08 .. 2024-01-15, the demo week
BODY: dict[str, Any] = {"start_time": START, "end_time": END, "config": DEFAULT_CONFIG}
UPSTREAM_KEYS = {
    "executors",
    "processed_data",
    "results",
    "position_holds",
    "position_held_timeseries",
    "pnl_timeseries",
}
TASK_TIMEOUT_S = 60.0

# The client passes an aiohttp.BasicAuth as a session's ``auth``, which aiohttp 3.14
# deprecates: its code, not ours.
pytestmark = [
    pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A live server with credentials, one worker, a fresh data dir."""
    folder = tmp_path_factory.mktemp("live_client")
    with live_server(folder / "data", credentials=CREDENTIALS, workers=1) as live:
        yield live


@pytest.fixture(scope="module")
def native(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """hummingbot-api's result of :data:`BODY`, computed in this process (no server)."""
    folder: Path = tmp_path_factory.mktemp("native")
    settings = Settings(data_dir=folder, offline=True)
    registry = build_registry(settings)
    request = request_from_body(BODY, registry=registry, configs_dir=folder / "configs")
    result = run_backtest(request, settings=settings, registry=registry)
    assert len(result.records) == result.results["total_executors"] > 100
    parsed: dict[str, Any] = orjson.loads(upstream_result_json(result))
    return parsed


@asynccontextmanager
async def api_client(
    server: LiveServer, credentials: tuple[str, str] = CREDENTIALS
) -> AsyncIterator[HummingbotAPIClient]:
    """The official client, logged in with ``credentials``."""
    client = HummingbotAPIClient(server.url, username=credentials[0], password=credentials[1])
    await client.init()
    try:
        yield client
    finally:
        await client.close()


def assert_same_result(got: dict[str, Any], native: dict[str, Any]) -> None:
    """``got`` (from the server) is the in-process run's result."""
    assert UPSTREAM_KEYS <= got.keys(), sorted(got)
    assert len(got["executors"]) == len(native["executors"]) == native["results"]["total_executors"]
    assert got["results"] == native["results"]
    assert got["executors"] == native["executors"]
    assert got["pnl_timeseries"] == native["pnl_timeseries"]


async def wait_for_task(client: HummingbotAPIClient, task_id: str) -> dict[str, Any]:
    """Poll ``get_task`` until the task is no longer pending or running."""
    deadline = time.monotonic() + TASK_TIMEOUT_S
    while True:
        task = await client.backtesting.get_task(task_id)
        if task["status"] not in ("pending", "running"):
            return task
        assert time.monotonic() < deadline, f"task {task_id} still {task['status']}"
        await asyncio.sleep(0.05)


def test_run_gives_the_native_result(server: LiveServer, native: dict[str, Any]) -> None:
    async def scenario() -> dict[str, Any]:
        async with api_client(server) as client:
            return await client.backtesting.run(START, END, config=DEFAULT_CONFIG)

    got = asyncio.run(scenario())
    assert_same_result(got, native)
    assert got["fill_model"] == "hummingbot"
    assert isinstance(got["run_id"], str) and got["run_id"]


def test_task_life_cycle_submit_poll_list_delete(
    server: LiveServer, native: dict[str, Any]
) -> None:
    async def scenario() -> None:
        async with api_client(server) as client:
            submitted = await client.backtesting.submit_task(START, END, config=DEFAULT_CONFIG)
            task_id = submitted["task_id"]
            assert submitted["status"] in ("pending", "running")

            task = await wait_for_task(client, task_id)
            assert task["status"] == "completed", task
            assert task["error"] is None and task["completed_at"] and task["run_id"]
            assert task["config"]["config"] == DEFAULT_CONFIG
            assert (task["config"]["start_time"], task["config"]["end_time"]) == (START, END)
            assert_same_result(task["result"], native)

            listed = await client.backtesting.list_tasks()
            mine = [t for t in listed if t["task_id"] == task_id]
            assert len(mine) == 1 and mine[0]["status"] == "completed"
            assert all("result" not in t for t in listed)

            assert await client.backtesting.delete_task(task_id) == {
                "status": "deleted",
                "task_id": task_id,
            }
            with pytest.raises(aiohttp.ClientResponseError) as missing:
                await client.backtesting.get_task(task_id)
            assert missing.value.status == 404
            assert task_id in missing.value.message
            assert all(t["task_id"] != task_id for t in await client.backtesting.list_tasks())
            with pytest.raises(aiohttp.ClientResponseError) as again:
                await client.backtesting.delete_task(task_id)
            assert again.value.status == 404

    asyncio.run(scenario())


def test_wrong_or_missing_credentials_get_401(server: LiveServer) -> None:
    async def scenario() -> None:
        async with api_client(server, (CREDENTIALS[0], "wrong password")) as client:
            with pytest.raises(aiohttp.ClientResponseError) as wrong:
                await client.backtesting.list_tasks()
            assert wrong.value.status == 401
            assert wrong.value.headers is not None
            assert wrong.value.headers["WWW-Authenticate"] == "Basic"
            with pytest.raises(aiohttp.ClientResponseError) as running:
                await client.backtesting.run(START, END, config=DEFAULT_CONFIG)
            assert running.value.status == 401
        async with api_client(server, ("admin", "admin")) as client:
            with pytest.raises(aiohttp.ClientResponseError) as default:
                await client.controllers.list_controllers()
            assert default.value.status == 401

    asyncio.run(scenario())
    # No credentials at all: 401 everywhere but /health.
    with httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/health").status_code == 200
        for method, path in [
            ("GET", "/backtesting/tasks"),
            ("POST", "/backtesting/run"),
            ("GET", "/results"),
            ("GET", "/metrics"),
        ]:
            response = client.request(method, path, json=BODY)
            assert response.status_code == 401, (method, path, response.text)
            assert response.json() == {"detail": "Incorrect username or password"}


def test_saved_config_round_trip_then_run_by_name(
    server: LiveServer, native: dict[str, Any]
) -> None:
    name = "live_demo_pmm"
    config = dict(DEFAULT_CONFIG)  # its ``id`` is saved too: the run by name is the same run

    async def scenario() -> None:
        async with api_client(server) as client:
            catalogue = await client.controllers.list_controllers()
            assert "pmm_simple" in catalogue["market_making"]

            saved = await client.controllers.create_or_update_controller_config(name, config)
            assert saved["message"] == f"Configuration '{name}' saved successfully"
            listed = await client.controllers.list_controller_configs()
            assert name in [c.get("id") for c in listed]
            read = await client.controllers.get_controller_config(name)
            assert read == {**config, "id": name}  # as upstream: the id shown is the name

            by_name = await client.backtesting.run(START, END, config=name)
            assert_same_result(by_name, native)
            submitted = await client.backtesting.submit_task(START, END, config=name)
            task = await wait_for_task(client, submitted["task_id"])
            assert task["status"] == "completed", task
            assert task["config"]["config"] == name
            assert_same_result(task["result"], native)

            await client.controllers.delete_controller_config(name)
            with pytest.raises(aiohttp.ClientResponseError) as gone:
                await client.controllers.get_controller_config(name)
            assert gone.value.status == 404
            with pytest.raises(aiohttp.ClientResponseError) as unknown:
                await client.backtesting.run(START, END, config=name)
            assert unknown.value.status == 404
            assert name in unknown.value.message
            with pytest.raises(aiohttp.ClientResponseError) as outside:
                await client.backtesting.run(START, END, config="../../etc/passwd")
            assert outside.value.status == 400

    asyncio.run(scenario())


@pytest.mark.parametrize(
    "path", ["/backtesting/run", "/backtesting/run-backtesting", "/run-backtesting"]
)
def test_legacy_paths_with_aiohttp_and_httpx(
    server: LiveServer, native: dict[str, Any], path: str
) -> None:
    async def with_aiohttp() -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": aiohttp.encode_basic_auth(*CREDENTIALS)}
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.post(f"{server.url}{path}", json=BODY) as response:
                return response.status, orjson.loads(await response.read())

    status, got = asyncio.run(with_aiohttp())
    assert status == 200
    assert_same_result(got, native)

    # httpx refusing compression: the answer must not be compressed.
    with httpx.Client(base_url=server.url, auth=CREDENTIALS, timeout=60) as client:
        response = client.post(path, json=BODY, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200, response.text
    assert "content-encoding" not in response.headers
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-run-id"]
    assert_same_result(orjson.loads(response.content), native)


def test_a_config_without_id_never_gives_controller_id_none_string(server: LiveServer) -> None:
    config = {k: v for k, v in DEFAULT_CONFIG.items() if k != "id"}

    async def scenario() -> dict[str, Any]:
        async with api_client(server) as client:
            return await client.backtesting.run(START, START + 86400, config=config)

    got = asyncio.run(scenario())
    assert got["executors"]
    ids = {e["controller_id"] for e in got["executors"]}
    ids |= {e["config"]["controller_id"] for e in got["executors"]}
    assert "None" not in ids, ids
