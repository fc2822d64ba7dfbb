"""run_sweep end to end on the demo connector: stored results, resume, failures, Ctrl-C, reuse.

Every sweep here runs real backtests (1-day windows of synthetic demo candles, ~30 ms each) into
a real results database: a SQLite file, and PostgreSQL too where the test takes ``db_url`` and
``HBBACKTEST_TEST_POSTGRES_URL`` is set (``eval "$(.ci/postgres.sh)"`` starts a server). The
reference for every stored metric is a single ``run_backtest`` of the same request.
"""

from __future__ import annotations

import itertools
import json
import multiprocessing
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from sqlalchemy import func, select

from hbbacktest.config.settings import Settings
from hbbacktest.controllers.builtin.market_making.pmm_dynamic import PMMDynamicController
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, ControllerError, DataMissingError
from hbbacktest.core.time import parse_time
from hbbacktest.data.sources.demo import DEMO_END, demo_candles
from hbbacktest.data.store import CandleStore
from hbbacktest.metrics.encode import results_json
from hbbacktest.service.backtest import run_backtest
from hbbacktest.service.controllers import build_registry
from hbbacktest.store import ResultRow, Store
from hbbacktest.store.tables import sweep_item
from hbbacktest.sweep import SweepItem, SweepSpec, expand
from hbbacktest.sweep import runner as runner_module
from hbbacktest.sweep.runner import SweepProgress, SweepReport, run_sweep
from tests.kit.postgres import fresh_schema, postgres_admin

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"
HOSTILE_MM = ROOT / "tests" / "fixtures" / "hostile_controllers" / "market_making"
BASE: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
}
DAY_1 = {"start": "2024-01-08", "end": "2024-01-09"}
# Wholly after the demo connector's coverage (2024-01-01 … ~2024-04-30): no candles at all.
NO_CANDLES = {"start": "2024-06-01", "end": "2024-06-02"}
assert parse_time(NO_CANDLES["start"]) > DEMO_END


# -- fixtures and helpers ------------------------------------------------------------------------


def make_spec(**fields: Any) -> SweepSpec:
    """A validated spec from plain data, as a spec file gives it."""
    return SweepSpec.model_validate(fields)


@pytest.fixture(scope="module")
def registry() -> ControllerRegistry:
    return ControllerRegistry()


def grid_spec(**changes: Any) -> SweepSpec:
    """The README's example sweep (6 configs) on a 1-day window."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(end="2024-01-09", **changes)
    return SweepSpec.model_validate(data)


@pytest.fixture(scope="module")
def grid(registry: ControllerRegistry) -> list[SweepItem]:
    items = list(expand(grid_spec(), registry=registry))
    assert len(items) == 6
    return items


def single_metrics(
    items: Sequence[SweepItem], settings: Settings, registry: ControllerRegistry
) -> dict[str, dict[str, Any]]:
    """What one ``run_backtest`` per request gives, as stored (``results_json``), by key."""
    return {
        item.key: results_json(
            run_backtest(item.request, settings=settings, registry=registry).results
        )
        for item in items
    }


@pytest.fixture(scope="module")
def grid_single(
    grid: list[SweepItem], registry: ControllerRegistry, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("single"), offline=True)
    return single_metrics(grid, settings, registry)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", offline=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty results database: a new SQLite file, or a new PostgreSQL schema."""
    if request.param == "sqlite":
        yield Store.default_url(tmp_path / "db")
        return
    with postgres_admin() as admin, fresh_schema(admin) as url:
        yield url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(Store.default_url(tmp_path / "db")) as opened:
        yield opened


def sweep(
    name: str,
    items: Sequence[SweepItem],
    store: Store,
    settings: Settings,
    **options: Any,
) -> SweepReport:
    return run_sweep(name, items, spec={"name": name}, store=store, settings=settings, **options)


def rows(store: Store, name: str) -> list[ResultRow]:
    return store.results(name, include_failed=True)


def row_count(store: Store, name: str) -> int:
    sweep_id = next(s.id for s in store.list_sweeps() if s.name == name)
    with store.database.engine.connect() as conn:
        count = conn.execute(
            select(func.count()).select_from(sweep_item).where(sweep_item.c.sweep_id == sweep_id)
        ).scalar_one()
    return int(count)


def statuses(store: Store, name: str) -> dict[str, str]:
    sweep_id = next(s.id for s in store.list_sweeps() if s.name == name)
    with store.database.engine.connect() as conn:
        found = conn.execute(
            select(sweep_item.c.key, sweep_item.c.status).where(sweep_item.c.sweep_id == sweep_id)
        ).all()
    return {key: status for key, status in found}


def stop_after(done: int, seen: list[SweepProgress]) -> Callable[[SweepProgress], None]:
    """A progress callback that presses Ctrl-C once ``done`` items have finished."""

    def progress(update: SweepProgress) -> None:
        seen.append(update)
        if update.done >= done:
            raise KeyboardInterrupt

    return progress


def wait_for_no_children(timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while multiprocessing.active_children():
        assert time.monotonic() < deadline, f"left running: {multiprocessing.active_children()}"
        time.sleep(0.05)


@pytest.fixture
def use_the_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the items after the first two to worker processes, however fast they are."""
    monkeypatch.setattr(runner_module, "_POOL_WORTH_S", 0.0)


# -- results equal single runs -------------------------------------------------------------------


def test_stored_metrics_equal_single_runs_and_a_rerun_skips_everything(
    db_url: str,
    grid: list[SweepItem],
    grid_single: dict[str, dict[str, Any]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Store(db_url) as store:
        report = sweep("grid", grid, store, settings, workers=1)
        assert (report.name, report.items, report.skipped) == ("grid", 6, 0)
        assert (report.done, report.failed, report.interrupted, report.workers) == (6, 0, False, 1)
        assert report.seconds > 0 and report.load_seconds > 0

        stored = rows(store, "grid")
        assert [row.index for row in stored] == [0, 1, 2, 3, 4, 5]
        assert [row.key for row in stored] == [item.key for item in grid]
        assert [row.params for row in stored] == [item.params for item in grid]
        assert all(row.status == "done" and row.error is None for row in stored)
        assert {row.key: row.metrics for row in stored} == grid_single
        # the metrics differ between configs: the comparison above means something
        assert len({json.dumps(row.metrics, sort_keys=True) for row in stored}) == 6
        finished = {row.key: row.finished_at for row in stored}

        # A re-run loads nothing and runs nothing.
        def nothing(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a finished sweep loaded candles or ran a backtest again")

        monkeypatch.setattr(runner_module, "_load_datasets", nothing)
        monkeypatch.setattr(runner_module._Worker, "run", nothing)
        seen: list[SweepProgress] = []
        again = sweep("grid", grid, store, settings, workers=2, progress=seen.append)
        assert (again.items, again.skipped, again.done, again.failed) == (6, 6, 0, 0)
        assert not again.interrupted and again.seconds == 0 and seen == []
        assert {row.key: row.finished_at for row in rows(store, "grid")} == finished
        assert row_count(store, "grid") == 6
        [listed] = store.list_sweeps()
        assert (listed.items, listed.done, listed.failed, listed.pending) == (6, 6, 0, 0)


@pytest.mark.usefixtures("use_the_pool")
def test_two_workers_store_what_one_worker_stores(
    db_url: str,
    grid: list[SweepItem],
    grid_single: dict[str, dict[str, Any]],
    settings: Settings,
) -> None:
    with Store(db_url) as store:
        seen: list[SweepProgress] = []
        report = sweep("pool", grid, store, settings, workers=2, progress=seen.append)
        assert (report.items, report.done, report.failed, report.workers) == (6, 6, 0, 2)
        assert not report.interrupted
        assert {row.key: row.metrics for row in rows(store, "pool")} == grid_single
        assert [(p.done, p.failed) for p in seen] == [(n, 0) for n in range(1, 7)]
        assert row_count(store, "pool") == 6
    wait_for_no_children()


def test_a_short_sweep_stays_in_process_even_with_workers(
    store: Store, grid: list[SweepItem], settings: Settings
) -> None:
    report = sweep("short", grid, store, settings, workers=2)
    assert (report.done, report.workers) == (6, 1)
    assert multiprocessing.active_children() == []


def test_the_summary_is_zlib_json_with_results_warnings_and_request(
    store: Store, grid: list[SweepItem], settings: Settings, registry: ControllerRegistry
) -> None:
    sweep("grid", grid[:2], store, settings, workers=1)
    for item, row in zip(grid[:2], rows(store, "grid"), strict=True):
        blob = store.summary("grid", item.key)
        assert blob is not None
        document = json.loads(zlib.decompress(blob))
        assert {"results", "warnings", "request"} <= set(document)
        assert document["results"] == row.metrics
        assert document["warnings"] == row.warnings
        assert document["request"] == item.request.model_dump(mode="json")
        assert document["run_id"] == item.key
        assert store.request("grid", item.key) == document["request"]
        single = run_backtest(item.request, settings=settings, registry=registry)
        assert document["results"] == results_json(single.results)
        assert document["warnings"] == single.warnings
        assert document["position_holds"] == json.loads(orjson.dumps(single.position_holds()))


def test_the_summary_names_the_data_source_a_single_run_names(
    store: Store, grid: list[SweepItem], settings: Settings, registry: ControllerRegistry
) -> None:
    item = grid[0]
    sweep("grid", [item], store, settings, workers=1)
    blob = store.summary("grid", item.key)
    assert blob is not None
    single = run_backtest(item.request, settings=settings, registry=registry)
    assert json.loads(zlib.decompress(blob))["data_source"] == single.data_source


# -- failures ------------------------------------------------------------------------------------


def test_a_window_without_candles_fails_its_items_and_the_others_finish(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    spec = make_spec(
        name="windows", base=BASE, grid={"take_profit": [0.002, 0.004]}, windows=[DAY_1, NO_CANDLES]
    )
    items = list(expand(spec, registry=registry))
    seen: list[SweepProgress] = []
    report = sweep("windows", items, store, settings, workers=1, progress=seen.append)
    assert (report.items, report.done, report.failed, report.interrupted) == (4, 2, 2, False)

    stored = rows(store, "windows")
    assert [row.status for row in stored] == ["done", "done", "failed", "failed"]
    for item, row in zip(items[2:], stored[2:], strict=True):
        assert row.params["window"] == "2024-06-01/2024-06-02"
        assert row.metrics == {} and row.error
        assert (
            "the demo connector (synthetic data) covers" in row.error and "2024-06-01" in row.error
        )
        assert store.summary("windows", item.key) is None
        with pytest.raises(DataMissingError):  # a single run of it fails as well
            run_backtest(item.request, settings=settings, registry=registry)
    assert {row.key: row.metrics for row in stored[:2]} == single_metrics(
        items[:2], settings, registry
    )
    # progress: one call per finished item, counting up to the total
    # items whose candles could not be loaded are reported first, then the runs
    assert [(p.done, p.failed, p.total, p.skipped) for p in seen] == [
        (0, 1, 4, 0),
        (0, 2, 4, 0),
        (1, 2, 4, 0),
        (2, 2, 4, 0),
    ]
    assert all(a.elapsed_s <= b.elapsed_s for a, b in itertools.pairwise(seen))

    # a re-run retries exactly the failed ones (they fail again, nothing is stored twice)
    done_before = {row.key: (row.metrics, row.finished_at) for row in stored[:2]}
    again = sweep("windows", items, store, settings, workers=1)
    assert (again.items, again.skipped, again.done, again.failed) == (4, 2, 0, 2)
    stored = rows(store, "windows")
    assert [row.status for row in stored] == ["done", "done", "failed", "failed"]
    assert all("2024-06-01" in (row.error or "") for row in stored[2:])
    assert {row.key: (row.metrics, row.finished_at) for row in stored[:2]} == done_before
    assert row_count(store, "windows") == 4
    [listed] = store.list_sweeps()
    assert (listed.items, listed.done, listed.failed, listed.pending) == (4, 2, 2, 0)


@pytest.fixture
def hostile_settings(tmp_path: Path) -> Settings:
    """A controllers dir holding only the misbehaving market-making plug-in."""
    folder = tmp_path / "controllers" / "market_making"
    folder.mkdir(parents=True)
    shutil.copy(HOSTILE_MM / "bad_features_mm.py", folder)
    return Settings(data_dir=tmp_path / "data", controllers_dirs=(folder.parent,), offline=True)


@pytest.mark.usefixtures("use_the_pool")
def test_a_controller_failing_at_run_time_is_recorded_with_its_error(
    store: Store, hostile_settings: Settings
) -> None:
    registry = build_registry(hostile_settings)
    base = {
        **BASE,
        "controller_name": "bad_features_mm",
        "buy_spreads": "0.002",
        "sell_spreads": "0.002",
    }
    spec = make_spec(
        name="hostile",
        base=base,
        grid={"mode": ["ok", "wrong_length", "no_reference_price"], "take_profit": [0.002, 0.004]},
        **DAY_1,
    )
    items = list(expand(spec, registry=registry))
    report = sweep("hostile", items, store, hostile_settings, workers=2)
    assert (report.items, report.done, report.failed, report.workers) == (6, 2, 4, 2)

    stored = {row.key: row for row in rows(store, "hostile")}
    for item in items:
        row = stored[item.key]
        if item.params["mode"] == "ok":
            assert row.status == "done"
            expected = single_metrics([item], hostile_settings, registry)[item.key]
            assert row.metrics == expected
            continue
        assert row.status == "failed" and row.metrics == {}
        with pytest.raises(ControllerError) as single:
            run_backtest(item.request, settings=hostile_settings, registry=registry)
        assert row.error == str(single.value)  # the worker's error is the single run's
        assert "bad_features_mm.py" in row.error
    wait_for_no_children()


def write_demo_candles(settings: Settings, connector: str, start: str, end: str) -> None:
    """Put the demo's candles in the cache as if fetched from ``connector``."""
    candles = demo_candles("BTC-USDT", "1m", parse_time(start), parse_time(end))
    CandleStore(settings.data_dir).write(connector, "BTC-USDT", "1m", candles.to_frame())


def test_a_dataset_that_cannot_be_loaded_fails_exactly_its_items_and_a_rerun_retries_them(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    spec = make_spec(
        name="venues",
        base=BASE,
        grid={"connector_name": ["demo", "binance"], "take_profit": [0.002, 0.004]},
        **DAY_1,
    )
    items = list(expand(spec, registry=registry))
    seen: list[SweepProgress] = []
    report = sweep("venues", items, store, settings, workers=1, progress=seen.append)
    assert (report.items, report.done, report.failed) == (4, 2, 2)
    stored = rows(store, "venues")
    assert [(row.params["connector_name"], row.status) for row in stored] == [
        ("demo", "done"),
        ("demo", "done"),
        ("binance", "failed"),
        ("binance", "failed"),
    ]
    for row in stored[2:]:
        assert row.error is not None
        assert "offline" in row.error and "hbbacktest data fetch --connector binance" in row.error
    assert seen[-1].done + seen[-1].failed == seen[-1].total == 4

    # The candles arrive (a `data fetch`): the next run retries the failed items only.
    write_demo_candles(settings, "binance", DAY_1["start"], DAY_1["end"])
    done_before = {row.key: row.finished_at for row in stored[:2]}
    again = sweep("venues", items, store, settings, workers=1)
    assert (again.items, again.skipped, again.done, again.failed) == (4, 2, 2, 0)
    stored = rows(store, "venues")
    assert all(row.status == "done" and row.error is None for row in stored)
    assert {row.key: row.finished_at for row in stored[:2]} == done_before
    assert {row.key: row.metrics for row in stored} == single_metrics(items, settings, registry)
    assert row_count(store, "venues") == 4


def test_progress_counts_items_whose_dataset_cannot_be_loaded(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    spec = make_spec(
        name="venues",
        base=BASE,
        grid={"connector_name": ["demo", "binance"], "take_profit": [0.002, 0.004]},
        **DAY_1,
    )
    seen: list[SweepProgress] = []
    sweep("venues", list(expand(spec, registry=registry)), store, settings, progress=seen.append)
    assert [(p.done + p.failed) for p in seen] == [1, 2, 3, 4]


def test_windows_cached_with_a_gap_between_them_run_offline(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    later = {"start": "2024-01-20", "end": "2024-01-21"}
    for window in (DAY_1, later):
        write_demo_candles(settings, "binance", window["start"], window["end"])
    spec = make_spec(
        name="gap",
        base={**BASE, "connector_name": "binance"},
        grid={"take_profit": [0.002]},
        windows=[DAY_1, later],
    )
    items = list(expand(spec, registry=registry))
    expected = single_metrics(items, settings, registry)  # each runs alone, offline
    report = sweep("gap", items, store, settings, workers=1)
    assert [row.error for row in rows(store, "gap")] == [None, None]
    assert (report.done, report.failed) == (2, 0)
    assert {row.key: row.metrics for row in rows(store, "gap")} == expected


def test_a_changed_spec_under_the_same_name_runs_its_own_items_only(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    first = make_spec(
        name="same", base=BASE, grid={"take_profit": [0.002, 0.004]}, windows=[DAY_1, NO_CANDLES]
    )
    report = sweep("same", list(expand(first, registry=registry)), store, settings, workers=1)
    assert (report.done, report.failed) == (2, 2)
    changed = make_spec(name="same", base=BASE, grid={"take_profit": [0.003]}, **DAY_1)
    items = list(expand(changed, registry=registry))
    # results of two specs never mix: refused, unless the old results are replaced
    with pytest.raises(ConfigError, match="stored with 4 config"):
        sweep("same", items, store, settings, workers=1)
    report = run_sweep(
        "same", items, spec={}, store=store, settings=settings, workers=1, replace_existing=True
    )
    assert (report.items, report.done, report.failed, report.skipped) == (1, 1, 0, 0)
    assert [row.params for row in store.results("same", include_failed=True)] == [
        {"take_profit": 0.003}
    ]


def test_a_spec_that_adds_a_window_resumes_and_names_it_on_every_item(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    one = make_spec(name="grow", base=BASE, grid={"take_profit": [0.002]}, windows=[DAY_1])
    sweep("grow", list(expand(one, registry=registry)), store, settings, workers=1)
    two = make_spec(
        name="grow", base=BASE, grid={"take_profit": [0.002]}, windows=[DAY_1, NO_CANDLES]
    )
    report = sweep("grow", list(expand(two, registry=registry)), store, settings, workers=1)
    assert (report.items, report.skipped, report.failed) == (2, 1, 1)
    stored = store.results("grow", include_failed=True)
    assert [sorted(row.params) for row in stored] == [["take_profit", "window"]] * 2
    assert sorted(row.index for row in stored) == [0, 1]


# -- Ctrl-C --------------------------------------------------------------------------------------


def test_ctrl_c_keeps_what_finished_and_a_rerun_does_exactly_the_rest(
    db_url: str,
    grid: list[SweepItem],
    grid_single: dict[str, dict[str, Any]],
    settings: Settings,
) -> None:
    with Store(db_url) as store:
        seen: list[SweepProgress] = []
        report = sweep("ctrl_c", grid, store, settings, workers=1, progress=stop_after(2, seen))
        assert report.interrupted
        assert (report.items, report.done, report.failed, report.skipped) == (6, 2, 0, 0)
        state = statuses(store, "ctrl_c")
        assert [state[item.key] for item in grid] == ["done"] * 2 + ["pending"] * 4
        first = {row.key: (row.metrics, row.finished_at) for row in rows(store, "ctrl_c")}
        assert list(first) == [item.key for item in grid[:2]]

        seen.clear()
        again = sweep("ctrl_c", grid, store, settings, workers=1, progress=seen.append)
        assert not again.interrupted
        assert (again.items, again.skipped, again.done, again.failed) == (6, 2, 4, 0)
        assert [(p.done, p.total, p.skipped) for p in seen] == [(n, 4, 2) for n in range(1, 5)]
        stored = rows(store, "ctrl_c")
        assert {row.key: row.metrics for row in stored} == grid_single
        assert {row.key: (row.metrics, row.finished_at) for row in stored[:2]} == first
        assert row_count(store, "ctrl_c") == 6


@pytest.mark.usefixtures("use_the_pool")
def test_ctrl_c_with_worker_processes_stops_them_and_keeps_what_finished(
    store: Store,
    grid: list[SweepItem],
    grid_single: dict[str, dict[str, Any]],
    settings: Settings,
) -> None:
    seen: list[SweepProgress] = []
    # the first two run in this process; the third result is the first from a worker
    report = sweep("pool_c", grid, store, settings, workers=2, progress=stop_after(3, seen))
    assert report.interrupted and (report.done, report.failed, report.workers) == (3, 0, 2)
    wait_for_no_children()
    state = statuses(store, "pool_c")
    assert sorted(state.values()) == ["done"] * 3 + ["pending"] * 3
    done_first = {row.key: row.finished_at for row in rows(store, "pool_c")}

    again = sweep("pool_c", grid, store, settings, workers=1)
    assert (again.skipped, again.done, again.failed, again.interrupted) == (3, 3, 0, False)
    stored = rows(store, "pool_c")
    assert {row.key: row.metrics for row in stored} == grid_single
    assert {k: v for k, v in ((r.key, r.finished_at) for r in stored) if k in done_first} == (
        done_first
    )
    assert row_count(store, "pool_c") == 6


# -- features reused ------------------------------------------------------------------------------


def dynamic_items(registry: ControllerRegistry) -> list[SweepItem]:
    """pmm_dynamic: 3 spread ladders (features unchanged) × 2 NATR lengths (features change)."""
    base = yaml.safe_load((ROOT / "examples" / "pmm_dynamic.yml").read_text())
    spec = make_spec(
        name="dynamic",
        base=base,
        zip={
            "buy_spreads": ["1,2,4", "1.5,3,6", "2,4,8"],
            "sell_spreads": ["1,2,4", "1.5,3,6", "2,4,8"],
        },
        grid={"natr_length": [14, 20]},
        **DAY_1,
    )
    items = list(expand(spec, registry=registry))
    assert len(items) == 6
    return items


def test_configs_differing_only_in_spreads_compute_features_once_with_equal_results(
    store: Store,
    registry: ControllerRegistry,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items = dynamic_items(registry)
    expected = single_metrics(items, settings, registry)  # no feature cache: each computes

    calls: list[int] = []
    original = PMMDynamicController.compute_features

    def counting(self: PMMDynamicController, data: Any) -> Any:
        calls.append(self.config.natr_length)
        return original(self, data)

    monkeypatch.setattr(PMMDynamicController, "compute_features", counting)
    report = sweep("dynamic", items, store, settings, workers=1)
    assert (report.done, report.failed) == (6, 0)
    assert sorted(calls) == [14, 20]  # once per distinct set of feature parameters
    assert {row.key: row.metrics for row in rows(store, "dynamic")} == expected
    # spreads matter (the reuse did not freeze the results), and so does natr_length
    assert len({json.dumps(m, sort_keys=True) for m in expected.values()}) == 6


@pytest.mark.usefixtures("use_the_pool")
def test_features_reused_in_worker_processes_give_the_same_results(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    items = dynamic_items(registry)
    report = sweep("dynamic", items, store, settings, workers=2)
    assert (report.done, report.failed, report.workers) == (6, 0, 2)
    expected = single_metrics(items, settings, registry)
    assert {row.key: row.metrics for row in rows(store, "dynamic")} == expected
    wait_for_no_children()
