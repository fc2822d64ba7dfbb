"""``POST /performance/summarize``: a backtest's executors in, that backtest's ``results`` out."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from hbbacktest.metrics.summary import empty_summary
from tests.api.conftest import DAY, T0, body, stored, strict_json

BOLLINGER = {
    "controller_name": "bollinger_v1",
    "controller_type": "directional_trading",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
}


@pytest.fixture(scope="module", params=["pmm_simple", "bollinger_v1"])
def run(request: pytest.FixtureRequest, client: TestClient) -> dict[str, Any]:
    """A run's hummingbot-api answer and its native result."""
    posted = body(None if request.param == "pmm_simple" else BOLLINGER, end=T0 + 2 * DAY)
    answer = client.post("/backtesting/run", json=posted)
    assert answer.status_code == 200, answer.text
    native = strict_json(stored(client, answer.headers["x-run-id"]))
    assert native["results"]["total_executors"] > 0
    return {"body": posted, "upstream": answer.json(), "native": native}


def summarize(client: TestClient, posted: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/performance/summarize", json=posted)
    assert answer.status_code == 200, answer.text
    summary: dict[str, Any] = strict_json(answer.content)
    assert summary.keys() == {"results"}
    return summary["results"]


def test_native_executors_with_the_window_give_the_runs_results(
    client: TestClient, run: dict[str, Any]
) -> None:
    native = run["native"]
    request = native["request"]
    summary = summarize(
        client,
        {
            "executors": native["executors"],
            "total_amount_quote": request["config"]["total_amount_quote"],
            "start": request["start"],
            "end": request["end"],
            "backtesting_resolution": request["backtesting_resolution"],
        },
    )
    assert summary == native["results"]


def test_hummingbot_executors_with_upstreams_names_give_the_runs_results(
    client: TestClient, run: dict[str, Any]
) -> None:
    upstream = run["upstream"]
    summary = summarize(
        client,
        {
            "executors": upstream["executors"],
            "total_amount_quote": run["native"]["request"]["config"]["total_amount_quote"],
            "start_time": run["body"]["start_time"],
            "end_time": run["body"]["end_time"],
        },
    )
    assert summary == upstream["results"] == run["native"]["results"]


def test_without_a_window_only_the_sharpe_ratio_is_approximate(
    client: TestClient, run: dict[str, Any]
) -> None:
    capital = run["native"]["request"]["config"]["total_amount_quote"]
    summary = summarize(
        client, {"executors": run["native"]["executors"], "total_amount_quote": capital}
    )
    expected = run["native"]["results"]
    assert {k: v for k, v in summary.items() if k != "sharpe_ratio"} == {
        k: v for k, v in expected.items() if k != "sharpe_ratio"
    }
    assert isinstance(summary["sharpe_ratio"], float)


def test_no_executors_is_the_empty_summary(client: TestClient) -> None:
    assert summarize(client, {"executors": []}) == empty_summary()
    assert summarize(client, {"executors": [], "start": T0, "end": T0 + 600}) == empty_summary()


@pytest.mark.parametrize(
    ("posted", "where"),
    [
        ({"executors": [{"side": "BUY"}]}, ["body", "executors", "0", "close_type"]),
        ({"executors": [], "total_amount_quote": 0}, ["body", "total_amount_quote"]),
        ({"executors": [], "total_amount_quote": "NaN"}, ["body", "total_amount_quote"]),
        ({"executors": [], "surprise": 1}, ["body", "surprise"]),
        ({}, ["body", "executors"]),
    ],
    ids=["missing_fields", "zero_capital", "nan_capital", "unknown_key", "no_executors_key"],
)
def test_invalid_bodies_name_the_field(
    client: TestClient, posted: dict[str, Any], where: list[str]
) -> None:
    answer = client.post("/performance/summarize", json=posted)
    assert answer.status_code == 422
    assert where in [item["loc"] for item in strict_json(answer.content)["detail"]]


def test_a_bad_executor_value_is_named_with_its_index(
    client: TestClient, run: dict[str, Any]
) -> None:
    executors = [dict(e) for e in run["native"]["executors"][:3]]
    executors[2]["close_type"] = "TAKE_PROFITS"
    answer = client.post("/performance/summarize", json={"executors": executors})
    assert answer.status_code == 422
    problems = strict_json(answer.content)["detail"]
    assert any(item["loc"][:3] == ["body", "executors", "2"] for item in problems), problems
