"""The sweep webhook: told how a sweep ended, retried within bounds, never failing it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.service.controllers import build_registry
from hbbacktest.store import Store
from hbbacktest.sweep.runner import run_sweep
from hbbacktest.sweep.spec import SweepSpec, expand
from hbbacktest.sweep.webhook import ATTEMPTS, notify_webhook


class Receiver:
    """A webhook on loopback that answers the statuses it is given, then 200."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def test_a_finished_sweep_is_posted(receiver: Receiver, tmp_path: Path) -> None:
    spec = SweepSpec.model_validate(
        {
            "name": "hooked",
            "base": {
                "controller_name": "pmm_simple",
                "connector_name": "demo",
                "trading_pair": "BTC-USDT",
            },
            "grid": {"take_profit": [0.002, 0.004]},
            "start": "2024-01-08",
            "end": "2024-01-08T06:00:00",
            "webhook": receiver.url,
        }
    )
    settings = Settings(data_dir=tmp_path, offline=True)
    items = expand(spec, registry=build_registry(settings)).items
    store = Store(Store.default_url(tmp_path))
    notes: list[str] = []
    report = run_sweep(
        "hooked",
        items,
        spec=spec.model_dump(mode="json"),
        store=store,
        settings=settings,
        workers=1,
        notify=notes.append,
        webhook=receiver.url,
    )
    assert report.done == 2 and notes == []
    (body,) = receiver.bodies
    assert body["sweep"] == "hooked" and body["status"] == "finished"
    assert (body["items"], body["done"], body["failed"], body["error"]) == (2, 2, 0, None)
    assert "***" not in body["database"] and body["database"].startswith("sqlite")


def test_retries_then_succeeds() -> None:
    slept: list[float] = []
    with Receiver([503, 500]) as running:
        assert notify_webhook(running.url, {"a": 1}, sleep=slept.append) is None
        assert len(running.bodies) == 3
    assert slept == [1.0, 3.0]


def test_a_dead_webhook_is_a_note_not_a_failure() -> None:
    slept: list[float] = []
    with Receiver() as running:
        url = running.url
    problem = notify_webhook(url, {"a": 1}, sleep=slept.append, timeout_s=1)
    # the host is named, not the path (a webhook's path is often its secret)
    assert problem is not None and url.rsplit("/", 1)[0] + "/…" in problem
    assert "/hook" not in problem
    assert len(slept) == ATTEMPTS - 1


def test_a_garbage_answer_is_a_note_not_an_exception() -> None:
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer() -> None:
        for _ in range(ATTEMPTS):
            conn, _ = listener.accept()
            conn.recv(65536)
            conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    problem = notify_webhook(
        f"http://127.0.0.1:{port}/x", {"a": 1}, sleep=lambda _: None, timeout_s=5
    )
    thread.join(5)
    listener.close()
    assert problem is not None and "BadStatusLine" in problem


def test_a_refusing_webhook_is_not_retried() -> None:
    with Receiver([404]) as running:
        problem = notify_webhook(running.url, {"a": 1}, sleep=lambda _: None)
        assert problem is not None and "HTTP 404" in problem
        assert len(running.bodies) == 1


def test_should_stop_cancels_like_ctrl_c_and_the_webhook_says_interrupted(
    receiver: Receiver, tmp_path: Path
) -> None:
    spec = SweepSpec.model_validate(
        {
            "name": "cancelled",
            "base": {
                "controller_name": "pmm_simple",
                "connector_name": "demo",
                "trading_pair": "BTC-USDT",
            },
            "grid": {"take_profit": [0.002, 0.003, 0.004, 0.005]},
            "start": "2024-01-08",
            "end": "2024-01-08T06:00:00",
        }
    )
    settings = Settings(data_dir=tmp_path, offline=True)
    items = expand(spec, registry=build_registry(settings)).items
    store = Store(Store.default_url(tmp_path))
    report = run_sweep(
        "cancelled",
        items,
        spec={},
        store=store,
        settings=settings,
        workers=1,
        webhook=receiver.url,
        should_stop=lambda: True,  # the API's cancel, asked after each item
    )
    assert (report.done, report.interrupted) == (1, True)
    (summary,) = store.list_sweeps()
    assert (summary.done, summary.pending) == (1, 3)
    assert receiver.bodies[0]["status"] == "interrupted"
