"""The sweep report's data (heatmap grid, parallel coordinates, ranking) and its page.

Rows are hand-built: parameters ``a`` (numbers, 2 and 10: numeric order is not text order),
``b`` (text) and ``c`` (numbers), and a metric whose value says where it came from.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import pytest

from hbbacktest.core.errors import ConfigError
from hbbacktest.report.sweep import (
    check_choices,
    heatmap_grid,
    higher_is_better,
    numeric_metrics,
    param_values,
    parcoords_dimensions,
    rank,
    sweep_report,
    varied_params,
)

PLOTLY = "plotly.min.js"  # pages under test load plotly from a URL: 4.8 MB less each


def pnl(a: float, b: str, c: float) -> float:
    """A metric that tells which config gave it: a * 100 + (b == "y") * 10 + c."""
    return a * 100 + (10 if b == "y" else 0) + c


def make_rows() -> list[dict[str, Any]]:
    rows = []
    for index, (a, b, c) in enumerate(itertools.product([10, 2], ["y", "x"], [0.5, 0.25])):
        rows.append(
            {
                "index": index,
                "key": f"k{index:02d}",
                "status": "done",
                "params": {"a": a, "b": b, "c": c, "d": "same"},
                "metrics": {
                    "net_pnl_quote": pnl(a, b, c),
                    "total_fees_quote": float(index),
                    "close_types": {"TAKE_PROFIT": 1},
                    "sharpe_ratio": -float(index),
                },
            }
        )
    return rows


ROWS = make_rows()


def figure(html: str, div_id: str) -> dict[str, Any]:
    found = re.search(
        rf'<script type="application/json" data-figure="{div_id}">(.*?)</script>', html, re.S
    )
    assert found, f"no figure {div_id}"
    spec: dict[str, Any] = json.loads(found.group(1))
    return spec


def table_rows(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}".*?<tbody>(.*?)</tbody>', html, re.S)
    assert body
    return [
        re.findall(r"<td[^>]*>(.*?)</td>", line) for line in re.findall(r"<tr>(.*?)</tr>", body[1])
    ]


# -- data helpers --------------------------------------------------------------------------------


def test_param_values_sort_numbers_by_value_and_varied_skips_constants() -> None:
    assert param_values(ROWS, "a") == [2, 10]
    assert param_values(ROWS, "b") == ["x", "y"]
    assert param_values([{"params": {"s": [1, 2]}}, {"params": {"s": 3}}], "s") == [3, "[1,2]"]
    assert varied_params(ROWS, ["d", "c", "a", "b"]) == ["c", "a", "b"]


def test_numeric_metrics_leave_out_dicts_in_row_order() -> None:
    assert numeric_metrics(ROWS) == ["net_pnl_quote", "total_fees_quote", "sharpe_ratio"]


def test_heatmap_best_is_the_max_over_the_other_parameters() -> None:
    grid = heatmap_grid(
        ROWS, x="a", y="b", metric="net_pnl_quote", aggregate="best", params=["a", "b", "c", "d"]
    )
    assert (grid.x_values, grid.y_values) == ([2, 10], ["x", "y"])
    # cell (b, a): the best over c is c = 0.5
    assert grid.z == [[pnl(2, "x", 0.5), pnl(10, "x", 0.5)], [pnl(2, "y", 0.5), pnl(10, "y", 0.5)]]
    assert grid.counts == [[2, 2], [2, 2]]
    assert grid.others == ["c"]
    assert grid.aggregate == "best"


def test_heatmap_mean_and_lower_is_better_metric_takes_the_min() -> None:
    mean = heatmap_grid(ROWS, x="a", y="b", metric="net_pnl_quote", aggregate="mean")
    assert mean.z[0][0] == pytest.approx((pnl(2, "x", 0.5) + pnl(2, "x", 0.25)) / 2)
    assert not higher_is_better("total_fees_quote")
    fees = heatmap_grid(ROWS, x="c", y="a", metric="total_fees_quote")
    by_index = {(r["params"]["c"], r["params"]["a"]): [] for r in ROWS}  # type: ignore[var-annotated]
    for r in ROWS:
        by_index[(r["params"]["c"], r["params"]["a"])].append(r["metrics"]["total_fees_quote"])
    assert fees.x_values == [0.25, 0.5]
    for i, a in enumerate(fees.y_values):
        for j, c in enumerate(fees.x_values):
            assert fees.z[i][j] == min(by_index[(c, a)])


def test_heatmap_cell_without_a_number_is_none_and_still_counted() -> None:
    rows = [
        {"index": 0, "params": {"a": 1, "b": 1}, "metrics": {"m": None}},
        {"index": 1, "params": {"a": 2, "b": 1}, "metrics": {"m": 3.0}},
    ]
    grid = heatmap_grid(rows, x="a", y="b", metric="m")
    assert grid.z == [[None, 3.0]]
    assert grid.counts == [[1, 1]]
    assert grid.others == []


def test_parcoords_numeric_and_categorical_axes_metric_last() -> None:
    rows = [*ROWS, {"index": 99, "params": {"a": 2, "b": "x", "c": 0.5}, "metrics": {}}]
    dims = parcoords_dimensions(rows, params=["a", "b", "c"], metric="net_pnl_quote")
    assert [d["label"] for d in dims] == ["a", "b", "c", "net_pnl_quote"]
    assert all(len(d["values"]) == len(ROWS) for d in dims)  # the row without a metric is out
    assert dims[0]["values"] == [float(r["params"]["a"]) for r in ROWS]
    assert "tickvals" not in dims[0]
    assert dims[1]["ticktext"] == ["x", "y"]
    assert dims[1]["values"] == [1.0 if r["params"]["b"] == "y" else 0.0 for r in ROWS]
    assert dims[3]["values"] == [r["metrics"]["net_pnl_quote"] for r in ROWS]


def test_rank_best_first_none_last_ties_by_index() -> None:
    rows = [
        {"index": 0, "metrics": {"m": 1.0}},
        {"index": 1, "metrics": {"m": None}},
        {"index": 2, "metrics": {"m": 5.0}},
        {"index": 3, "metrics": {"m": 1.0}},
    ]
    assert [r["index"] for r in rank(rows, "m")] == [2, 0, 3, 1]
    assert [r["index"] for r in rank(rows, "m", top=2)] == [2, 0]
    fees = [{"index": i, "metrics": {"total_fees_quote": v}} for i, v in enumerate([3, 1, 2])]
    assert [r["index"] for r in rank(fees, "total_fees_quote")] == [1, 2, 0]


def test_check_choices_defaults_and_errors() -> None:
    metrics = ["net_pnl_quote", "sharpe_ratio"]
    params = ["a", "b", "c"]
    assert check_choices(params=params, metrics=metrics, metric="sharpe_ratio", x=None, y=None) == (
        "a",
        "b",
    )
    assert check_choices(params=params, metrics=metrics, metric="net_pnl_quote", x="b", y=None) == (
        "b",
        "a",
    )
    assert check_choices(params=["a"], metrics=metrics, metric="net_pnl_quote", x=None, y=None) == (
        "a",
        None,
    )
    with pytest.raises(ConfigError, match="did you mean 'sharpe_ratio'"):
        check_choices(params=params, metrics=metrics, metric="sharpe_ration", x=None, y=None)
    with pytest.raises(ConfigError, match="is a parameter"):
        check_choices(params=params, metrics=metrics, metric="a", x=None, y=None)
    with pytest.raises(ConfigError, match=r"--y 'cc'.*did you mean 'c'"):
        check_choices(params=params, metrics=metrics, metric="net_pnl_quote", x=None, y="cc")
    with pytest.raises(ConfigError, match="both 'a'"):
        check_choices(params=params, metrics=metrics, metric="net_pnl_quote", x="a", y="a")
    with pytest.raises(ConfigError, match="--aggregate"):
        check_choices(
            params=params, metrics=metrics, metric="net_pnl_quote", x=None, y=None, aggregate="max"
        )


# -- the page ------------------------------------------------------------------------------------


def render(**options: Any) -> str:
    defaults: dict[str, Any] = {
        "params": ["a", "b", "c", "d"],
        "metric": "net_pnl_quote",
        "x": None,
        "y": None,
        "top": 3,
        "links": {r["index"]: f"runs/{r['index']}.html" for r in ROWS},
        "summary": {"items": 10, "done": 8, "failed": 2, "pending": 0},
        "plotly_src": PLOTLY,
    }
    defaults.update(options)
    return sweep_report("grid", ROWS, **defaults)


def test_page_heatmap_dropdown_parcoords_and_linked_top_table() -> None:
    html = render()
    heat = figure(html, "heatmap")
    trace = heat["data"][0]
    grid = heatmap_grid(ROWS, x="a", y="b", metric="net_pnl_quote", params=["a", "b", "c"])
    assert trace["type"] == "heatmap"
    assert trace["z"] == grid.z
    assert trace["x"] == ["2", "10"] and trace["y"] == ["x", "y"]
    buttons = heat["layout"]["updatemenus"][0]["buttons"]
    # main metrics first, then the others in the rows' order
    assert [b["label"] for b in buttons] == ["net_pnl_quote", "sharpe_ratio", "total_fees_quote"]
    fees = heatmap_grid(ROWS, x="a", y="b", metric="total_fees_quote")
    assert buttons[2]["args"][0]["z"] == [fees.z]
    assert buttons[2]["args"][0]["reversescale"] == [True]  # lower fees are better: green
    assert "c varies too: each cell shows the best (highest) value" in html

    par = figure(html, "parcoords")["data"][0]
    assert [d["label"] for d in par["dimensions"]] == ["a", "b", "c", "net_pnl_quote"]

    lines = table_rows(html, "top")
    best = rank(ROWS, "net_pnl_quote", top=3)
    assert len(lines) == 3
    for line, row in zip(lines, best, strict=True):
        assert line[1] == f'<a href="runs/{row["index"]}.html">{row["index"]}</a>'
    assert "Same in every config: d = same" in html
    top_row = best[0]["params"]
    assert (
        f"Best config: a = {top_row['a']}, b = {top_row['b']}, c = {top_row['c']}, d = same" in html
    )
    assert '<script src="plotly.min.js">' in html
    for label in ("items", "done", "failed", "best net_pnl_quote"):
        assert f'<div class="k">{label}</div>' in html


def test_page_mean_aggregate_chosen_axes_and_no_links() -> None:
    html = render(x="c", y="a", aggregate="mean", links=None, metric="sharpe_ratio")
    trace = figure(html, "heatmap")["data"][0]
    grid = heatmap_grid(ROWS, x="c", y="a", metric="sharpe_ratio", aggregate="mean")
    assert trace["z"] == grid.z
    assert "each cell shows the mean value" in html
    assert "<a href=" not in html


def test_page_with_one_parameter_draws_a_line_and_a_single_config_draws_none() -> None:
    one = [r for r in ROWS if r["params"]["b"] == "x" and r["params"]["c"] == 0.5]
    html = sweep_report(
        "one",
        one,
        params=["a", "b", "c"],
        metric="net_pnl_quote",
        x=None,
        y=None,
        top=10,
        links=None,
        summary={},
        plotly_src=PLOTLY,
    )
    line = figure(html, "heatmap")["data"][0]
    assert line["type"] == "scatter"
    assert line["y"] == [pnl(2, "x", 0.5), pnl(10, "x", 0.5)]
    single = sweep_report(
        "single",
        one[:1],
        params=["a"],
        metric="net_pnl_quote",
        x=None,
        y=None,
        top=10,
        links=None,
        summary={},
        plotly_src=PLOTLY,
    )
    assert 'data-figure="heatmap"' not in single and 'data-figure="parcoords"' not in single
    assert len(table_rows(single, "top")) == 1


def test_page_is_self_contained_by_default_and_escapes_names() -> None:
    rows = [
        {"index": i, "params": {"<b>": i, "q": i % 2}, "metrics": {"net_pnl_quote": float(i)}}
        for i in range(4)
    ]
    html = sweep_report(
        "<script>",
        rows,
        params=["<b>", "q"],
        metric="net_pnl_quote",
        x=None,
        y=None,
        top=2,
        links=None,
        summary={},
    )
    assert "<script>alert" not in html
    assert "<title>Sweep &lt;script&gt;</title>" in html
    assert "Plotly" in html and "<script src=" not in html


def test_page_rejects_bad_choices() -> None:
    with pytest.raises(ConfigError, match="did you mean 'net_pnl_quote'"):
        render(metric="net_pnl_quot")
    with pytest.raises(ConfigError, match="at least 1"):
        render(top=0)


def test_a_parameter_that_does_not_vary_is_an_axis_only_when_asked() -> None:
    metrics = ["net_pnl_quote"]
    params = ["a", "d", "b"]
    chosen = check_choices(
        params=params, metrics=metrics, metric="net_pnl_quote", x=None, y=None, varied=["a", "b"]
    )
    assert chosen == ("a", "b")
    asked = check_choices(
        params=params, metrics=metrics, metric="net_pnl_quote", x="d", y=None, varied=["a", "b"]
    )
    assert asked == ("d", "a")


def test_a_grid_too_large_for_the_dropdown_embeds_only_the_metric(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hbbacktest.report.sweep as module

    monkeypatch.setattr(module, "_DROPDOWN_CELLS_MAX", 4 * 3 - 1)  # 4 cells × 3 metrics
    html = render()
    assert "updatemenus" not in figure(html, "heatmap")["layout"]
    assert "The metric dropdown is left out" in html
