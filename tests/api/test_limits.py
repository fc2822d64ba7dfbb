"""What the API refuses to do for a client: huge bodies, huge answers, calls to any address."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from hbbacktest.api.observe import MAX_BODY_BYTES
from hbbacktest.api.responses import _accepts_gzip
from tests.api.conftest import body, strict_json


def test_a_body_over_the_limit_is_413_before_it_is_read(client: TestClient) -> None:
    answer = client.post(
        "/performance/summarize",
        content=b" " * (MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert strict_json(answer.content)["error"] == "RequestTooLarge"


def test_a_huge_invalid_body_gets_a_short_answer(client: TestClient) -> None:
    executors = [{"side": "SIDEWAYS", "net_pnl_quote": "x"} for _ in range(5_000)]
    answer = client.post("/performance/summarize", json={"executors": executors})
    assert answer.status_code == 422
    detail = strict_json(answer.content)["detail"]
    assert len(detail) == 21 and detail[-1]["type"] == "truncated"
    assert "more problems" in detail[-1]["msg"]
    assert len(answer.content) < 20_000


def test_a_sweep_with_a_webhook_is_refused_through_the_api(client: TestClient) -> None:
    spec: dict[str, Any] = {
        "name": "hooked",
        "base": {"controller_name": "pmm_simple", "connector_name": "demo"},
        "grid": {"take_profit": [0.01, 0.02]},
        "start": "2024-01-08",
        "end": "2024-01-09",
        "webhook": "http://169.254.169.254/latest/meta-data",
    }
    answer = client.post("/sweeps", json={"spec": spec})
    assert answer.status_code == 422, answer.text
    assert "webhook" in strict_json(answer.content)["detail"]
    assert client.get("/sweeps/hooked").status_code == 404  # nothing started, nothing stored


def test_a_task_body_with_a_huge_unknown_integer_is_stored(client: TestClient) -> None:
    posted = body()
    posted["config"] = {**posted["config"], "note_id": 10**30}
    answer = client.post("/backtesting/tasks", json=posted)
    assert answer.status_code == 200, answer.text
    task = strict_json(client.get(f"/backtesting/tasks/{answer.json()['task_id']}").content)
    assert task["config"]["config"]["note_id"] == str(10**30)


def test_gzip_is_sent_only_when_accepted() -> None:
    assert _accepts_gzip("gzip, deflate, br")
    assert _accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert _accepts_gzip("*")
    assert not _accepts_gzip("gzip;q=0")
    assert not _accepts_gzip("identity")
    assert not _accepts_gzip("")


def test_a_cross_site_browser_post_is_refused_and_pages_cannot_be_framed(
    client: TestClient,
) -> None:
    forged = client.post(
        "/backtesting/tasks",
        json=body(),
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert forged.status_code == 403
    assert strict_json(forged.content)["error"] == "CrossSiteRequest"
    # The UI's own pages (same-origin) and API clients (no header) are unaffected.
    same = client.post("/backtesting/tasks", json=body(), headers={"Sec-Fetch-Site": "same-origin"})
    assert same.status_code == 200
    page = client.get("/health", headers={"Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 200  # reading is not changing state
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
