"""Stored results: listed without bodies (filters, pages), fetched in both encodings, deleted.

Each module run gets a fresh app on SQLite, then on PostgreSQL, holding three runs of its own.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hbbacktest.config.settings import Settings
from hbbacktest.metrics.upstream import upstream_result_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.defaults import DEFAULT_CONFIG
from hbbacktest.service.hbapi import request_from_body
from tests.api.conftest import DAY, T0, body, stored, strict_json

BOLLINGER = {
    "id": "bb_demo",
    "controller_name": "bollinger_v1",
    "controller_type": "directional_trading",
    "connector_name": "demo",
    "trading_pair": "ETH-USDT",
}
# pmm_simple BTC-USDT, pmm_simple ETH-USDT, bollinger_v1 ETH-USDT: stored in this order.
BODIES = [
    body(),
    body({**DEFAULT_CONFIG, "trading_pair": "ETH-USDT"}, end=T0 + DAY // 2),
    body(BOLLINGER, start=T0 + DAY, end=T0 + 2 * DAY),
]


@pytest.fixture(scope="module")
def runs(db_client: TestClient) -> list[dict[str, Any]]:
    """The three stored runs: run id, posted body, hummingbot-api answer."""
    runs = []
    for posted in BODIES:
        answer = db_client.post("/backtesting/run", json=posted)
        assert answer.status_code == 200, answer.text
        run_id = answer.headers["x-run-id"]
        stored(db_client, run_id)
        runs.append({"id": run_id, "body": posted, "upstream": answer.content})
    return runs


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


def listing(client: TestClient, **params: Any) -> dict[str, Any]:
    answer = client.get("/results", params=params)
    assert answer.status_code == 200, answer.text
    page: dict[str, Any] = strict_json(answer.content)
    return page


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


@pytest.mark.parametrize("index", range(len(BODIES)))
def test_the_native_body_is_the_native_result(
    db_client: TestClient, runs: list[dict[str, Any]], index: int
) -> None:
    settings = settings_of(db_client)
    registry = build_registry(settings)
    request = request_from_body(
        runs[index]["body"], registry=registry, configs_dir=settings.configs_path
    )
    result = run_backtest(request, settings=settings, registry=registry)
    native = db_client.get(f"/results/{runs[index]['id']}", params={"format": "native"})
    assert native.status_code == 200
    assert native.content == result.to_json().encode()
    assert db_client.get(f"/results/{runs[index]['id']}").content == native.content  # default
    hummingbot = db_client.get(f"/results/{runs[index]['id']}", params={"format": "hummingbot"})
    assert hummingbot.content == runs[index]["upstream"] == upstream_result_json(result)


def test_a_client_without_gzip_gets_the_same_bytes(
    db_client: TestClient, runs: list[dict[str, Any]]
) -> None:
    for format in ("native", "hummingbot"):
        path, params = f"/results/{runs[0]['id']}", {"format": format}
        zipped = db_client.get(path, params=params)
        assert zipped.headers["content-encoding"] == "gzip"  # stored compressed, sent as is
        assert zipped.headers["vary"] == "Accept-Encoding"
        plain = db_client.get(path, params=params, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert plain.content == zipped.content
        assert int(plain.headers["content-length"]) == len(plain.content)
        assert int(zipped.headers["content-length"]) < len(plain.content) // 3


def test_the_list_is_newest_first_with_metadata(
    db_client: TestClient, runs: list[dict[str, Any]]
) -> None:
    page = listing(db_client)
    assert (page["total"], page["limit"], page["offset"]) == (3, 50, 0)
    assert ids(page) == [run["id"] for run in reversed(runs)]
    created = [item["created_at"] for item in page["items"]]
    assert created == sorted(created, reverse=True)
    for item, run in zip(page["items"], reversed(runs), strict=True):
        native = strict_json(db_client.get(f"/results/{run['id']}").content)
        config = run["body"]["config"]
        assert item["controller_name"] == config["controller_name"]
        assert item["controller_type"] == config["controller_type"]
        assert (item["connector_name"], item["trading_pair"]) == ("demo", config["trading_pair"])
        assert (item["start"], item["end"]) == (run["body"]["start_time"], run["body"]["end_time"])
        assert (item["backtesting_resolution"], item["fill_model"]) == ("1m", "hummingbot")
        assert item["config_id"] == native["run_id"]
        assert item["results"] == native["results"]
        assert item["warnings"] == native["warnings"]
        assert item["task_id"] is None
        assert item["seconds"] > 0
        assert item["size_bytes"] == len(db_client.get(f"/results/{run['id']}").content)
        assert "executors" not in item


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"controller_name": "pmm_simple"}, [1, 0]),
        ({"controller_name": "bollinger_v1"}, [2]),
        ({"trading_pair": "ETH-USDT"}, [2, 1]),
        ({"controller_name": "pmm_simple", "trading_pair": "ETH-USDT"}, [1]),
        ({"connector_name": "demo"}, [2, 1, 0]),
        ({"connector_name": "binance"}, []),
        ({"controller_name": "no_such_controller"}, []),
    ],
)
def test_filters(
    db_client: TestClient,
    runs: list[dict[str, Any]],
    params: dict[str, str],
    expected: list[int],
) -> None:
    page = listing(db_client, **params)
    assert ids(page) == [runs[i]["id"] for i in expected]
    assert page["total"] == len(expected)


def test_date_filters(db_client: TestClient, runs: list[dict[str, Any]]) -> None:
    created = [item["created_at"] for item in listing(db_client)["items"]]
    first, last = math.floor(min(created)), math.ceil(max(created))
    assert listing(db_client, since=str(first))["total"] == 3
    assert listing(db_client, since=str(last + 1))["total"] == 0
    assert listing(db_client, until=str(first))["total"] == 0
    assert listing(db_client, until=str(last + 1))["total"] == 3
    today = dt.datetime.fromtimestamp(first, dt.UTC).date()
    assert listing(db_client, since=today.isoformat())["total"] == 3
    assert listing(db_client, until=today.isoformat())["total"] == 0
    assert listing(db_client, since="2000-01-01", until="2099-12-31T00:00:00Z")["total"] == 3
    bad = db_client.get("/results", params={"since": "last tuesday"})
    assert bad.status_code == 422
    assert "last tuesday" in bad.json()["detail"]


def test_date_filters_keep_fractions_of_a_second(
    db_client: TestClient, runs: list[dict[str, Any]]
) -> None:
    oldest = min(item["created_at"] for item in listing(db_client)["items"])
    # Just after the oldest run, inside the same second.
    since = oldest + min(0.001, (1 - (oldest % 1)) / 2)
    assert runs[0]["id"] not in ids(listing(db_client, since=repr(since)))


def test_pages(db_client: TestClient, runs: list[dict[str, Any]]) -> None:
    newest_first = [run["id"] for run in reversed(runs)]
    first = listing(db_client, limit=2)
    second = listing(db_client, limit=2, offset=2)
    assert ids(first) == newest_first[:2] and ids(second) == newest_first[2:]
    assert first["total"] == second["total"] == 3
    assert (second["limit"], second["offset"]) == (2, 2)
    assert listing(db_client, offset=3)["items"] == []
    for params in ({"limit": 0}, {"limit": 1001}, {"offset": -1}, {"limit": "many"}):
        answer = db_client.get("/results", params=params)
        assert answer.status_code == 422, params
        assert answer.json()["detail"][0]["loc"][0] == "query"


def test_an_unknown_format_or_id(db_client: TestClient, runs: list[dict[str, Any]]) -> None:
    answer = db_client.get(f"/results/{runs[0]['id']}", params={"format": "csv"})
    assert answer.status_code == 422
    missing = db_client.get("/results/0123456789abcdef")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": "result 0123456789abcdef not found",
        "error": "NotFoundError",
    }


def test_delete(db_client: TestClient, runs: list[dict[str, Any]]) -> None:
    extra = db_client.post("/backtesting/run", json=body(end=T0 + 3600))
    run_id = extra.headers["x-run-id"]
    stored(db_client, run_id)
    assert listing(db_client)["total"] == 4
    deleted = db_client.delete(f"/results/{run_id}")
    assert deleted.json() == {"status": "deleted", "id": run_id}
    assert db_client.get(f"/results/{run_id}").status_code == 404
    assert db_client.get(f"/results/{run_id}", params={"format": "hummingbot"}).status_code == 404
    assert db_client.delete(f"/results/{run_id}").status_code == 404
    assert ids(listing(db_client)) == [run["id"] for run in reversed(runs)]
