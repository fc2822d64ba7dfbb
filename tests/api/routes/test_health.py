"""``GET /health`` (open, for load balancers) and ``GET /metrics`` (Prometheus, behind auth)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hbbacktest import __version__
from hbbacktest.config.settings import Settings
from tests.api.conftest import CREDENTIALS, T0, body, gated, wait_health, wait_task


def samples(
    client: TestClient, auth: tuple[str, str] | None = None
) -> dict[tuple[str, frozenset], float]:
    """Every sample of ``/metrics``: (name, labels) → value."""
    answer = client.get("/metrics", auth=auth)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def test_health_reports_the_pool(client: TestClient, client_settings: Settings) -> None:
    assert wait_health(client, running=0, queue_depth=0) == {
        "status": "ok",
        "version": __version__,
        "workers": 1,
        "running": 0,
        "queue_depth": 0,
        "max_queue": client_settings.max_queue,
    }


def test_health_counts_a_running_backtest(client: TestClient, gate: Path) -> None:
    task_id = client.post("/backtesting/tasks", json=body(gated(gate))).json()["task_id"]
    wait_task(client, task_id, ("running",))
    wait_health(client, running=1, queue_depth=0)
    gate.unlink()
    assert wait_task(client, task_id)["status"] == "completed"
    wait_health(client, running=0)


def test_metrics_count_backtests_and_requests(client: TestClient) -> None:
    before = samples(client)
    answer = client.post("/backtesting/run", json=body(end=T0 + 3600))
    assert answer.status_code == 200, answer.text
    failed = client.post("/backtesting/run", json=body(gated(fail=True)))
    assert failed.status_code == 422
    wait_health(client, running=0)
    after = samples(client)

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("hbbacktest_backtests_started_total") == 2
    assert grew("hbbacktest_backtests_finished_total", status="completed") == 1
    assert grew("hbbacktest_backtests_finished_total", status="failed") == 1
    assert grew("hbbacktest_backtest_duration_seconds_count") == 2
    # The demo connector is never fetched: both runs are cache hits.
    assert grew("hbbacktest_candle_cache_total", result="hit") == 2
    assert grew("hbbacktest_candle_pages_fetched_total") == 0
    route = {"method": "POST", "route": "/backtesting/run"}
    assert grew("hbbacktest_http_request_duration_seconds_count", status="200", **route) == 1
    assert grew("hbbacktest_http_request_duration_seconds_count", status="422", **route) == 1
    assert value(after, "hbbacktest_backtests_running") == 0
    assert value(after, "hbbacktest_queue_depth") == 0


def test_metrics_label_routes_by_template_not_path(client: TestClient) -> None:
    for _ in range(2):
        assert client.get("/backtesting/tasks/no-such-task").status_code == 404
    assert client.get("/no/such/path").status_code == 404
    found = samples(client)
    labels = {dict(key[1]).get("route") for key in found}
    assert "/backtesting/tasks/{task_id}" in labels
    assert "unmatched" in labels
    assert not any(label and "no-such-task" in label for label in labels)


def test_request_ids_are_echoed_or_made(client: TestClient) -> None:
    given = client.get("/health", headers={"X-Request-ID": "client-id.42"})
    assert given.headers["x-request-id"] == "client-id.42"
    made = client.get("/health", headers={"X-Request-ID": "not ok; DROP TABLE"})
    assert re.fullmatch(r"[0-9a-f]{16}", made.headers["x-request-id"])
    other = client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{16}", other.headers["x-request-id"])
    assert other.headers["x-request-id"] != made.headers["x-request-id"]


def test_health_is_open_and_metrics_closed_when_auth_is_on(auth_client: TestClient) -> None:
    assert auth_client.get("/health").status_code == 200
    assert auth_client.get("/health").json()["status"] == "ok"
    refused = auth_client.get("/metrics")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Basic"
    assert refused.json() == {"detail": "Incorrect username or password"}
    found = samples(auth_client, auth=CREDENTIALS)
    assert ("hbbacktest_queue_depth", frozenset()) in found
