"""Write a sweep's report: its page, and the own report of each of its top configs.

A sweep stores each item's metrics and summary but not its full result (see
:mod:`hbbacktest.store.sweeps`): the engine is deterministic, so the top configs' full results
are recomputed here by re-running each one's stored request, then rendered with the single-run
report. The files::

    DIR/index.html          the sweep report (hbbacktest.report.sweep.sweep_report)
    DIR/runs/<index>.html   one per top-N config, linked from the index's table

Example:
    >>> from hbbacktest.config.settings import Settings
    >>> from hbbacktest.sweep.results import open_store
    >>> current = Settings.from_env()
    >>> files = write_sweep_report("pmm_grid", "report", store=open_store(current),
    ...                            settings=current)
    >>> files.index
    PosixPath('/…/report/index.html')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hbbacktest.config.settings import Settings
from hbbacktest.controllers.base import FeatureTable
from hbbacktest.core.errors import ConfigError, DataError, HbBacktestError, OutputError
from hbbacktest.report.html import plotly_js
from hbbacktest.report.sweep import (
    Aggregate,
    check_choices,
    higher_is_better,
    numeric_metrics,
    sweep_report,
    varied_params,
)
from hbbacktest.store import ResultRow, Store
from hbbacktest.sweep.results import DEFAULT_METRIC

PLOTLY_FILE = "plotly.min.js"

__all__ = ["SweepReportFiles", "param_order", "write_sweep_report"]


@dataclass(frozen=True)
class SweepReportFiles:
    """What :func:`write_sweep_report` wrote.

    Attributes:
        index: the sweep report (``DIR/index.html``), absolute.
        runs: item index → its own report (``DIR/runs/<index>.html``), in rank order.
        notes: what went wrong without stopping the report (a config whose re-run failed,
            a re-run whose metric differs from the stored one).
    """

    index: Path
    runs: dict[int, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def param_order(spec: Mapping[str, Any], rows: list[ResultRow]) -> list[str]:
    """The sweep's parameter names: the spec's order (grid, zip, ``window``), then the rest.

    The stored spec decides the order because a JSON column need not keep key order
    (PostgreSQL's ``jsonb`` sorts keys).
    """
    names: list[str] = []
    for part in ("grid", "zip"):
        section = spec.get(part)
        if isinstance(section, Mapping):
            names += [str(name) for name in section]
    names.append("window")
    seen = {name for row in rows for name in row.params}
    ordered = [name for name in names if name in seen]
    for row in rows:
        ordered += [name for name in row.params if name not in ordered]
    return ordered


def plain_row(row: ResultRow) -> dict[str, Any]:
    """A stored item as the sweep report's row: index, key, status, params, metrics."""
    return {
        "index": row.index,
        "key": row.key,
        "status": row.status,
        "params": dict(row.params),
        "metrics": dict(row.metrics),
    }


def write_sweep_report(
    name: str,
    out_dir: str | os.PathLike[str],
    *,
    store: Store,
    settings: Settings,
    metric: str = DEFAULT_METRIC,
    x: str | None = None,
    y: str | None = None,
    top: int = 10,
    offline: bool | None = None,
    aggregate: Aggregate = "best",
    notify: Callable[[str], None] | None = None,
) -> SweepReportFiles:
    """Write sweep ``name``'s report to ``out_dir``: ``index.html`` and ``runs/<index>.html``.

    Args:
        name: the sweep in the results store.
        out_dir: the folder (created if missing; files already there are replaced).
        store: the results database.
        settings: data dir and controllers for the re-runs.
        metric: the metric of the heatmap, the colour and the ranking (default
            ``net_pnl_quote``; best is highest, except the metrics in
            :data:`hbbacktest.report.sweep.LOWER_IS_BETTER`).
        x: the heatmap's x parameter (default: the first varied parameter).
        y: its y parameter (default: the second varied one).
        top: how many of the best configs are listed, each re-run for its own report
            (at least 1).
        offline: never fetch candles for the re-runs (default ``settings.offline``).
        aggregate: what a heatmap cell shows when more than two parameters vary: the ``best``
            config's value or the ``mean``.
        notify: called with each note as it happens (a re-run that failed …).

    Returns:
        The files written, and notes.

    Raises:
        ConfigError: no such sweep, an unknown metric or parameter (with a did-you-mean),
            ``top`` < 1.
        DataError: no item of the sweep has finished.
        OutputError: a file cannot be written.
    """
    if top < 1:
        raise ConfigError(f"--top {top}: list (and re-run) at least 1 config")
    rows = store.results(name)  # ConfigError for an unknown sweep (did you mean)
    counts = next((s for s in store.list_sweeps() if s.name == name), None)
    summary: dict[str, Any] = (
        {}
        if counts is None
        else {
            "items": counts.items,
            "done": counts.done,
            "failed": counts.failed,
            "pending": counts.pending,
        }
    )
    if not rows:
        raise DataError(
            f"sweep {name!r} has no finished config yet ({summary.get('failed', 0)} failed, "
            f"{summary.get('pending', 0)} pending): run it with hbbacktest sweep run, see "
            f"failures with hbbacktest sweep results {name} --failed"
        )
    record = store.find_sweep(name)
    params = param_order(record.spec if record is not None else {}, rows)
    plain = [plain_row(row) for row in rows]
    varied = varied_params(plain, params)
    # Checked before any re-run: a typo costs nothing.
    check_choices(
        params=params,
        metrics=numeric_metrics(plain),
        metric=metric,
        x=x,
        y=y,
        aggregate=aggregate,
        varied=varied,
    )
    target = Path(out_dir)
    runs_dir = target / "runs"
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {runs_dir.absolute()}: {exc.strerror or exc}") from exc

    from hbbacktest.service.report import write_report

    notes: list[str] = []

    def note(text: str) -> None:
        notes.append(text)
        if notify is not None:
            notify(text)

    # The store ranks (in SQL, as `sweep results --sort` does); the page's table agrees.
    best = store.results(name, sort=metric, descending=higher_is_better(metric), top=top)
    runs = _write_runs(
        name,
        best,
        runs_dir,
        params=params,
        store=store,
        settings=settings,
        metric=metric,
        offline=offline,
        note=note,
        write_report=write_report,
    )
    links = {index: f"runs/{path.name}" for index, path in runs.items()}
    # One copy of plotly.js for the folder's pages (index and runs), not 4.8 MB in each.
    write_report(plotly_js(), target / PLOTLY_FILE)
    html = sweep_report(
        name,
        plain,
        params=params,
        metric=metric,
        x=x,
        y=y,
        top=top,
        links=links,
        summary=summary,
        aggregate=aggregate,
        notes=notes,
        plotly_src=PLOTLY_FILE,
    )
    index = target / "index.html"
    write_report(html, index)
    return SweepReportFiles(index=index.absolute(), runs=runs, notes=notes)


def _write_runs(
    name: str,
    rows: list[ResultRow],
    folder: Path,
    *,
    params: list[str],
    store: Store,
    settings: Settings,
    metric: str,
    offline: bool | None,
    note: Callable[[str], None],
    write_report: Callable[[str, Path], Any],
) -> dict[int, Path]:
    """Re-run each row's request and write its own report; item index → page."""
    if not rows:
        return {}
    import orjson

    from hbbacktest.metrics.encode import results_json
    from hbbacktest.service.backtest import candle_access, request_from_dict, run_backtest
    from hbbacktest.service.controllers import build_registry
    from hbbacktest.service.report import render_run_report

    registry = build_registry(settings)
    access = candle_access(settings, offline=offline)
    features: MutableMapping[Hashable, FeatureTable] = {}
    pages: dict[int, Path] = {}
    for row in rows:
        try:
            data = store.request(name, row.key)
            if data is None:
                raise DataError(f"its request is not stored (key {row.key[:12]})")
            request = request_from_dict(data, registry=registry)
            result = run_backtest(
                request,
                settings=settings,
                registry=registry,
                access=access,
                feature_cache=features,
            )
            document = orjson.loads(result.to_json())
            varied = ", ".join(f"{k} = {row.params[k]}" for k in params if k in row.params)
            html, _ = render_run_report(
                document,
                settings=settings,
                offline=settings.offline if offline is None else offline,
                title=f"Sweep {name} · config {row.index}" + (f": {varied}" if varied else ""),
                plotly_src=f"../{PLOTLY_FILE}",
            )
        except HbBacktestError as exc:
            note(f"config {row.index}: its own report was not written: {exc}")
            continue
        if result.run_id != row.key:
            note(
                f"config {row.index}: re-running its request gave run id {result.run_id[:12]}, "
                f"not its key {row.key[:12]}"
            )
        now = results_json(result.results).get(metric)
        then = row.metrics.get(metric)
        if now != then:
            note(
                f"config {row.index}: its re-run gives {metric} = {now}, the sweep stored "
                f"{then} (have its candles changed since?)"
            )
        path = folder / f"{row.index}.html"
        write_report(html, path)
        pages[row.index] = path.absolute()
    return pages
