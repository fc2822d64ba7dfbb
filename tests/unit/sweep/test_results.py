"""A sweep's results as a table (and .csv/.parquet), its best config, and that config as YAML.

The sweeps are real (demo connector, 1-day windows), run once for the module into one SQLite
results database; each test reads them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
import yaml

from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, DataError, OutputError
from hbbacktest.metrics.encode import results_json
from hbbacktest.service.backtest import load_controller_config, request_from_dict, run_backtest
from hbbacktest.store import Store
from hbbacktest.sweep import SweepSpec, expand
from hbbacktest.sweep.results import DEFAULT_METRIC, best, export, run_command, table, write_config
from hbbacktest.sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"
BASE: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
}
DAY_1 = {"start": "2024-01-08", "end": "2024-01-09"}
NO_CANDLES = {"start": "2024-06-01", "end": "2024-06-02"}  # after the demo's coverage
TAIL = ["status", "seconds", "error", "key"]


def make_spec(**fields: Any) -> SweepSpec:
    """A validated spec from plain data, as a spec file gives it."""
    return SweepSpec.model_validate(fields)


@pytest.fixture(scope="module")
def registry() -> ControllerRegistry:
    return ControllerRegistry()


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), offline=True)


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, registry: ControllerRegistry, settings: Settings
) -> Iterator[Store]:
    """Sweeps ``grid`` (6 done), ``mixed`` (2 done, 2 failed), ``failed`` (none done) and
    ``mixed_types`` (a parameter given as a text and as a number)."""
    grid = yaml.safe_load(EXAMPLE.read_text())
    grid.update(name="grid", end=DAY_1["end"])
    specs = [
        SweepSpec.model_validate(grid),
        make_spec(
            name="mixed",
            base=BASE,
            grid={"take_profit": [0.002, 0.004]},
            windows=[DAY_1, NO_CANDLES],
        ),
        make_spec(name="failed", base=BASE, grid={"take_profit": [0.002]}, **NO_CANDLES),
        make_spec(
            name="mixed_types",
            base=BASE,
            grid={"buy_spreads": ["0.001,0.002", 0.003]},
            **DAY_1,
        ),
    ]
    folder = tmp_path_factory.mktemp("db")
    with Store(Store.default_url(folder)) as opened:
        for spec in specs:
            run_sweep(
                spec.name,
                list(expand(spec, registry=registry)),
                spec=spec.model_dump(mode="json"),
                store=opened,
                settings=settings,
                workers=1,
            )
        yield opened


def cell_text(value: Any) -> str:
    """How the csv module writes a cell."""
    return "" if value is None else str(value)


# -- table ---------------------------------------------------------------------------------------


def test_table_has_params_then_metrics_named_as_in_results_nested_ones_as_json(
    store: Store, registry: ControllerRegistry, settings: Settings
) -> None:
    rows = store.results("grid")
    columns, body = table(rows)
    first = store.request("grid", rows[0].key)
    assert first is not None
    single = run_backtest(
        request_from_dict(first, registry=registry), settings=settings, registry=registry
    )
    metric_names = list(results_json(single.results))
    assert columns == ["index", "buy_spreads", "take_profit", *metric_names, *TAIL]
    assert len(body) == 6

    for row, line in zip(rows, body, strict=True):
        cells = dict(zip(columns, line, strict=True))
        assert cells["index"] == row.index
        assert (cells["buy_spreads"], cells["take_profit"]) == (
            row.params["buy_spreads"],
            row.params["take_profit"],
        )
        assert isinstance(cells["buy_spreads"], str)  # as written in the spec: "0.001"
        assert (cells["status"], cells["error"], cells["key"]) == ("done", None, row.key)
        assert cells["seconds"] == pytest.approx(row.seconds, abs=1e-6)
        for name in metric_names:
            value = row.metrics[name]
            if isinstance(value, dict | list):
                assert isinstance(cells[name], str)
                assert json.loads(cells[name]) == value
                assert cells[name] == json.dumps(value, sort_keys=True, separators=(",", ":"))
            else:
                assert cells[name] == value
    assert isinstance(rows[0].metrics["close_types"], dict)  # one nested metric was checked


def test_table_of_failed_items_has_empty_metrics_and_the_error(store: Store) -> None:
    columns, body = table(store.results("mixed", include_failed=True))
    assert columns[:3] == ["index", "take_profit", "window"]
    assert columns[-4:] == TAIL
    cells = [dict(zip(columns, line, strict=True)) for line in body]
    assert [c["status"] for c in cells] == ["done", "done", "failed", "failed"]
    metrics = columns[3:-4]
    assert "net_pnl_quote" in metrics
    for c in cells[2:]:
        assert c["window"] == "2024-06-01/2024-06-02"
        assert all(c[name] is None for name in metrics)
        assert c["error"] and "2024-06-01" in c["error"]
    assert all(c["net_pnl_quote"] is not None and c["error"] is None for c in cells[:2])


def test_table_of_no_rows() -> None:
    assert table([]) == (["index", *TAIL], [])


# -- export --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["results.csv", "RESULTS.CSV"])
def test_export_csv_reads_back_as_the_table(store: Store, tmp_path: Path, name: str) -> None:
    rows = store.results("mixed", include_failed=True)
    written = export(rows, tmp_path / name)
    assert written == (tmp_path / name).absolute()
    columns, body = table(rows)
    with open(written, newline="", encoding="utf-8") as handle:
        header, *lines = list(csv.reader(handle))
    assert header == columns
    assert lines == [[cell_text(value) for value in line] for line in body]
    # numbers come back exactly
    at = columns.index("net_pnl_quote")
    assert float(lines[0][at]) == body[0][at]
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


def test_export_parquet_reads_back_as_the_table(store: Store, tmp_path: Path) -> None:
    for name, failed in (("grid", False), ("mixed", True)):
        rows = store.results(name, include_failed=failed)
        written = export(rows, tmp_path / f"{name}.parquet")
        columns, body = table(rows)
        back = pq.read_table(written)
        assert back.column_names == columns
        assert back.to_pydict() == {c: [line[i] for line in body] for i, c in enumerate(columns)}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.parquet", "mixed.parquet"]


def test_export_parquet_of_a_parameter_given_as_text_and_number(
    store: Store, tmp_path: Path
) -> None:
    rows = store.results("mixed_types")
    assert [row.params["buy_spreads"] for row in rows] == ["0.001,0.002", 0.003]
    export(rows, tmp_path / "ok.csv")
    written = export(rows, tmp_path / "mixed.parquet")
    assert pq.read_table(written).num_rows == 2


@pytest.mark.parametrize("name", ["results.xlsx", "results.json", "results", "results.csv.gz"])
def test_export_to_another_suffix_is_a_config_error(
    store: Store, tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigError, match=r"use a \.csv or \.parquet file name"):
        export(store.results("grid"), tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_export_into_a_missing_folder_is_an_output_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        export(store.results("grid"), tmp_path / "missing" / "results.csv")
    assert list(tmp_path.iterdir()) == []


# -- best ----------------------------------------------------------------------------------------


def test_best_is_the_top_item_by_a_metric_either_way(store: Store) -> None:
    rows = store.results("grid")
    for metric in (DEFAULT_METRIC, "sharpe_ratio", "total_executors"):
        values = [row.metrics[metric] for row in rows]
        assert len(set(values)) > 1, metric  # a ranking that means something
        top, config = best(store, "grid", metric=metric)
        assert top.metrics[metric] == max(values)
        request = store.request("grid", top.key)
        assert request is not None and config == request
        low, low_config = best(store, "grid", metric=metric, descending=False)
        assert low.metrics[metric] == min(values)
        assert low.key != top.key
        request = store.request("grid", low.key)
        assert request is not None and low_config == request
    default, _ = best(store, "grid")
    assert default.metrics[DEFAULT_METRIC] == max(r.metrics[DEFAULT_METRIC] for r in rows)


def test_best_skips_failed_items(store: Store) -> None:
    row, _ = best(store, "mixed", descending=False)
    assert row.status == "done" and row.params["window"] == "2024-01-08/2024-01-09"


def test_best_of_an_unknown_metric_or_sweep_or_nothing_done(store: Store) -> None:
    with pytest.raises(ConfigError, match=r"net_pnl_quot.*did you mean 'net_pnl_quote'"):
        best(store, "grid", metric="net_pnl_quot")
    with pytest.raises(ConfigError, match=r"no sweep named 'gird' \(did you mean 'grid'\?\)"):
        best(store, "gird")
    with pytest.raises(DataError, match="no finished item"):
        best(store, "failed")


# -- write_config --------------------------------------------------------------------------------


def test_the_best_config_written_as_yaml_loads_back_and_runs_to_the_same_result(
    store: Store, registry: ControllerRegistry, settings: Settings, tmp_path: Path
) -> None:
    row, request_json = best(store, "grid", metric="sharpe_ratio")
    config = request_json["config"]
    command = run_command(request_json, "best.yml")
    assert command.startswith("hbbacktest run best.yml --start 2024-01-08T00:00:00Z")
    assert "--trade-cost 0.0006 --fill-model hummingbot" in command
    path = write_config(config, tmp_path / "best.yml", comment="best of sweep grid by sharpe")
    assert path == (tmp_path / "best.yml").absolute()
    text = path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == "# best of sweep grid by sharpe"
    assert yaml.safe_load(text) == config
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.yml"]

    loaded = load_controller_config(path, registry=registry)
    assert loaded.model_dump(mode="json") == config
    stored = store.request("grid", row.key)
    assert stored is not None
    request = BacktestRequest(
        config=loaded,
        start=stored["start"],
        end=stored["end"],
        backtesting_resolution=stored["backtesting_resolution"],
        trade_cost=stored["trade_cost"],
    )
    assert request.config_id == row.key  # the very backtest the sweep ran
    result = run_backtest(request, settings=settings, registry=registry)
    assert results_json(result.results) == row.metrics


def test_write_config_into_a_missing_folder_is_an_output_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="cannot write"):
        write_config({"controller_name": "pmm_simple"}, tmp_path / "no" / "best.yml", comment="x")
    assert list(tmp_path.iterdir()) == []
