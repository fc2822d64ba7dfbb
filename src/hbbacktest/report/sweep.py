"""The sweep report: a sweep's finished items as one self-contained HTML page.

What the page shows, from plain rows (``params``, ``metrics``, ``index``, ``key``, ``status``
each, as :meth:`hbbacktest.store.Store.results` gives them):

* the sweep's summary (items, done, failed, the best config by the metric);
* a heatmap of the metric over two parameters. When more parameters vary, each cell
  aggregates the configs that share its two values: the **best** one (the highest value, or
  the lowest for a metric where lower is better, see :func:`higher_is_better`) or the **mean**;
  the page says which. A dropdown switches the heatmap to any other numeric metric;
* parallel coordinates over every varied parameter and the metric (drag an axis to filter);
* the top N configs by the metric, each row linking to that config's own report when the
  caller gives its address.

The data helpers (:func:`heatmap_grid`, :func:`parcoords_dimensions`, :func:`rank`) are pure
and return plain data, so tests check numbers, not HTML. Loading rows and re-running configs
is the caller's job (:mod:`hbbacktest.sweep.report`).

Example:
    >>> rows = [{"index": 0, "key": "ab…", "status": "done",
    ...          "params": {"take_profit": 0.002, "stop_loss": 0.01},
    ...          "metrics": {"net_pnl_quote": 3.5, "sharpe_ratio": 0.4}}]
    >>> html = sweep_report("pmm_grid", rows, params=["take_profit", "stop_loss"],
    ...                     metric="net_pnl_quote", x=None, y=None, top=10, links=None,
    ...                     summary={"items": 1, "done": 1, "failed": 0})
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from hbbacktest.core.errors import ConfigError, did_you_mean
from hbbacktest.report.html import escape, figure_block, metric_tiles, page, table_block

__all__ = [
    "AGGREGATES",
    "LOWER_IS_BETTER",
    "MAIN_METRICS",
    "HeatmapGrid",
    "check_choices",
    "heatmap_grid",
    "higher_is_better",
    "numeric_metrics",
    "param_values",
    "parcoords_dimensions",
    "rank",
    "sweep_report",
    "varied_params",
]

Aggregate = Literal["best", "mean"]

#: How a heatmap cell sums up the configs that share its two parameter values.
AGGREGATES: tuple[Aggregate, ...] = ("best", "mean")

#: Metrics where a smaller value is better. Every other metric is "higher is better":
#: drawdowns (``max_drawdown_usd``, ``max_drawdown_pct``) are negative numbers, so their best is
#: their highest (closest to zero), as for PnL and Sharpe.
LOWER_IS_BETTER = frozenset({"total_fees_quote", "loss_signals"})

#: Metrics of the top-N table, after the chosen one (those the rows have, in this order).
MAIN_METRICS = (
    "net_pnl_quote",
    "net_pnl",
    "sharpe_ratio",
    "max_drawdown_pct",
    "profit_factor",
    "accuracy",
    "total_positions",
    "total_volume",
)

# A heatmap's dropdown repeats the grid once per metric: above this many cells in all, only
# the chosen metric is embedded (the page stays small).
_DROPDOWN_CELLS_MAX = 250_000


def higher_is_better(metric: str) -> bool:
    """True unless ``metric`` is in :data:`LOWER_IS_BETTER`."""
    return metric not in LOWER_IS_BETTER


def _number(value: Any) -> float | None:
    """A finite float, or None (text, booleans, dicts, None, NaN are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _scalar(value: Any) -> Any:
    """A parameter value as a cell: numbers and text as they are, anything else as JSON."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _order(value: Any) -> tuple[int, float, str]:
    """Sort key: numbers by value, then text (numeric text by its number), then None."""
    if value is None:
        return (3, 0.0, "")
    number = _number(value)
    if number is not None:
        return (0, number, "")
    text = str(value)
    try:
        return (1, float(text), text)
    except ValueError:
        return (2, 0.0, text)


def _metrics(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row.get("metrics") or {}


def _params(row: Mapping[str, Any]) -> Mapping[str, Any]:
    return row.get("params") or {}


def numeric_metrics(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Metric names with a number in at least one row, in the order the rows name them.

    ``close_types`` (a dict of counts) and other non-numbers are left out.
    """
    seen: dict[str, bool] = {}
    for row in rows:
        for name, value in _metrics(row).items():
            if _number(value) is not None:
                seen[name] = True
            else:
                seen.setdefault(name, False)
    return [name for name, numeric in seen.items() if numeric]


def param_values(rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    """The distinct values of parameter ``name`` over ``rows``, sorted (numbers by value).

    Values that are lists or objects are compared as their canonical JSON text.
    """
    values = {_scalar(_params(row).get(name)) for row in rows}
    return sorted(values, key=_order)


def varied_params(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> list[str]:
    """The names of ``names`` (in that order) that take at least two values over ``rows``."""
    return [name for name in names if len(param_values(rows, name)) > 1]


def check_choices(
    *,
    params: Sequence[str],
    metrics: Sequence[str],
    metric: str,
    x: str | None,
    y: str | None,
    aggregate: str = "best",
    varied: Sequence[str] | None = None,
) -> tuple[str | None, str | None]:
    """Check the report's choices against what the sweep has; the heatmap's axes to use.

    Args:
        params: the sweep's parameters.
        metrics: the numeric metrics of its finished items.
        metric: the metric to show.
        x: the heatmap's x parameter (default: the first of ``params``).
        y: its y parameter (default: the first other one; None when there is none).
        aggregate: ``best`` or ``mean``.
        varied: the parameters that vary, for the default axes (default: ``params``); a
            parameter that does not vary is an axis only when asked for.

    Returns:
        ``(x, y)``: None for an axis the sweep has no parameter for.

    Raises:
        ConfigError: an unknown metric or parameter (with a did-you-mean), a parameter given
            as the metric, the same parameter on both axes, an unknown aggregate.
    """
    if metric not in metrics:
        if metric in params:
            raise ConfigError(
                f"--metric {metric!r} is a parameter of this sweep; pick a metric: "
                f"{', '.join(metrics)}"
            )
        raise ConfigError(
            f"the sweep has no numeric metric {metric!r}{did_you_mean(metric, metrics)}; "
            f"metrics: {', '.join(metrics) or '(none)'}"
        )
    for flag, value in (("--x", x), ("--y", y)):
        if value is not None and value not in params:
            hint = " (that is a metric; axes are parameters)" if value in metrics else ""
            raise ConfigError(
                f"{flag} {value!r}: the sweep has no parameter of that name"
                f"{hint or did_you_mean(value, params)}; parameters: "
                f"{', '.join(params) or '(none)'}"
            )
    if x is not None and x == y:
        raise ConfigError(f"--x and --y are both {x!r}: pick two different parameters")
    if aggregate not in AGGREGATES:
        raise ConfigError(
            f"--aggregate {aggregate!r}: expected one of {', '.join(AGGREGATES)}"
            f"{did_you_mean(aggregate, AGGREGATES)}"
        )
    free = [name for name in (params if varied is None else varied) if name not in (x, y)]
    if x is None and free:
        x = free.pop(0)
    if y is None and free:
        y = free.pop(0)
    return x, y


def rank(
    rows: Sequence[Mapping[str, Any]], metric: str, *, top: int | None = None
) -> list[Mapping[str, Any]]:
    """Rows best first by ``metric`` (see :func:`higher_is_better`), the first ``top`` of them.

    The order of :meth:`hbbacktest.store.Store.results` with ``sort=metric``: rows without a
    number come last, ties keep the expansion order (``index``).
    """
    sign = -1.0 if higher_is_better(metric) else 1.0

    def key(row: Mapping[str, Any]) -> tuple[int, float, int]:
        value = _number(_metrics(row).get(metric))
        if value is None:
            return (1, 0.0, int(row.get("index", 0)))
        return (0, sign * value, int(row.get("index", 0)))

    ranked = sorted(rows, key=key)
    return ranked if top is None else ranked[:top]


@dataclass(frozen=True)
class HeatmapGrid:
    """A metric pivoted over two parameters.

    Attributes:
        x: the x parameter; ``x_values`` its sorted values (columns).
        y: the y parameter; ``y_values`` its sorted values (rows).
        metric: the metric.
        z: ``z[i][j]`` is the aggregate for ``y_values[i]`` and ``x_values[j]``; None where no
            config there has a number.
        counts: configs in each cell (with or without a number).
        aggregate: how cells holding several configs were reduced: ``best`` or ``mean``.
        others: the other parameters that vary within cells (aggregated over); empty when
            each cell is one config.
    """

    x: str
    y: str
    metric: str
    x_values: list[Any]
    y_values: list[Any]
    z: list[list[float | None]]
    counts: list[list[int]]
    aggregate: Aggregate
    others: list[str]


def heatmap_grid(
    rows: Sequence[Mapping[str, Any]],
    *,
    x: str,
    y: str,
    metric: str,
    aggregate: Aggregate = "best",
    params: Sequence[str] = (),
) -> HeatmapGrid:
    """Pivot ``metric`` over parameters ``x`` and ``y``.

    Args:
        rows: finished items (``params`` and ``metrics`` each).
        x: the columns' parameter.
        y: the rows' parameter.
        metric: the value of each cell.
        aggregate: ``best`` (max, or min for :data:`LOWER_IS_BETTER` metrics) or ``mean`` of
            the configs in a cell; rows without a number for the metric are skipped.
        params: every varied parameter, to name the ones aggregated over (``others``).

    Example:
        >>> grid = heatmap_grid(rows, x="take_profit", y="stop_loss", metric="net_pnl_quote")
        >>> grid.z[0][0]  # the best net_pnl_quote at the smallest stop_loss and take_profit
    """
    x_values = param_values(rows, x)
    y_values = param_values(rows, y)
    column = {value: j for j, value in enumerate(x_values)}
    line = {value: i for i, value in enumerate(y_values)}
    cells: list[list[list[float]]] = [[[] for _ in x_values] for _ in y_values]
    counts = [[0 for _ in x_values] for _ in y_values]
    for row in rows:
        params_of = _params(row)
        i = line[_scalar(params_of.get(y))]
        j = column[_scalar(params_of.get(x))]
        counts[i][j] += 1
        value = _number(_metrics(row).get(metric))
        if value is not None:
            cells[i][j].append(value)
    pick = max if higher_is_better(metric) else min
    z: list[list[float | None]] = []
    for cell_row in cells:
        out: list[float | None] = []
        for values in cell_row:
            if not values:
                out.append(None)
            elif aggregate == "mean":
                out.append(math.fsum(values) / len(values))
            else:
                out.append(pick(values))
        z.append(out)
    others = [name for name in varied_params(rows, params) if name not in (x, y)]
    return HeatmapGrid(x, y, metric, x_values, y_values, z, counts, aggregate, others)


def parcoords_dimensions(
    rows: Sequence[Mapping[str, Any]], *, params: Sequence[str], metric: str
) -> list[dict[str, Any]]:
    """Plotly ``parcoords`` dimensions: one per parameter, then the metric (the last axis).

    Rows without a number for the metric are left out. A parameter with only numbers is a
    numeric axis; any other is categorical: its values become codes 0, 1, … in sorted order,
    with ``tickvals``/``ticktext`` naming them.

    Returns:
        ``[{"label", "values", ("tickvals", "ticktext")}, …]``.
    """
    kept = [row for row in rows if _number(_metrics(row).get(metric)) is not None]
    dimensions: list[dict[str, Any]] = []
    for name in params:
        values = [_scalar(_params(row).get(name)) for row in kept]
        if all(_number(value) is not None for value in values):
            dimensions.append({"label": name, "values": [float(v) for v in values]})
            continue
        levels = sorted(set(values), key=_order)
        code = {value: float(k) for k, value in enumerate(levels)}
        dimensions.append(
            {
                "label": name,
                "values": [code[value] for value in values],
                "tickvals": [float(k) for k in range(len(levels))],
                "ticktext": ["" if level is None else str(level) for level in levels],
            }
        )
    dimensions.append({"label": metric, "values": [float(_metrics(row)[metric]) for row in kept]})
    return dimensions


# -- the page --------------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    number = _number(value)
    if number is not None:
        return f"{number:,.6g}" if not isinstance(value, int) else f"{value:,}"
    return "–" if value is None else str(value)


def _label(value: Any) -> str:
    return "(none)" if value is None else str(value)


def _direction(metric: str) -> str:
    return "highest" if higher_is_better(metric) else "lowest"


def _heatmap_style(grid: HeatmapGrid) -> dict[str, Any]:
    """Colours: red → green towards better; centred on 0 when values have both signs."""
    from plotly.colors import get_colorscale

    values = [v for line in grid.z for v in line if v is not None]
    straddles = bool(values) and min(values) < 0 < max(values)
    return {
        # As explicit colours: plotly.js knows no "RdYlGn" by name (a dropdown's restyle
        # would fall back to its default scale).
        "colorscale": get_colorscale("RdYlGn"),
        "reversescale": not higher_is_better(grid.metric),
        "zmid": 0.0 if straddles else None,
        "colorbar": {"title": {"text": grid.metric}},
        "hovertemplate": (
            f"{escape(grid.x)}=%{{x}}<br>{escape(grid.y)}=%{{y}}<br>"
            f"{escape(grid.metric)}=%{{z:.6g}}<br>%{{customdata}} config(s)<extra></extra>"
        ),
    }


def _heatmap_figure(
    rows: Sequence[Mapping[str, Any]],
    grid: HeatmapGrid,
    *,
    metrics: Sequence[str],
    params: Sequence[str],
) -> Any:
    import plotly.graph_objects as go

    style = _heatmap_style(grid)
    figure = go.Figure(
        go.Heatmap(
            x=[_label(v) for v in grid.x_values],
            y=[_label(v) for v in grid.y_values],
            z=grid.z,
            customdata=grid.counts,
            **style,
        )
    )
    figure.update_layout(
        xaxis={"title": {"text": grid.x}, "type": "category"},
        yaxis={"title": {"text": grid.y}, "type": "category"},
        margin={"l": 80, "r": 20, "t": 50, "b": 60},
    )
    cells = len(grid.x_values) * len(grid.y_values)
    if len(metrics) > 1 and cells * len(metrics) <= _DROPDOWN_CELLS_MAX:
        buttons = []
        for name in metrics:
            other = (
                grid
                if name == grid.metric
                else heatmap_grid(
                    rows,
                    x=grid.x,
                    y=grid.y,
                    metric=name,
                    aggregate=grid.aggregate,
                    params=params,
                )
            )
            restyle = _heatmap_style(other)
            buttons.append(
                {
                    "label": name,
                    "method": "restyle",
                    "args": [
                        {
                            "z": [other.z],
                            "colorscale": [restyle["colorscale"]],
                            "reversescale": [restyle["reversescale"]],
                            "zmid": [restyle["zmid"]],
                            "colorbar.title.text": name,
                            "hovertemplate": [restyle["hovertemplate"]],
                        }
                    ],
                }
            )
        figure.update_layout(
            updatemenus=[
                {
                    "buttons": buttons,
                    "active": list(metrics).index(grid.metric),
                    "direction": "down",
                    "x": 0.0,
                    "xanchor": "left",
                    "y": 1.0,
                    "yanchor": "bottom",
                    "pad": {"b": 6},
                    "showactive": True,
                }
            ],
            margin={"l": 80, "r": 20, "t": 60, "b": 60},
        )
    return figure


def _line_figure(rows: Sequence[Mapping[str, Any]], x: str, metric: str, aggregate: str) -> Any:
    """One parameter: the metric over its values (best or mean per value)."""
    import plotly.graph_objects as go

    values = param_values(rows, x)
    pick = max if higher_is_better(metric) else min
    ys: list[float | None] = []
    for value in values:
        found = [
            number
            for row in rows
            if _scalar(_params(row).get(x)) == value
            and (number := _number(_metrics(row).get(metric))) is not None
        ]
        if not found:
            ys.append(None)
        else:
            ys.append(math.fsum(found) / len(found) if aggregate == "mean" else pick(found))
    figure = go.Figure(go.Scatter(x=[_label(v) for v in values], y=ys, mode="lines+markers"))
    figure.update_layout(
        xaxis={"title": {"text": x}, "type": "category"},
        yaxis={"title": {"text": metric}},
        margin={"l": 80, "r": 20, "t": 30, "b": 60},
    )
    return figure


def _parcoords_figure(rows: Sequence[Mapping[str, Any]], params: Sequence[str], metric: str) -> Any:
    import plotly.graph_objects as go

    dimensions = parcoords_dimensions(rows, params=params, metric=metric)
    colour = dimensions[-1]["values"]
    figure = go.Figure(
        go.Parcoords(
            line={
                "color": colour,
                "colorscale": "RdYlGn",
                "reversescale": not higher_is_better(metric),
                "showscale": True,
                "colorbar": {"title": {"text": metric}},
            },
            dimensions=dimensions,
        )
    )
    figure.update_layout(margin={"l": 80, "r": 80, "t": 60, "b": 30})
    return figure


def _summary_tiles(
    rows: Sequence[Mapping[str, Any]],
    metric: str,
    summary: Mapping[str, Any],
    names: Sequence[str],
) -> str:
    tiles: list[tuple[str, str, str | None]] = []
    for key in ("items", "done", "failed", "pending"):
        if key in summary:
            tone = "bad" if key == "failed" and summary[key] else None
            tiles.append((key, _fmt(summary[key]), tone))
    best = rank(rows, metric, top=1)
    if best and _number(_metrics(best[0]).get(metric)) is not None:
        value = _number(_metrics(best[0])[metric])
        tone = None if value is None or value == 0 else ("good" if value > 0 else "bad")
        tiles.append((f"best {metric}", _fmt(value), tone if metric in MAIN_METRICS else None))
        tiles.append(("best config (index)", str(best[0].get("index")), None))
        values = _params(best[0])
        shown = ", ".join(f"{k} = {_label(_scalar(values[k]))}" for k in names if k in values)
        if shown:
            return (
                metric_tiles(tiles, title="Summary")
                + f'<p class="sub" id="best-params">Best config: {escape(shown)}</p>'
            )
    return metric_tiles(tiles, title="Summary")


def sweep_report(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    params: Sequence[str],
    metric: str,
    x: str | None,
    y: str | None,
    top: int,
    links: Mapping[int, str] | None,
    summary: Mapping[str, Any],
    aggregate: Aggregate = "best",
    notes: Sequence[str] = (),
    plotly_src: str | None = None,
) -> str:
    """The sweep's report page (HTML, self-contained unless ``plotly_src`` is given).

    Args:
        name: the sweep's name (the page's title).
        rows: its finished items: ``params``, ``metrics``, ``index``, ``key`` each.
        params: the parameters to show, in spec order; those that vary over ``rows`` become
            the heatmap's default axes (the first two) and parallel-coordinate axes.
        metric: the metric to show (numeric; see :data:`LOWER_IS_BETTER` for its direction).
        x: the heatmap's x parameter (default: the first varied one).
        y: its y parameter (default: the next varied one).
        top: rows in the top-N table (at least 1).
        links: item index → address of that config's own report (relative to the page), for
            the table's links; None: no links.
        summary: counts shown as tiles: ``items``, ``done``, ``failed``, ``pending`` (any of
            them).
        aggregate: what a heatmap cell shows when other parameters vary too: the ``best``
            config's value or the ``mean``.
        notes: lines shown in a notes box under the title (already plain text).
        plotly_src: load plotly.js from this URL instead of embedding it.

    Raises:
        ConfigError: see :func:`check_choices`; ``top`` < 1.
    """
    if top < 1:
        raise ConfigError(f"--top {top}: show at least 1 row")
    metrics = numeric_metrics(rows)
    names = list(dict.fromkeys(params))
    varied = varied_params(rows, names)
    fixed = [p for p in names if p not in varied]
    x, y = check_choices(
        params=names, metrics=metrics, metric=metric, x=x, y=y, aggregate=aggregate, varied=varied
    )
    sections: list[str] = []
    page_notes = list(notes)
    missing = sum(1 for row in rows if _number(_metrics(row).get(metric)) is None)
    if missing:
        page_notes.append(
            f"{missing} finished config(s) have no number for {metric}: left out of the charts"
        )
    sections.append(_summary_tiles(rows, metric, summary, names))
    if fixed:
        constants = ", ".join(f"{p} = {_label(param_values(rows, p)[0])}" for p in fixed)
        sections.append(f'<p class="sub">Same in every config: {escape(constants)}</p>')

    if x is not None and y is not None:
        grid = heatmap_grid(rows, x=x, y=y, metric=metric, aggregate=aggregate, params=varied)
        if grid.others:
            how = (
                f"the best ({_direction(metric)}) value"
                if aggregate == "best"
                else "the mean value"
            )
            caption = (
                f"{', '.join(grid.others)} {'varies' if len(grid.others) == 1 else 'vary'} too: "
                f"each cell shows {how} over the configs "
                "with its two values (hover for how many)."
            )
        else:
            caption = "Each cell is one config."
        cells = len(grid.x_values) * len(grid.y_values)
        if len(metrics) > 1 and cells * len(metrics) > _DROPDOWN_CELLS_MAX:
            caption += " (The metric dropdown is left out: the grid is too large.)"
        elif len(metrics) > 1:
            caption += " The dropdown shows another metric."
        # The dropdown lists the main metrics first; the chart is tall enough to show a
        # dozen choices (Plotly scrolls the rest inside the chart).
        choices = [m for m in MAIN_METRICS if m in metrics]
        choices += [m for m in metrics if m not in choices]
        figure = _heatmap_figure(rows, grid, metrics=choices, params=varied)
        floor = 480 if len(metrics) > 1 else 360
        height = min(900, max(floor, 60 + 28 * len(grid.y_values)))
        sections.append(
            figure_block(figure, "heatmap", height_px=height, title=f"Heatmap over {x} and {y}")
        )
        sections.append(f'<p class="sub" id="heatmap-caption">{escape(caption)}</p>')
    elif x is not None:
        sections.append(
            figure_block(
                _line_figure(rows, x, metric, aggregate),
                "heatmap",
                height_px=420,
                title=f"{metric} by {x}",
            )
        )
    if varied:
        sections.append(
            figure_block(
                _parcoords_figure(rows, varied, metric),
                "parcoords",
                height_px=480,
                title="Parallel coordinates",
            )
        )
        sections.append(
            '<p class="sub">One line per config; drag along an axis to keep a range.</p>'
        )

    best = rank(rows, metric, top=top)
    shown_metrics = [
        m for m in dict.fromkeys([metric, *MAIN_METRICS]) if m in metrics or m == metric
    ]
    columns = ["rank", "index", *names, *shown_metrics]
    body = [
        [
            position,
            row.get("index"),
            *(_scalar(_params(row).get(p)) for p in names),
            *(_number(_metrics(row).get(m)) for m in shown_metrics),
        ]
        for position, row in enumerate(best, start=1)
    ]
    hrefs = [(links or {}).get(int(row.get("index", -1))) for row in best]
    linked = any(hrefs)
    sections.append(
        table_block(
            "top",
            columns,
            body,
            title=f"Top {len(best)} by {metric} ({_direction(metric)} first)",
            text_columns=[
                p for k, p in enumerate(names) if any(isinstance(r[2 + k], str) for r in body)
            ],
            links={1: hrefs} if linked else None,
        )
    )
    if linked:
        sections.append(
            '<p class="sub">An index opens that config\'s own report (re-run from its request).</p>'
        )
    if page_notes:
        items = "".join(f"<li>{escape(note)}</li>" for note in page_notes)
        sections.insert(0, f'<ul class="notes">{items}</ul>')
    done = summary.get("done", len(rows))
    subtitle = f"sweep report · {metric} · {_fmt(done)} config(s) done"
    return page(f"Sweep {name}", sections, subtitle=subtitle, plotly_src=plotly_src)
