"""The sweep endpoints on a real app: post a spec, poll it, stop it, read its results and best.

One app for the module (its lifespan starts a backtest worker). Sweeps run real backtests on
the synthetic ``demo`` connector (1-day windows, ~30 ms each) into the app's own database; the
reference for what the API answers is the store itself and a single ``run_backtest``.
"""

from __future__ import annotations

import json
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from httpx import Response

from hbbacktest.api import create_app
from hbbacktest.config.settings import Settings
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import DataError
from hbbacktest.metrics.encode import results_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.sweeps import SweepJobs
from hbbacktest.store import ResultRow, Store, parse_condition
from hbbacktest.sweep import SweepSpec, expand
from hbbacktest.sweep.results import run_command
from hbbacktest.sweep.spec import items_to_json

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 with a UserWarning (pyproject's filter expects a
    # DeprecationWarning): httpx is what FastAPI documents.
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

BASE: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
}
WAIT_S = 60.0


def small(name: str, **changes: Any) -> dict[str, Any]:
    """examples/sweeps/pmm_grid.yml on one day: 3 x 2 = 6 backtests."""
    return {
        "name": name,
        "base": BASE,
        "grid": {"buy_spreads": ["0.001", "0.002", "0.004"], "take_profit": [0.002, 0.004]},
        "start": "2024-01-08",
        "end": "2024-01-09",
        **changes,
    }


def held(name: str, gate: Path) -> dict[str, Any]:
    """6 backtests of ``pmm_gated`` (tests/api/conftest.py): the first waits while ``gate`` exists."""
    base = {**BASE, "controller_name": "pmm_gated", "gate": str(gate)}
    return small(name, base=base)


def strict(response: Response) -> Any:
    """The body, refusing NaN and Infinity (strict JSON)."""

    def reject(constant: str) -> None:
        raise AssertionError(f"not strict JSON: {constant}")

    return json.loads(response.text, parse_constant=reject)


def wait_until_ended(api: TestClient, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while True:
        body: dict[str, Any] = strict(api.get(f"/sweeps/{name}"))
        if body["status"] != "running":
            return body
        assert time.monotonic() < deadline, f"sweep {name} still running: {body}"
        time.sleep(0.05)


def row_dict(row: ResultRow) -> dict[str, Any]:
    return {
        "index": row.index,
        "key": row.key,
        "params": row.params,
        "metrics": row.metrics,
        "status": row.status,
        "error": row.error,
        "seconds": row.seconds,
        "finished_at": row.finished_at,
        "warnings": row.warnings,
    }


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, controllers_dir: Path) -> Settings:
    """Offline, with the user controller ``pmm_gated`` (from ``controllers_dir``)."""
    folder = tmp_path_factory.mktemp("api")
    return Settings(data_dir=folder, offline=True, controllers_dirs=(controllers_dir,))


@pytest.fixture(scope="module")
def app(settings: Settings) -> FastAPI:
    return create_app(settings, workers=1)


@pytest.fixture(scope="module")
def api(app: FastAPI) -> Iterator[TestClient]:
    """This module's own app, started (not the shared ``client``: it wires the sweeps in)."""
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def store(app: FastAPI, api: TestClient) -> Store:
    found: Store = app.state.hb.store
    return found


# -- run, results, best --------------------------------------------------------------------------


def test_a_posted_sweep_runs_and_its_results_are_the_stores_and_single_runs(
    api: TestClient, store: Store, settings: Settings
) -> None:
    posted = api.post("/sweeps", json={"spec": small("api_grid")})
    assert posted.status_code == 202, posted.text
    started = strict(posted)
    assert started["name"] == "api_grid"
    assert started["status"] == "running"
    assert (started["items"], started["workers"], started["duplicates"]) == (6, 1, 0)

    final = wait_until_ended(api, "api_grid")
    assert final["status"] == "completed", final
    assert (final["items"], final["done"], final["failed"], final["pending"]) == (6, 6, 0, 0)
    assert final["run"]["status"] == "completed"
    assert (final["run"]["done"], final["run"]["total"], final["run"]["progress"]) == (6, 6, 1.0)
    assert final["spec"]["name"] == "api_grid"
    assert final["spec"]["grid"]["take_profit"] == [0.002, 0.004]
    listed = {entry["name"]: entry for entry in strict(api.get("/sweeps"))}
    assert listed["api_grid"]["status"] == "completed"
    assert listed["api_grid"]["done"] == 6
    assert "spec" not in listed["api_grid"]

    # Sorted and filtered: exactly what the store gives.
    query = {"sort": "net_pnl_quote", "ascending": "true", "top": "2", "where": "take_profit>0.002"}
    answered = api.get("/sweeps/api_grid/results", params=query)
    assert answered.status_code == 200, answered.text
    expected = store.results(
        "api_grid",
        where=[parse_condition("take_profit>0.002")],
        sort="net_pnl_quote",
        descending=False,
        top=2,
    )
    assert strict(answered) == [row_dict(row) for row in expected]
    assert len(expected) == 2
    every = strict(api.get("/sweeps/api_grid/results"))
    assert [row["index"] for row in every] == list(range(6))
    both = strict(
        api.get(
            "/sweeps/api_grid/results",
            params=[("where", "take_profit>0.002"), ("where", "buy_spreads=0.001")],
        )
    )
    assert [(r["params"]["buy_spreads"], r["params"]["take_profit"]) for r in both] == [
        ("0.001", 0.004)
    ]

    # One item's metrics equal a single run of its request.
    registry = ControllerRegistry()
    items = expand(SweepSpec.model_validate(small("api_grid")), registry=registry)
    item = items[3]
    single = results_json(run_backtest(item.request, settings=settings, registry=registry).results)
    stored = next(row for row in every if row["key"] == item.key)
    assert stored["params"] == item.params
    assert stored["metrics"] == orjson.loads(orjson.dumps(single))

    # The best: the top row by the metric, its request and the command that reproduces it.
    best = api.get("/sweeps/api_grid/best", params={"metric": "net_pnl_quote"})
    assert best.status_code == 200, best.text
    answer = strict(best)
    top = store.results("api_grid", sort="net_pnl_quote", top=1)[0]
    assert answer["key"] == top.key
    assert answer["value"] == top.metrics["net_pnl_quote"]
    assert answer["request"] == store.request("api_grid", top.key)
    assert answer["config"] == answer["request"]["config"]
    assert answer["command"] == run_command(answer["request"], "api_grid_best.yml")
    assert answer["command"].startswith("hbbacktest run api_grid_best.yml --start 2024-01-08")
    worst = strict(api.get("/sweeps/api_grid/best?metric=net_pnl_quote&ascending=true"))
    assert worst["key"] == store.results("api_grid", sort="net_pnl_quote", descending=False)[0].key

    # Posting the same spec again resumes: nothing left to run.
    again = api.post("/sweeps", json={"spec": small("api_grid")})
    assert again.status_code == 202, again.text
    resumed = wait_until_ended(api, "api_grid")["run"]
    assert (resumed["status"], resumed["done"], resumed["skipped"]) == ("completed", 0, 6)


def test_bad_conditions_and_unknown_metrics_are_422_with_did_you_mean(
    api: TestClient, store: Store
) -> None:
    api.post("/sweeps", json={"spec": small("api_query")})
    assert wait_until_ended(api, "api_query")["status"] == "completed"
    bad = api.get("/sweeps/api_query/results", params={"where": "take_profit>>"})
    assert bad.status_code == 422
    assert "cannot read the condition" in strict(bad)["detail"]
    unknown = api.get("/sweeps/api_query/results", params={"sort": "net_pnl_quot"})
    assert unknown.status_code == 422
    assert "did you mean 'net_pnl_quote'" in strict(unknown)["detail"]
    metric = api.get("/sweeps/api_query/best", params={"metric": "sharpe_ration"})
    assert metric.status_code == 422
    assert "did you mean 'sharpe_ratio'" in strict(metric)["detail"]
    assert api.get("/sweeps/api_query/results", params={"top": 0}).status_code == 422


# -- invalid specs: 422 before anything runs -----------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            small("api_bad") | {"gird": {"take_profit": [0.01]}},
            ["unknown key 'gird'", "did you mean 'grid'"],
            id="unknown-key",
        ),
        pytest.param(
            small(
                "api_bad",
                grid={
                    "buy_spreads": ["0.001", "0.001,0.002", "0.001,0.002,0.003"],
                    "buy_amounts_pct": ["1", "1,1"],
                },
            ),
            ["4 of 6 combinations of pmm_simple are invalid", "buy_spreads='0.001,0.002,0.003'"],
            id="invalid-combinations",
        ),
        pytest.param(
            small("api_bad", grid={"take_profitt": [0.01]}),
            ["grid.take_profitt is not a field", "did you mean 'take_profit'"],
            id="unknown-field",
        ),
        pytest.param(
            small("api_bad", start="2024-01-09", end="2024-01-08"),
            ["must be before end"],
            id="window",
        ),
        pytest.param(
            {k: v for k, v in small("api_bad").items() if k != "name"},
            ["name"],
            id="no-name",
        ),
    ],
)
def test_an_invalid_spec_is_422_listing_its_problems_and_nothing_runs(
    api: TestClient, spec: dict[str, Any], expected: list[str]
) -> None:
    answer = api.post("/sweeps", json={"spec": spec})
    assert answer.status_code == 422, answer.text
    detail = strict(answer)["detail"]
    for part in expected:
        assert part in detail
    assert api.get("/sweeps/api_bad").status_code == 404


def test_body_checks_workers_base_names_and_the_name_override(api: TestClient) -> None:
    too_many = api.post("/sweeps", json={"spec": small("api_w"), "workers": 100_000})
    assert too_many.status_code == 422
    assert "worker processes" in strict(too_many)["detail"]
    assert api.post("/sweeps", json={"spec": small("api_w"), "workers": 0}).status_code == 422
    extra = api.post("/sweeps", json={"spec": small("api_w"), "wrokers": 2})
    assert extra.status_code == 422
    # base as a string names a saved config, never a file on the server.
    outside = api.post("/sweeps", json={"spec": small("api_w", base="../../etc/passwd")})
    assert outside.status_code == 400, outside.text
    missing = api.post("/sweeps", json={"spec": small("api_w", base="no_such_config")})
    assert missing.status_code == 404, missing.text
    bad_name = api.post("/sweeps", json={"spec": small("api_w"), "name": "no spaces"})
    assert bad_name.status_code == 422
    assert api.get("/sweeps/api_w").status_code == 404

    renamed = api.post("/sweeps", json={"spec": small("api_w"), "name": "api_renamed"})
    assert renamed.status_code == 202, renamed.text
    assert strict(renamed)["name"] == "api_renamed"
    final = wait_until_ended(api, "api_renamed")
    assert final["spec"]["name"] == "api_renamed"


# -- running: 409 for a second run, stop, resume -------------------------------------------------


def test_a_running_sweep_refuses_a_second_run_stops_and_resumes(
    api: TestClient, store: Store, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    spec = held("api_held", gate)
    try:
        assert api.post("/sweeps", json={"spec": spec}).status_code == 202
        twice = api.post("/sweeps", json={"spec": spec})
        assert twice.status_code == 409, twice.text
        assert "running already" in strict(twice)["detail"]
        assert strict(api.get("/sweeps/api_held"))["status"] == "running"
        listed = {entry["name"]: entry for entry in strict(api.get("/sweeps"))}
        assert listed["api_held"]["status"] == "running"

        asked = api.post("/sweeps/api_held/stop", params={"wait": 0})
        assert asked.status_code == 200, asked.text
        assert (strict(asked)["status"], strict(asked)["stop_requested"]) == ("running", True)
    finally:
        gate.unlink()  # the first item finishes; the sweep stops after it
    stopped = wait_until_ended(api, "api_held")
    assert stopped["status"] == "stopped"
    assert (stopped["done"], stopped["pending"]) == (1, 5)
    assert (stopped["run"]["done"], stopped["run"]["total"]) == (1, 6)
    assert api.post("/sweeps/api_held/stop").status_code == 404

    resumed = api.post("/sweeps", json={"spec": spec})
    assert resumed.status_code == 202
    final = wait_until_ended(api, "api_held")
    assert (final["status"], final["done"], final["pending"]) == ("completed", 6, 0)
    assert (final["run"]["skipped"], final["run"]["done"]) == (1, 5)
    assert len(store.results("api_held")) == 6


def test_stop_waits_for_the_sweep_to_stop(api: TestClient, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    assert api.post("/sweeps", json={"spec": held("api_wait", gate)}).status_code == 202
    threading.Timer(0.3, gate.unlink).start()
    stopped = strict(api.post("/sweeps/api_wait/stop", params={"wait": 30}))
    assert (stopped["status"], stopped["done"]) == ("stopped", 1)
    assert api.post("/sweeps/api_wait/stop", params={"wait": 61}).status_code == 422


def test_a_name_stored_from_another_spec_is_409_unless_replaced(api: TestClient) -> None:
    api.post("/sweeps", json={"spec": small("api_swap")})
    assert wait_until_ended(api, "api_swap")["status"] == "completed"
    other = small("api_swap", grid={"take_profit": [0.003, 0.005]})
    refused = api.post("/sweeps", json={"spec": other})
    assert refused.status_code == 409, refused.text
    assert '"replace": true' in strict(refused)["detail"]
    replaced = api.post("/sweeps", json={"spec": other, "replace": True})
    assert replaced.status_code == 202, replaced.text
    final = wait_until_ended(api, "api_swap")
    assert (final["status"], final["items"], final["done"]) == ("completed", 2, 2)


# -- unknown names -------------------------------------------------------------------------------


def test_unknown_names_are_404_with_did_you_mean(api: TestClient) -> None:
    api.post("/sweeps", json={"spec": small("api_known")})
    wait_until_ended(api, "api_known")
    for path in ("/sweeps/api_knwon", "/sweeps/api_knwon/results", "/sweeps/api_knwon/best"):
        answer = api.get(path)
        assert answer.status_code == 404, (path, answer.text)
        assert "did you mean 'api_known'" in strict(answer)["detail"]
    assert api.post("/sweeps/api_knwon/stop").status_code == 404
    assert api.post("/sweeps/api_known/stop").status_code == 404  # stored, not running


def test_the_openapi_schema_documents_every_sweep_route(api: TestClient) -> None:
    paths = strict(api.get("/openapi.json"))["paths"]
    assert set(paths["/sweeps"]) == {"get", "post"}
    for path in ("/sweeps/{name}", "/sweeps/{name}/results", "/sweeps/{name}/best"):
        assert "404" in paths[path]["get"]["responses"]
    assert "409" in paths["/sweeps"]["post"]["responses"]
    assert "post" in paths["/sweeps/{name}/stop"]


# -- failures ------------------------------------------------------------------------------------


def test_failed_items_are_counted_and_listed_on_request(api: TestClient) -> None:
    # After the demo connector's coverage: every item fails (no candles); the sweep completes.
    spec = small("api_nodata", start="2024-06-01", end="2024-06-02")
    assert api.post("/sweeps", json={"spec": spec}).status_code == 202
    final = wait_until_ended(api, "api_nodata")
    assert (final["status"], final["done"], final["failed"]) == ("completed", 0, 6)
    assert final["run"]["failed"] == 6
    assert strict(api.get("/sweeps/api_nodata/results")) == []
    rows = strict(api.get("/sweeps/api_nodata/results", params={"failed": "true"}))
    assert len(rows) == 6
    assert all(row["status"] == "failed" and row["error"] for row in rows)
    nothing = api.get("/sweeps/api_nodata/best")
    assert nothing.status_code == 409
    assert "no finished item" in strict(nothing)["detail"]


def _unreadable_store(name: str, document: Any, **options: Any) -> Any:
    # Module level: a sweep runs in its own process, which imports this by name.
    raise DataError("the candle store is unreadable")


def _bug(name: str, document: Any, **options: Any) -> Any:
    raise RuntimeError("bug")


@pytest.mark.parametrize(
    ("run", "message", "kind"),
    [
        (_unreadable_store, "the candle store is unreadable", "DataError"),
        (_bug, "bug", "InternalError"),
    ],
)
def test_a_sweep_that_raises_is_failed_with_its_error(
    settings: Settings, store: Store, run: Any, message: str, kind: str
) -> None:
    jobs = SweepJobs(settings, store, run_sweep=run, items_to_json=items_to_json)
    items = expand(SweepSpec.model_validate(small("api_raises")), registry=ControllerRegistry())
    job = jobs.start("api_raises", items, spec={"name": "api_raises"})
    assert job.wait(10)
    shown = job.to_dict()
    assert shown["status"] == "failed"
    assert shown["error_kind"] == kind
    assert message in shown["error"]
    assert jobs.overview()[-1]["status"] == "failed"
