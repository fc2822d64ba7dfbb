"""Candles: background downloads from an exchange (the local replay server), and the store's list.

The online app's binance and binance_perpetual are the replay server (``exchange``); each
test downloads pairs of its own, since what is fetched stays cached for the session.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from hbbacktest.config.settings import Settings
from hbbacktest.data.store import CandleStore
from hbbacktest.metrics.upstream import upstream_result_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.defaults import DEFAULT_CONFIG
from hbbacktest.service.hbapi import request_from_body
from tests.api.conftest import DAY, EXCHANGE_T0, body
from tests.kit.exchange_server import (
    ExchangeServer,
    delay,
    load_shared,
    server_error,
    shared_available,
)

REAL_FILE = "binance_BTC-USDT_1m_20240726_20240825.parquet"
REAL_T0 = 1_722_038_400  # 2024-07-27 00:00 UTC, inside REAL_FILE


@pytest.fixture(autouse=True)
def _fresh_log(exchange: ExchangeServer) -> None:
    exchange.reset()


def settings_of(client: TestClient) -> Settings:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    return settings


def download(client: TestClient, **fields: Any) -> dict[str, Any]:
    """Start a download; its job, as answered (202)."""
    answer = client.post("/candles/download", json={"connector": "binance", **fields})
    assert answer.status_code == 202, answer.text
    job: dict[str, Any] = answer.json()
    return job


def finished(client: TestClient, job_id: str, *, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = client.get(f"/candles/download/{job_id}").json()
        if job["status"] in ("completed", "failed"):
            return job
        assert time.monotonic() < deadline, f"download {job_id} is still {job['status']}"
        time.sleep(0.02)


def dataset(client: TestClient, connector: str, pair: str) -> dict[str, Any] | None:
    for entry in client.get("/candles").json():
        if (entry["connector"], entry["trading_pair"], entry["interval"]) == (
            connector,
            pair,
            "1m",
        ):
            return dict(entry)
    return None


def cache_counts(client: TestClient) -> dict[str, float]:
    """The candle cache counters of ``/metrics``: hits, misses, pages fetched."""
    counts = {"hit": 0.0, "miss": 0.0, "pages": 0.0}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "hbbacktest_candle_cache_total":
                counts[sample.labels["result"]] = sample.value
            elif sample.name == "hbbacktest_candle_pages_fetched_total":
                counts["pages"] = sample.value
    return counts


def test_a_download_completes_and_the_list_shows_it(
    online_client: TestClient, exchange: ExchangeServer
) -> None:
    assert dataset(online_client, "binance", "BTC-USDT") is None
    start, end = EXCHANGE_T0, EXCHANGE_T0 + DAY - 60
    job = download(
        online_client, trading_pair="btc-usdt", interval="1m", start="2024-01-01", end=end
    )
    assert job["status"] in ("pending", "running")
    assert (job["trading_pair"], job["start"], job["end"]) == ("BTC-USDT", start, end)
    done = finished(online_client, job["id"])
    assert done["status"] == "completed", done
    assert (done["rows"], done["progress"], done["error"]) == (1440, 1.0, None)
    pages = exchange.kline_requests("binance")
    assert [r.rows for r in pages] == [1000, 440]
    assert done["requests"] == len(exchange.requests)  # the pages and the market list
    expected = {
        "connector": "binance",
        "trading_pair": "BTC-USDT",
        "interval": "1m",
        "first_ts": start,
        "last_ts": end,
        "rows": 1440,
    }
    assert done["dataset"] == expected
    listed = dataset(online_client, "binance", "BTC-USDT")
    assert listed is not None
    assert {k: listed[k] for k in expected} == expected
    assert listed["coverage"] == [[start, end]]
    assert (listed["problem"], listed["fix"]) == (None, None)
    assert listed["size_bytes"] > 0
    # The stored candles are the exchange's.
    stored = CandleStore(settings_of(online_client).data_dir).load("binance", "BTC-USDT", "1m")
    assert stored.ts.tolist() == list(range(start, end + 1, 60))
    assert job["id"] in [j["id"] for j in online_client.get("/candles/download").json()]

    # Asked again: nothing left to fetch.
    exchange.reset()
    again = finished(
        online_client, download(online_client, trading_pair="BTC-USDT", start=start, end=end)["id"]
    )
    assert again["status"] == "completed" and exchange.kline_requests() == []


def test_the_same_running_download_is_joined(
    online_client: TestClient, exchange: ExchangeServer
) -> None:
    exchange.inject(delay(0.5), venue="binance", pair="ADA-USDT")
    window = {"trading_pair": "ADA-USDT", "start": EXCHANGE_T0, "end": EXCHANGE_T0 + 3600}
    first = download(online_client, **window)
    second = download(online_client, **window)
    assert second["id"] == first["id"]
    assert finished(online_client, first["id"])["status"] == "completed"
    third = download(online_client, **window)  # finished: a new job
    assert third["id"] != first["id"]
    finished(online_client, third["id"])


def test_a_refused_download_fails_with_the_exchanges_reason(
    online_client: TestClient, exchange: ExchangeServer
) -> None:
    exchange.inject(server_error(403), venue="binance", pair="XRP-USDT")
    job = download(online_client, trading_pair="XRP-USDT", start=EXCHANGE_T0, end=EXCHANGE_T0 + 600)
    done = finished(online_client, job["id"])
    assert done["status"] == "failed"
    assert done["error_kind"] == "ExchangeError"
    assert "HTTP 403" in done["error"] and "XRP-USDT" in done["error"]
    assert done["dataset"] is None


def test_a_backtest_online_fetches_then_reads_the_cache(
    online_client: TestClient, exchange: ExchangeServer
) -> None:
    config = {**DEFAULT_CONFIG, "connector_name": "binance", "trading_pair": "DOT-USDT"}
    posted = body(config, start=EXCHANGE_T0 + 3600, end=EXCHANGE_T0 + 6 * 3600)
    before = cache_counts(online_client)
    fetched = online_client.post("/backtesting/run", json=posted)
    assert fetched.status_code == 200, fetched.text
    pages = exchange.kline_requests("binance")
    assert pages
    exchange.reset()
    cached = online_client.post("/backtesting/run", json={**posted, "offline": True})
    assert cached.status_code == 200, cached.text
    assert exchange.kline_requests() == []
    deadline = time.monotonic() + 10  # counted when the run is stored, just after the answer
    while (after := cache_counts(online_client))["hit"] == before["hit"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert after["miss"] - before["miss"] == 1 and after["hit"] - before["hit"] == 1
    assert after["pages"] - before["pages"] == len(pages)
    assert cached.content == fetched.content
    # The same as a native run offline on what the API stored.
    settings = settings_of(online_client)
    registry = build_registry(settings)
    request = request_from_body(posted, registry=registry, configs_dir=settings.configs_path)
    native = run_backtest(request, settings=settings, registry=registry, offline=True)
    assert cached.content == upstream_result_json(native)
    listed = dataset(online_client, "binance", "DOT-USDT")
    assert listed is not None and listed["rows"] >= 5 * 60 + 1


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"connector": "nowhere"}, ["nowhere"]),
        ({"interval": "7q"}, ["7q"]),
        ({"start": "2024-01-02", "end": "2024-01-01"}, ["must not be after"]),
        ({"start": "yesterday-ish"}, ["yesterday-ish"]),
    ],
    ids=["connector", "interval", "window", "date"],
)
def test_bad_downloads_are_refused(
    online_client: TestClient, fields: dict[str, Any], words: list[str]
) -> None:
    posted = {
        "connector": "binance",
        "trading_pair": "SOL-USDT",
        "start": EXCHANGE_T0,
        "end": EXCHANGE_T0 + 600,
        **fields,
    }
    answer = online_client.post("/candles/download", json=posted)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "ConfigError"
    for word in words:
        assert word in answer.json()["detail"]


def test_unknown_fields_and_jobs(online_client: TestClient) -> None:
    posted = {"connector": "binance", "trading_pair": "SOL-USDT", "start": 1, "end": 2, "x": 1}
    answer = online_client.post("/candles/download", json=posted)
    assert answer.status_code == 422
    assert ["body", "x"] in [item["loc"] for item in answer.json()["detail"]]
    missing = online_client.get("/candles/download/0123456789abcdef")
    assert missing.status_code == 404
    assert missing.json()["error"] == "NotFoundError"


def test_an_offline_server_refuses_downloads(client: TestClient) -> None:
    posted = {"connector": "binance", "trading_pair": "BTC-USDT", "start": 1, "end": 2}
    answer = client.post("/candles/download", json=posted)
    assert answer.status_code == 422
    assert "offline" in answer.json()["detail"]
    assert client.get("/candles/download").json() == []


@pytest.mark.skipif(
    not shared_available(REAL_FILE), reason=f"real candles {REAL_FILE} not found (../shared)"
)
def test_real_candles_download_and_backtest(
    online_client: TestClient, exchange: ExchangeServer
) -> None:
    """A day of real Binance BTC-USDT served as binance_perpetual, downloaded, backtested."""
    ts, o, h, low, c, v = load_shared(REAL_FILE)
    exchange.add_market("binance_perpetual", "BTC-USDT", ts, o, h, low, c, v)
    end = REAL_T0 + DAY - 60
    job = download(
        online_client,
        connector="binance_perpetual",
        trading_pair="BTC-USDT",
        start=REAL_T0,
        end=end,
    )
    done = finished(online_client, job["id"])
    assert done["status"] == "completed", done
    assert done["rows"] == 1440
    stored = CandleStore(settings_of(online_client).data_dir).load(
        "binance_perpetual", "BTC-USDT", "1m"
    )
    inside = (ts >= REAL_T0) & (ts <= end)
    np.testing.assert_array_equal(stored.ts, ts[inside])
    np.testing.assert_array_equal(stored.close, c[inside])

    config = {**DEFAULT_CONFIG, "connector_name": "binance_perpetual"}
    posted = body(config, start=REAL_T0, end=end, offline=True)
    answer = online_client.post("/backtesting/run", json=posted)
    assert answer.status_code == 200, answer.text
    settings = settings_of(online_client)
    registry = build_registry(settings)
    request = request_from_body(posted, registry=registry, configs_dir=settings.configs_path)
    native = run_backtest(request, settings=settings, registry=registry, offline=True)
    assert native.results["total_executors"] > 0
    assert answer.content == upstream_result_json(native)
