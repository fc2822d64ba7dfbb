"""Errors over HTTP: every status of ``api/errors.py``'s mapping, reached through a real request.

Each answer is JSON with a ``detail`` (and the error's kind in ``error``). Statuses that need
particular settings get an app of their own: a queue of one (429, cancel), a one-second time
limit (504), HTTP Basic (401), the replay server as the exchange (502, 503). A 500 is
provoked by a service function raising a plain ``RuntimeError``. Degenerate runs must still
answer strict JSON everywhere: no NaN or Infinity in any body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hbbacktest.api.auth import check_bind
from hbbacktest.api.routes import candles as candles_route
from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError
from hbbacktest.service.defaults import DEFAULT_CONFIG
from tests.api.conftest import (
    CREDENTIALS,
    DAY,
    EXCHANGE_T0,
    T0,
    body,
    gated,
    make_settings,
    running_app,
    stored,
    strict_json,
    wait_health,
    wait_task,
)
from tests.kit.exchange_server import ExchangeServer, rate_limit, server_error

Call = tuple[str, str, Any]  # method, path, JSON body


def call(client: TestClient, method: str, path: str, json: Any = None, **kwargs: Any) -> Any:
    if json is None:
        return client.request(method, path, **kwargs)
    return client.request(method, path, json=json, **kwargs)


def error_body(answer: Any, status: int, kind: str | None) -> dict[str, Any]:
    """Check an error answer: its status, strict JSON with ``detail``, its kind."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    content: dict[str, Any] = strict_json(answer.content)
    assert content.get("detail"), content
    assert content.get("error") == kind, content
    return content


# --- statuses the session app reaches ---------------------------------------------------------

CASES: list[tuple[str, Call, int, str | None, str]] = [
    ("config_name", ("POST", "/backtesting/run", body("../etc/x")), 400, "ConfigNameError", ".."),
    ("config_name_path", ("GET", "/controllers/configs/.x", None), 400, "ConfigNameError", ".x"),
    ("unknown_task", ("GET", "/backtesting/tasks/nope", None), 404, "NotFoundError", "nope"),
    (
        "unknown_task_delete",
        ("DELETE", "/backtesting/tasks/nope", None),
        404,
        "NotFoundError",
        "nope",
    ),
    ("unknown_result", ("GET", "/results/nope", None), 404, "NotFoundError", "nope"),
    (
        "unknown_saved",
        ("POST", "/backtesting/run", body("nope_cfg")),
        404,
        "ConfigNotFoundError",
        "nope_cfg",
    ),
    (
        "unknown_controller",
        ("POST", "/backtesting/tasks", body({**DEFAULT_CONFIG, "controller_name": "pmm_simpel"})),
        404,
        "ControllerNotFoundError",
        "pmm_simple",
    ),
    ("unknown_download", ("GET", "/candles/download/nope", None), 404, "NotFoundError", "nope"),
    ("no_route", ("GET", "/no/such/route", None), 404, None, "Not Found"),
    ("method", ("PUT", "/health", None), 405, None, "Method Not Allowed"),
    (
        "data_missing_offline",
        ("POST", "/backtesting/run", body({**DEFAULT_CONFIG, "connector_name": "binance"})),
        409,
        "DataMissingError",
        "hbbacktest data fetch --connector binance --pair BTC-USDT",
    ),
    (
        "data_missing_offline_flag",
        (
            "POST",
            "/backtesting/run",
            body({**DEFAULT_CONFIG, "connector_name": "bybit"}, offline=True),
        ),
        409,
        "DataMissingError",
        "offline",
    ),
    (
        "body_missing",
        ("POST", "/backtesting/run", {"start_time": T0}),
        422,
        "RequestValidationError",
        "config",
    ),
    (
        "config_invalid",
        ("POST", "/backtesting/run", body({**DEFAULT_CONFIG, "leverage": "lots"})),
        422,
        "ConfigError",
        "leverage",
    ),
    (
        "window_reversed",
        ("POST", "/backtesting/tasks", body(start=T0 + DAY, end=T0)),
        422,
        "ConfigError",
        "must be before end",
    ),
    (
        "controller_raised",
        ("POST", "/backtesting/run", body(gated(fail=True))),
        422,
        "ControllerError",
        "told to fail",
    ),
    ("bad_since", ("GET", "/results?since=soon", None), 422, "ConfigError", "soon"),
]


@pytest.mark.parametrize(
    ("request_", "status", "kind", "word"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_statuses_of_the_session_app(
    client: TestClient, request_: Call, status: int, kind: str | None, word: str
) -> None:
    answer = call(client, *request_)
    content = error_body(answer, status, kind)
    assert word in str(content["detail"])


def test_a_failed_write_is_503(client: TestClient, client_settings: Settings) -> None:
    """OutputError: the config cannot be written (a file stands where its folder should)."""
    blocker = client_settings.configs_path / "blocked"
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    try:
        answer = client.post("/controllers/configs/blocked/pmm", json=DEFAULT_CONFIG)
        content = error_body(answer, 503, "OutputError")
        assert "cannot save config 'blocked/pmm'" in content["detail"]
    finally:
        blocker.unlink()


# --- the exchange: 502 and 503 ----------------------------------------------------------------


@pytest.fixture
def exchange_pair(exchange: ExchangeServer) -> Iterator[Callable[[str], dict[str, Any]]]:
    exchange.reset()

    def posted(pair: str) -> dict[str, Any]:
        config = {**DEFAULT_CONFIG, "connector_name": "binance", "trading_pair": pair}
        return body(config, start=EXCHANGE_T0, end=EXCHANGE_T0 + 3600)

    yield posted
    exchange.clear_faults()


def test_an_exchange_refusal_is_502(
    online_client: TestClient,
    exchange: ExchangeServer,
    exchange_pair: Callable[[str], dict[str, Any]],
) -> None:
    exchange.inject(server_error(403), venue="binance", pair="ETH-USDT")
    answer = online_client.post("/backtesting/run", json=exchange_pair("ETH-USDT"))
    content = error_body(answer, 502, "ExchangeError")
    assert "HTTP 403" in content["detail"] and "ETH-USDT" in content["detail"]
    assert "retry-after" not in answer.headers


def test_an_exchange_that_keeps_failing_is_503_with_retry_after(
    online_client: TestClient,
    exchange: ExchangeServer,
    exchange_pair: Callable[[str], dict[str, Any]],
) -> None:
    # Asking to wait longer than the retry budget: given up at once.
    exchange.inject(rate_limit(1000), venue="binance", pair="SOL-USDT")
    answer = online_client.post("/backtesting/run", json=exchange_pair("SOL-USDT"))
    content = error_body(answer, 503, "ExchangeTemporaryError")
    assert "rate limited" in content["detail"] and "retry budget" in content["detail"]
    assert answer.headers["retry-after"] == "30"
    # Once the exchange answers, the same body runs.
    retried = online_client.post("/backtesting/run", json=exchange_pair("SOL-USDT"))
    assert retried.status_code == 200, retried.text


def test_a_body_cannot_take_an_offline_server_online(
    settings_for: Callable[..., Settings], exchange: ExchangeServer
) -> None:
    """``"offline": false`` in a body never overrides HBBACKTEST_OFFLINE (a body may only ask
    for offline)."""
    exchange.reset()
    settings = settings_for(offline=True, exchange_urls={"binance": exchange.base_url})
    config = {**DEFAULT_CONFIG, "connector_name": "binance", "trading_pair": "ADA-USDT"}
    posted = body(config, start=EXCHANGE_T0 + DAY, end=EXCHANGE_T0 + DAY + 600, offline=False)
    with running_app(settings) as app:
        answer = app.post("/backtesting/run", json=posted)
    assert exchange.requests == []
    error_body(answer, 409, "DataMissingError")


@pytest.mark.parametrize(
    ("path", "document"),
    [
        ("/backtesting/run", body({**DEFAULT_CONFIG, "take_profit": "__X__"})),
        ("/backtesting/tasks", body(trade_cost="__X__")),
        ("/controllers/configs/nan_config", {**DEFAULT_CONFIG, "total_amount_quote": "__X__"}),
        ("/controllers/market_making/pmm_simple/config/validate", {"stop_loss": "__X__"}),
        ("/performance/summarize", {"executors": [], "final_price": "__X__"}),
    ],
    ids=["run", "task", "save", "validate", "summarize"],
)
@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_tokens_in_a_body_are_422(
    client: TestClient, path: str, document: dict[str, Any], token: str
) -> None:
    """Python's JSON parser reads these tokens; no endpoint may take them as numbers."""
    raw = json.dumps(document).replace('"__X__"', token)
    answer = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    strict_json(answer.content)
    assert "finite" in answer.text
    assert client.get("/controllers/configs/nan_config").status_code == 404


# --- 500: a bug ---------------------------------------------------------------------------------


def test_a_bug_is_500_with_an_error_id_in_the_answer_and_the_log(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(candles_route, "list_candles", broken)
    with caplog.at_level(logging.ERROR, logger="hbbacktest.api"):
        answer = client.get("/candles")
    content = error_body(answer, 500, "InternalError")
    error_id = content["error_id"]
    assert len(error_id) == 12 and error_id in content["detail"]
    assert "secret internals" not in answer.text  # the traceback stays in the log
    logged = [r for r in caplog.records if f"error_id={error_id}" in r.getMessage()]
    assert len(logged) == 1
    assert logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None and isinstance(logged[0].exc_info[1], RuntimeError)
    assert "secret internals" in logged[0].getMessage()
    # The app serves on.
    assert client.get("/health").status_code == 200


def test_every_500_gets_its_own_error_id(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(candles_route, "list_candles", broken)
    ids = {client.get("/candles").json()["error_id"] for _ in range(3)}
    assert len(ids) == 3


# --- 401 ----------------------------------------------------------------------------------------

GUARDED: list[Call] = [
    ("GET", "/backtesting/tasks", None),
    ("POST", "/backtesting/run", body()),
    ("POST", "/run-backtesting", body()),
    ("GET", "/results", None),
    ("GET", "/controllers/", None),
    ("POST", "/controllers/configs/x", DEFAULT_CONFIG),
    ("GET", "/candles", None),
    ("POST", "/performance/summarize", {"executors": []}),
    ("GET", "/metrics", None),
]


@pytest.mark.parametrize("request_", GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED])
@pytest.mark.parametrize(
    "auth",
    [None, (CREDENTIALS[0], "wrong"), ("someone", CREDENTIALS[1]), ("", "")],
    ids=["none", "wrong_password", "wrong_user", "empty"],
)
def test_missing_or_wrong_credentials_are_401(
    auth_client: TestClient, request_: Call, auth: tuple[str, str] | None
) -> None:
    answer = call(auth_client, *request_, auth=auth)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Basic"
    assert strict_json(answer.content) == {"detail": "Incorrect username or password"}


@pytest.mark.parametrize(
    "header", ["Basic !!!not-base64", "Basic " + "bm8tY29sb24=", "Bearer abc", "Basic"]
)
def test_a_malformed_authorization_header_is_401_with_auth_on_and_ignored_with_it_off(
    auth_client: TestClient, client: TestClient, header: str
) -> None:
    refused = auth_client.get("/results", headers={"Authorization": header})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Basic"
    assert strict_json(refused.content) == {"detail": "Incorrect username or password"}
    assert client.get("/results", headers={"Authorization": header}).status_code == 200


def test_right_credentials_pass_and_health_is_open(auth_client: TestClient) -> None:
    assert auth_client.get("/health").status_code == 200
    assert auth_client.get("/results", auth=CREDENTIALS).status_code == 200
    ran = auth_client.post("/backtesting/run", json=body(end=T0 + 3600), auth=CREDENTIALS)
    assert ran.status_code == 200, ran.text
    # Auth is checked before the body: a bad body without credentials is still 401.
    assert auth_client.post("/backtesting/run", json={"nonsense": 1}).status_code == 401


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_check_bind_lets_loopback_serve_without_credentials(host: str) -> None:
    assert check_bind(host, Settings()) == []


@pytest.mark.parametrize(
    ("credentials", "words"),
    [
        ((None, None), "without credentials"),
        (("admin", "admin"), "admin/admin"),
    ],
    ids=["none", "admin_admin"],
)
def test_check_bind_refuses_a_public_address_without_real_credentials(
    credentials: tuple[str | None, str | None], words: str
) -> None:
    settings = Settings(api_username=credentials[0], api_password=credentials[1])
    with pytest.raises(ConfigError, match=words) as refused:
        check_bind("0.0.0.0", settings)
    assert "--insecure" in str(refused.value)
    allowed = check_bind("0.0.0.0", settings, insecure=True)
    assert len(allowed) == 1 and "allowed by --insecure" in allowed[0]
    assert check_bind("0.0.0.0", Settings(api_username="ops", api_password="long secret")) == []


@pytest.mark.parametrize(
    ("user", "password", "missing"),
    [("ops", None, "HBBACKTEST_API_PASSWORD"), (None, "secret", "HBBACKTEST_API_USERNAME")],
)
def test_check_bind_wants_both_username_and_password(
    user: str | None, password: str | None, missing: str
) -> None:
    with pytest.raises(ConfigError, match=missing):
        check_bind("127.0.0.1", Settings(api_username=user, api_password=password))


# --- a queue of one: 429, 409, cancel -----------------------------------------------------------


@pytest.fixture(scope="module")
def busy(tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path) -> Iterator[TestClient]:
    """An app with one worker and room for one waiting backtest."""
    settings = make_settings(tmp_path_factory.mktemp("busy"), controllers_dir, max_queue=1)
    with running_app(settings) as started:
        yield started


@pytest.fixture(autouse=True)
def _unfinished_tasks_cancelled(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test on the queue of one, nothing of it waits or runs (even when it failed)."""
    yield
    if "busy" in request.fixturenames:
        app: TestClient = request.getfixturevalue("busy")
        for task in app.get("/backtesting/tasks").json():
            if task["status"] in ("pending", "running"):
                app.delete(f"/backtesting/tasks/{task['task_id']}")


def test_a_full_queue_is_429_with_retry_after(busy: TestClient, gate: Path) -> None:
    running = busy.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    wait_task(busy, running, ("running",))
    waiting = busy.post("/backtesting/tasks", json=body()).json()["task_id"]
    assert busy.get("/health").json()["queue_depth"] == 1

    refused = [
        busy.post("/backtesting/tasks", json=body()),
        busy.post("/backtesting/run", json=body()),
        busy.post("/run-backtesting", json=body()),
    ]
    for answer in refused:
        content = error_body(answer, 429, "BusyError")
        assert answer.headers["retry-after"] == "1"
        assert "HBBACKTEST_MAX_QUEUE = 1" in content["detail"]
    listed = {t["task_id"] for t in busy.get("/backtesting/tasks").json()}
    assert listed == {running, waiting}  # nothing refused was recorded

    # Cancelling the waiting one makes room again.
    assert busy.delete(f"/backtesting/tasks/{waiting}").status_code == 200
    assert busy.get("/health").json()["queue_depth"] == 0
    again = busy.post("/backtesting/tasks", json=body())
    assert again.status_code == 200, again.text
    gate.unlink()
    assert wait_task(busy, running)["status"] == "completed"
    assert wait_task(busy, again.json()["task_id"])["status"] == "completed"
    assert busy.post("/backtesting/run", json=body(end=T0 + 600)).status_code == 200


def test_resubmitting_an_unfinished_task_is_409(client: TestClient, gate: Path) -> None:
    running = client.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    wait_task(client, running, ("running",))
    pending = client.post("/backtesting/tasks", json=body()).json()["task_id"]
    for task_id, status in ((running, "running"), (pending, "pending")):
        answer = client.post(f"/backtesting/tasks/{task_id}/resubmit")
        content = error_body(answer, 409, "TaskStateError")
        assert f"task {task_id} is {status}" in content["detail"]
    gate.unlink()
    for task_id in (running, pending):
        assert wait_task(client, task_id)["status"] == "completed"
        client.delete(f"/backtesting/tasks/{task_id}")


def test_a_resubmit_that_cannot_succeed_is_not_429(busy: TestClient, gate: Path) -> None:
    """With a full queue, a running, pending or unknown task is still 409 or 404: a 429 would
    tell the client to retry something that can never succeed."""
    running = busy.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    wait_task(busy, running, ("running",))
    pending = busy.post("/backtesting/tasks", json=body()).json()["task_id"]
    assert busy.get("/health").json()["queue_depth"] == 1  # full
    assert busy.post(f"/backtesting/tasks/{pending}/resubmit").status_code == 409
    assert busy.post(f"/backtesting/tasks/{running}/resubmit").status_code == 409
    assert busy.post("/backtesting/tasks/no-such-task/resubmit").status_code == 404


def test_cancelling_a_running_task_stops_it_within_a_second(busy: TestClient, gate: Path) -> None:
    task_id = busy.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    wait_task(busy, task_id, ("running",))
    wait_health(busy, running=1)
    started = time.monotonic()
    answer = busy.delete(f"/backtesting/tasks/{task_id}")
    took = time.monotonic() - started
    assert answer.json() == {"status": "deleted", "task_id": task_id}
    assert took < 1.5, f"cancel took {took:.2f} s"
    assert busy.get(f"/backtesting/tasks/{task_id}").status_code == 404
    assert task_id not in [t["task_id"] for t in busy.get("/backtesting/tasks").json()]
    health = busy.get("/health").json()
    assert (health["running"], health["queue_depth"]) == (0, 0)
    # Its worker was killed; the next backtest gets a fresh one (the gate still stands, so
    # nothing of the cancelled run can have finished meanwhile).
    assert busy.post("/backtesting/run", json=body(end=T0 + 600)).status_code == 200
    assert gate.exists()


# --- 504 ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def limited(
    tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path
) -> Iterator[TestClient]:
    """An app whose backtests may run one second."""
    settings = make_settings(
        tmp_path_factory.mktemp("limited"), controllers_dir, task_timeout_s=1.0
    )
    with running_app(settings) as started:
        yield started


def test_a_backtest_past_the_time_limit_is_504(limited: TestClient, gate: Path) -> None:
    started = time.monotonic()
    answer = limited.post("/backtesting/run", json=body(gated(gate)))
    took = time.monotonic() - started
    content = error_body(answer, 504, "RunTimeoutError")
    assert "longer than 1 s" in content["detail"] and "HBBACKTEST_TASK_TIMEOUT" in content["detail"]
    assert 1.0 <= took < 3.0
    # The worker was killed and replaced: short runs go on.
    assert limited.post("/backtesting/run", json=body(end=T0 + 600)).status_code == 200


def test_a_task_past_the_time_limit_fails(limited: TestClient, gate: Path) -> None:
    task_id = limited.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    task = wait_task(limited, task_id)
    assert task["status"] == "failed"
    assert task["error_kind"] == "RunTimeoutError"
    assert "longer than 1 s" in task["error"]
    assert task["run_id"] is None


# --- strict JSON, even for degenerate runs ------------------------------------------------------

ONE_LEVEL = {"buy_amounts_pct": "1", "sell_amounts_pct": "1"}
DEGENERATE: dict[str, dict[str, Any]] = {
    # Two bars, spreads no price reaches: no fill, no PnL, zero variance.
    "no_fills_two_bars": body(
        {**DEFAULT_CONFIG, **ONE_LEVEL, "buy_spreads": "0.5", "sell_spreads": "0.5"},
        end=T0 + 60,
    ),
    # Indicators still warming up over the whole window: NaN features, no executor.
    "warm_up_only": body(
        {
            "controller_name": "bollinger_v1",
            "connector_name": "demo",
            "trading_pair": "BTC-USDT",
            "bb_length": 500,
        },
        end=T0 + 3600,
    ),
    "grid_defaults": body(
        {"controller_name": "grid_strike", "connector_name": "demo", "trading_pair": "BTC-USDT"},
        end=T0 + 3600,
    ),
    "one_loss": body(
        {
            **DEFAULT_CONFIG,
            **ONE_LEVEL,
            "buy_spreads": "0.0001",
            "sell_spreads": "0.5",
            "stop_loss": 0.0001,
        },
        end=T0 + 600,
    ),
    "hold_open": body({**DEFAULT_CONFIG, "skip_rebalance": False}, end=T0 + 600),
}


@pytest.mark.parametrize("posted", DEGENERATE.values(), ids=DEGENERATE.keys())
def test_no_nan_or_infinity_anywhere(client: TestClient, posted: dict[str, Any]) -> None:
    answer = client.post("/backtesting/run", json=posted)
    assert answer.status_code == 200, answer.text
    upstream = strict_json(answer.content)
    run_id = answer.headers["x-run-id"]
    native = strict_json(stored(client, run_id))
    assert strict_json(stored(client, run_id, "hummingbot")) == upstream
    listed = strict_json(client.get("/results", params={"limit": 1000}).content)
    item = next(i for i in listed["items"] if i["id"] == run_id)
    assert item["results"] == native["results"]

    task_id = client.post("/backtesting/tasks", json=posted).json()["task_id"]
    task = wait_task(client, task_id)
    assert task["status"] == "completed"
    assert strict_json(client.get(f"/backtesting/tasks/{task_id}").content)["result"] == upstream
    strict_json(client.get("/backtesting/tasks").content)
    client.delete(f"/backtesting/tasks/{task_id}")

    summary = client.post(
        "/performance/summarize",
        json={
            "executors": native["executors"],
            "start": native["request"]["start"],
            "end": native["request"]["end"],
        },
    )
    assert summary.status_code == 200, summary.text
    strict_json(summary.content)
