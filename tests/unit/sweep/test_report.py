"""``write_sweep_report``: a real sweep on the demo connector, then its report.

One sweep of 8 configs (three parameters, so the heatmap aggregates the third), run once for
the module; each test writes its report into its own folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, DataError, DataMissingError
from hbbacktest.report.sweep import heatmap_grid
from hbbacktest.service import backtest as backtest_module
from hbbacktest.store import ResultRow, Store
from hbbacktest.sweep import SweepSpec, expand
from hbbacktest.sweep.report import param_order, write_sweep_report
from hbbacktest.sweep.runner import run_sweep

BASE: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
}
DAY_1 = {"start": "2024-01-08", "end": "2024-01-09"}
NO_CANDLES = {"start": "2024-06-01", "end": "2024-06-02"}  # after the demo's coverage
GRID = {
    "take_profit": [0.002, 0.004],
    "buy_spreads": ["0.001", "0.003"],
    "stop_loss": [0.01, 0.03],
}


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), offline=True)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Store]:
    """Sweeps ``grid`` (8 done) and ``failed`` (1 failed, none done)."""
    registry = ControllerRegistry()
    specs = [
        SweepSpec.model_validate({"name": "grid", "base": BASE, "grid": GRID, **DAY_1}),
        SweepSpec.model_validate(
            {"name": "failed", "base": BASE, "grid": {"take_profit": [0.002]}, **NO_CANDLES}
        ),
    ]
    with Store(Store.default_url(tmp_path_factory.mktemp("db"))) as opened:
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


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The result documents the single-run report is given, in call order."""
    from hbbacktest.service import report as report_module

    real = report_module.render_run_report
    seen: list[dict[str, Any]] = []

    def spy(result: Any, **options: Any) -> Any:
        seen.append(dict(result))
        return real(result, **options)

    monkeypatch.setattr(report_module, "render_run_report", spy)
    return seen


def figure(html: str, div_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" data-figure="{div_id}">(.*?)</script>', html, re.S
    )
    assert found, f"no figure {div_id}"
    spec: dict[str, Any] = json.loads(found.group(1))
    return spec


def top_links(html: str) -> list[tuple[str, str]]:
    """(href, index) of each linked row of the top table, in order."""
    body = re.search(r'<table id="top".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body
    return re.findall(r'<a href="([^"]+)">(\d+)</a>', body[1])


def plain(rows: list[ResultRow]) -> list[dict[str, Any]]:
    return [{"index": r.index, "params": r.params, "metrics": r.metrics} for r in rows]


def test_report_heatmap_top_table_and_run_pages(
    store: Store, settings: Settings, tmp_path: Path, rendered: list[dict[str, Any]]
) -> None:
    files = write_sweep_report(
        "grid", tmp_path / "out", store=store, settings=settings, metric="sharpe_ratio", top=3
    )
    assert files.index == (tmp_path / "out" / "index.html").absolute()
    assert files.notes == []
    html = files.index.read_text(encoding="utf-8")
    rows = store.results("grid")
    assert len(rows) == 8

    # Heatmap: the first two varied parameters in spec order; the third aggregated (best).
    trace = figure(html, "heatmap")["data"][0]
    assert param_order(store.find_sweep("grid").spec, rows) == list(GRID)  # type: ignore[union-attr]
    grid = heatmap_grid(plain(rows), x="take_profit", y="buy_spreads", metric="sharpe_ratio")
    assert trace["z"] == grid.z
    for i, spreads in enumerate(["0.001", "0.003"]):
        for j, take_profit in enumerate([0.002, 0.004]):
            cell = [
                r.metrics["sharpe_ratio"]
                for r in rows
                if r.params["buy_spreads"] == spreads and r.params["take_profit"] == take_profit
            ]
            assert len(cell) == 2
            assert trace["z"][i][j] == max(cell)
    assert "stop_loss varies too: each cell shows the best (highest) value" in html

    # The top table: the store's order, each row linked to its own page.
    best = store.results("grid", sort="sharpe_ratio", top=3)
    links = top_links(html)
    assert [int(index) for _, index in links] == [r.index for r in best]
    assert list(files.runs) == [r.index for r in best]
    assert [d["run_id"] for d in rendered] == [r.key for r in best]
    for (href, _), row in zip(links, best, strict=True):
        page = tmp_path / "out" / href
        assert page == files.runs[row.index]
        text = page.read_text(encoding="utf-8")
        assert text.startswith("<!DOCTYPE html>")
        assert row.key[:12] in text  # the page names its run id
        assert f"<title>Sweep grid · config {row.index}: take_profit = " in text
    for document, row in zip(rendered, best, strict=True):
        assert document["results"]["sharpe_ratio"] == row.metrics["sharpe_ratio"]


def test_lower_is_better_metric_ranks_ascending(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    files = write_sweep_report(
        "grid", tmp_path, store=store, settings=settings, metric="total_fees_quote", top=2
    )
    best = store.results("grid", sort="total_fees_quote", descending=False, top=2)
    assert list(files.runs) == [r.index for r in best]
    html = files.index.read_text(encoding="utf-8")
    assert [int(i) for _, i in top_links(html)] == [r.index for r in best]


def test_mean_aggregate_and_chosen_axes(store: Store, settings: Settings, tmp_path: Path) -> None:
    files = write_sweep_report(
        "grid",
        tmp_path,
        store=store,
        settings=settings,
        x="stop_loss",
        y="take_profit",
        top=1,
        aggregate="mean",
    )
    trace = figure(files.index.read_text(encoding="utf-8"), "heatmap")["data"][0]
    rows = plain(store.results("grid"))
    grid = heatmap_grid(
        rows, x="stop_loss", y="take_profit", metric="net_pnl_quote", aggregate="mean"
    )
    assert trace["z"] == grid.z
    assert trace["x"] == ["0.01", "0.03"]


def test_a_failed_rerun_is_a_note_and_an_unlinked_row(
    store: Store, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    best = store.results("grid", sort="net_pnl_quote", top=2)
    real = backtest_module.run_backtest

    def flaky(request: Any, **options: Any) -> Any:
        if request.config_id == best[0].key:
            raise DataMissingError("no candles for this window (test)")
        return real(request, **options)

    monkeypatch.setattr(backtest_module, "run_backtest", flaky)
    notes: list[str] = []
    files = write_sweep_report(
        "grid", tmp_path, store=store, settings=settings, top=2, notify=notes.append
    )
    assert list(files.runs) == [best[1].index]
    assert notes == files.notes
    assert len(notes) == 1 and f"config {best[0].index}" in notes[0] and "test" in notes[0]
    html = files.index.read_text(encoding="utf-8")
    assert [int(i) for _, i in top_links(html)] == [best[1].index]
    assert "no candles for this window (test)" in html  # the note is on the page


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"metric": "sharpe_ration"}, "did you mean 'sharpe_ratio'"),
        ({"metric": "take_profit"}, "is a parameter"),
        ({"x": "stop_los"}, "did you mean 'stop_loss'"),
        ({"x": "take_profit", "y": "take_profit"}, "both 'take_profit'"),
        ({"top": 0}, "at least 1"),
    ],
)
def test_bad_choices_are_config_errors_before_anything_is_written(
    store: Store, settings: Settings, tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        write_sweep_report("grid", tmp_path / "out", store=store, settings=settings, **options)
    assert not (tmp_path / "out").exists()


def test_unknown_sweep_and_sweep_with_nothing_done(
    store: Store, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="did you mean 'grid'"):
        write_sweep_report("gird", tmp_path, store=store, settings=settings)
    with pytest.raises(DataError, match=r"no finished config yet.*1 failed.*--failed"):
        write_sweep_report("failed", tmp_path, store=store, settings=settings)
