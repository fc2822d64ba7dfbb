"""The web UI: server-rendered pages over the API and a little vanilla JS (no build, no CDN).

Every page sits behind the API's HTTP Basic auth (the browser shows its prompt) and works
offline: plotly.js and the UI's script are served by the app itself, cached by the browser.
Pages read the store in threads and never block the event loop; the browser talks to the
API's own JSON endpoints (``/controllers/…``, ``POST /backtesting/tasks``).

Pages and their stable element ids (the browser tests in ``tests/browser/`` find them so):

* ``GET /``, the dashboard: tables ``#results`` (stored runs, newest first; the ``run`` cell
  links to the report), ``#tasks`` (newest first; pending and running ones are polled, and
  the page reloads when one ends) and ``#sweeps`` (each linking to its page); links
  ``#new-link`` (to the form). Every page starts with the navigation bar ``#ui-nav``.
* ``GET /ui/new``, the new backtest form ``#new-backtest``: controller select ``#controller``
  (option values ``type/name``; ``?controller=type/name`` preselects one), the fields
  generated from the controller's JSON schema in ``#config-fields`` (one ``.field`` per
  config field, its input ``#cfg-<path>`` with ``name="<dotted path>"``, the nested fields'
  paths joined by ``__`` in ids: ``#cfg-triple_barrier_config__take_profit``; a nullable
  nested object's switch is ``#cfg-<path>-set``), the run's fields ``#start``, ``#end``
  (dates, UTC), ``#resolution``, ``#trade-cost``, ``#fill-model``, the button ``#submit``,
  errors ``#form-errors`` (each field's own under it, ``.field-error``), progress
  ``#task-status`` (its ``data-status`` is the task's status). The form's ``data-ready``
  is the ``type/name`` whose fields are built (wait for it after changing ``#controller``).
* ``GET /ui/tasks/{task_id}``: ``#task-status`` (``data-status``, ``data-task-id``), polled
  until the task ends, then the result's page; ``#cancel`` cancels a pending or running one.
  A completed task redirects (303) to its result at once.
* ``GET /ui/results/{run_id}``: the run's report (``render_run_report``: its chart ids are
  the report's own), with ``#ui-nav`` on top.
* ``GET /ui/sweeps/{name}``: the sweep's report (``sweep_report``): leaderboard ``#top``,
  heatmap ``#heatmap``, parallel coordinates ``#parcoords``; above them ``#sweep-status``
  (``data-status``; the page reloads every 5 s while the sweep runs) and the form
  ``#sweep-options`` (``#sweep-metric``, ``#sweep-x``, ``#sweep-y``, ``#sweep-top``: the
  query's ``?metric=&x=&y=&top=``). A metric or axis the sweep lacks: 422, ``#sweep-error``.
* Unknown run, task or sweep: a 404 page holding ``#not-found``.

JSON for the pages' script: ``GET /ui/tasks/{task_id}/status`` (a task without its result,
which ``GET /backtesting/tasks/{id}`` would send in full, with ``elapsed_s``). Static files:
``GET /ui/static/app.js``, ``GET /ui/static/plotly.min.js`` and ``GET /favicon.ico`` (ETag, a
week's ``Cache-Control``, gzip for clients that accept it). A result page is revalidated by
its ETag and sent gzip-compressed.
"""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import hashlib
import importlib.resources
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from hbbacktest import __version__
from hbbacktest.api.deps import AppState, StateDep
from hbbacktest.core.errors import ConfigError, NotFoundError
from hbbacktest.core.time import format_time
from hbbacktest.report.html import escape, page, plotly_js, table_block
from hbbacktest.report.sweep import numeric_metrics, sweep_report
from hbbacktest.service import configs
from hbbacktest.service.defaults import DEFAULT_CONFIG, DEFAULT_END, DEFAULT_START
from hbbacktest.store import RunRecord, TaskRecord
from hbbacktest.sweep.report import param_order, plain_row
from hbbacktest.sweep.results import DEFAULT_METRIC

router = APIRouter(tags=["ui"], include_in_schema=False)

PLOTLY_PATH = "/ui/static/plotly.min.js"
APP_JS_PATH = "/ui/static/app.js"
STATIC_MAX_AGE_S = 7 * 86_400
RESULTS_SHOWN = 50
TASKS_SHOWN = 100
SWEEP_TOP = 20
ACTIVE = ("pending", "running")
#: What the form starts with: the offline demo connector, over the README's week.
FORM_DEFAULTS: dict[str, Any] = {
    "connector_name": DEFAULT_CONFIG["connector_name"],
    "trading_pair": DEFAULT_CONFIG["trading_pair"],
}
DEFAULT_CONTROLLER = f"{DEFAULT_CONFIG['controller_type']}/{DEFAULT_CONFIG['controller_name']}"
_METRIC_COLUMNS = (
    "net_pnl_quote",
    "net_pnl",
    "total_positions",
    "accuracy",
    "sharpe_ratio",
    "max_drawdown_pct",
)

# A candle on a dark square.
_ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" '
    'rx="3" fill="#24292f"/><path d="M8 2v12" stroke="#3fb950" stroke-width="1.5"/>'
    '<rect x="5.5" y="5" width="5" height="6" fill="#3fb950"/></svg>'
)

_UI_CSS = """
#ui-nav { display: flex; gap: 18px; align-items: baseline; margin: -16px -24px 16px;
          padding: 10px 24px; background: #24292f; font: 14px system-ui, sans-serif; }
#ui-nav a { color: #fff; text-decoration: none; } #ui-nav a:hover { text-decoration: underline; }
#ui-nav .brand { font-weight: 700; } #ui-nav .spacer { flex: 1; }
.hint { color: var(--muted, #656d76); font-size: 12px; }
.empty { color: var(--muted, #656d76); margin: 6px 0; }
.status-pending, .status-running { color: #9a6700; font-weight: 600; }
.status-completed { color: #1a7f37; font-weight: 600; }
.status-failed, .status-cancelled, .status-interrupted { color: #cf222e; font-weight: 600; }
.button, button { font: inherit; padding: 6px 14px; border-radius: 6px; cursor: pointer;
                  text-decoration: none; display: inline-block;
                  border: 1px solid #1f883d; background: #1f883d; color: #fff; }
.button.secondary, button.secondary { background: #f6f8fa; color: #1f2328; border-color: #d0d7de; }
button:disabled { opacity: .55; cursor: default; }
"""

_FORM_CSS = """
#new-backtest { max-width: 980px; }
#new-backtest .field { display: grid; grid-template-columns: 240px minmax(180px, 420px);
                       gap: 2px 14px; align-items: start; margin: 6px 0; }
#new-backtest .field > label { padding-top: 5px; font-weight: 500; }
#new-backtest .field .hint, #new-backtest .field .field-error { grid-column: 2; }
#new-backtest .field-error { color: #cf222e; font-size: 12px; white-space: pre-wrap; }
#new-backtest .field.invalid input, #new-backtest .field.invalid select,
#new-backtest .field.invalid textarea { border-color: #cf222e; }
#new-backtest input:not([type=checkbox]), #new-backtest select, #new-backtest textarea {
  font: inherit; width: 100%; padding: 4px 6px; border: 1px solid #d0d7de; border-radius: 4px; }
#new-backtest textarea { font-family: ui-monospace, monospace; font-size: 12px; min-height: 60px; }
#new-backtest fieldset { border: 1px solid #d0d7de; border-radius: 6px; margin: 10px 0;
                         padding: 4px 12px 8px; }
#new-backtest fieldset:disabled .field { opacity: .5; }
#new-backtest legend { font-weight: 600; padding: 0 4px; }
#new-backtest .required::after { content: " *"; color: #cf222e; }
#form-errors { color: #cf222e; white-space: pre-wrap; font-family: ui-monospace, monospace;
               font-size: 12px; margin: 8px 0; }
#form-errors:empty { display: none; }
.actions { display: flex; gap: 12px; align-items: center; margin: 16px 0; }
"""


# ------------------------------------------------------------------------------------------
# Pages


@router.get("/", response_class=HTMLResponse)
async def dashboard(
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="Results shown.")] = RESULTS_SHOWN,
) -> Response:
    """Recent results with their key metrics, tasks with their status, sweeps with counts."""

    def read() -> tuple[list[RunRecord], int, list[TaskRecord], list[dict[str, Any]]]:
        runs, total = state.store.list_runs(limit=limit)
        tasks = state.store.list_tasks(limit=TASKS_SHOWN, newest_first=True)
        return runs, total, tasks, state.sweeps.overview()

    runs, total, tasks, sweeps = await run_in_threadpool(read)
    sections = [
        '<p><a id="new-link" class="button" href="/ui/new">New backtest</a></p>',
        _results_table(runs, total),
        _tasks_table(tasks),
        _sweeps_table(sweeps),
        _script(),
    ]
    return _html(_page("hbbacktest", sections, subtitle=_subtitle()))


@router.get("/ui/new", response_class=HTMLResponse)
async def new_backtest(
    state: StateDep,
    controller: Annotated[str | None, Query(description="type/name to preselect.")] = None,
) -> Response:
    """The form: a controller, its config (generated from the JSON schema), the window."""

    def catalogue() -> dict[str, list[str]]:
        with state.registry_lock:
            return configs.controller_catalogue(state.registry)

    choices = await run_in_threadpool(catalogue)
    chosen = controller or DEFAULT_CONTROLLER
    sections = [f"<style>{_FORM_CSS}</style>", _form(choices, chosen), _script()]
    return _html(_page("New backtest", sections))


@router.get("/ui/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(task_id: str, state: StateDep) -> Response:
    """A task's status, polled until it ends; a completed task goes to its result."""
    task = await run_in_threadpool(state.store.get_task, task_id)
    if task is None:
        return _not_found(f"No task {task_id!r}: it never existed, or was deleted.")
    if task.status == "completed" and task.run_id:
        return RedirectResponse(_run_href(task.run_id), status_code=303)
    config = task.body.get("config")
    rows = [
        ("task", task.id),
        ("controller", _controller_label(config)),
        ("config id", config.get("id") if isinstance(config, Mapping) else None),
        ("window", _window(task.body.get("start_time"), task.body.get("end_time"))),
        ("created", _when(task.created_at)),
        ("started", _when(task.started_at)),
        ("completed", _when(task.completed_at)),
    ]
    details = "".join(
        f'<tr><th class="text">{escape(k)}</th><td class="text">{escape(v)}</td></tr>'
        for k, v in rows
    )
    error = f'<pre id="task-error">{escape(task.error)}</pre>' if task.error else ""
    cancel = (
        '<button id="cancel" class="secondary" type="button">Cancel</button>'
        if task.status in ACTIVE
        else ""
    )
    body_json = orjson.dumps(task.body, option=orjson.OPT_INDENT_2).decode()
    sections = [
        f'<p>Status: <span id="task-status" class="status-{escape(task.status)}" '
        f'data-task-id="{escape(task.id)}" data-status="{escape(task.status)}">'
        f"{escape(task.status)}</span> {cancel}</p>",
        error,
        f'<table class="details" style="width:auto"><tbody>{details}</tbody></table>',
        f"<h2>Request</h2><pre>{escape(body_json)}</pre>",
        _script(),
    ]
    return _html(_page(f"Task {task.id}", sections))


@router.get("/ui/tasks/{task_id}/status")
async def task_status(task_id: str, state: StateDep) -> dict[str, Any]:
    """A task's status for the pages' poller: without its config or result (small, fast).

    Raises:
        NotFoundError: no such task (404).
    """
    task = await run_in_threadpool(state.store.get_task, task_id)
    if task is None:
        raise NotFoundError(f"Task {task_id} not found")
    since = task.started_at if task.started_at is not None else task.created_at
    until = task.completed_at if task.completed_at is not None else time.time()
    return {
        "task_id": task.id,
        "status": task.status,
        "run_id": task.run_id,
        "error": task.error,
        "error_kind": task.error_kind,
        "elapsed_s": round(max(until - since, 0.0), 3),
    }


@router.get("/ui/results/{run_id}", response_class=HTMLResponse)
async def result_page(run_id: str, request: Request, state: StateDep) -> Response:
    """The run's report, rendered from its stored native result (a stored run never changes)."""
    etag = f'"run-{_digest(run_id.encode())[:24]}-{__version__}"'
    exists = await run_in_threadpool(state.store.get_run, run_id)
    if exists is None:
        return _not_found(f"No stored result {run_id!r}: it was never stored, or was deleted.")
    cache = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if _matches(request, etag):
        return Response(status_code=304, headers=cache)
    report = await run_in_threadpool(_run_report, state, run_id)
    if report is None:  # deleted between the two reads
        return _not_found(f"No stored result {run_id!r}: it was deleted.")
    if "gzip" not in request.headers.get("accept-encoding", "").lower():
        return _html(report, headers=cache)
    # A report holds its executors' data (megabytes): compressed, in a thread, it is ~8x smaller.
    packed = await run_in_threadpool(gzip.compress, report.encode(), 6)
    headers = {**cache, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}
    return Response(packed, media_type="text/html; charset=utf-8", headers=headers)


@router.get("/ui/sweeps/{name}", response_class=HTMLResponse)
async def sweep_page(
    name: str,
    state: StateDep,
    metric: Annotated[str, Query(description="Rank and map this metric.")] = DEFAULT_METRIC,
    x: Annotated[str | None, Query(description="Heatmap columns: a parameter.")] = None,
    y: Annotated[str | None, Query(description="Heatmap rows: a parameter.")] = None,
    top: Annotated[int, Query(ge=1, le=1000, description="Leaderboard rows.")] = SWEEP_TOP,
) -> Response:
    """A sweep's leaderboard (``#top``) and heatmap (``#heatmap``) of one metric."""

    def build() -> Response:
        try:
            summary = state.sweeps.describe(name)
        except NotFoundError as exc:
            return _not_found(str(exc))
        record = state.sweeps.find(name)
        rows = state.store.results(name) if record is not None else []
        params = param_order(summary.get("spec") or {}, rows)
        plain = [plain_row(row) for row in rows]
        head = _sweep_head(name, summary, plain, params, metric=metric, x=x, y=y, top=top)
        if not plain:
            sections = [head, '<p class="empty">No config has finished yet.</p>', _script()]
            return _html(_page(f"Sweep {name}", sections))
        counts = {key: summary[key] for key in ("items", "done", "failed", "pending")}
        try:
            report = sweep_report(
                name,
                plain,
                params=params,
                metric=metric,
                x=x,
                y=y,
                top=top,
                links=None,
                summary=counts,
                plotly_src=PLOTLY_PATH,
            )
        except ConfigError as exc:  # a metric or axis the sweep does not have
            sections = [head, f'<pre id="sweep-error">{escape(exc)}</pre>']
            return _html(_page(f"Sweep {name}", sections), status_code=422)
        return _html(_with_nav(report, head + _script()))

    return await run_in_threadpool(build)


# ------------------------------------------------------------------------------------------
# Static files


@dataclass(frozen=True)
class _Asset:
    """A static file, kept compressed too, with its ETag."""

    body: bytes
    gz: bytes
    etag: str
    media_type: str


@functools.cache
def _asset(name: str) -> _Asset:
    """A static file's bytes (read once per process: both are constants of the install)."""
    media_type = "text/javascript; charset=utf-8"
    if name == "plotly":
        body = plotly_js().encode()
    elif name == "icon":
        body, media_type = _ICON.encode(), "image/svg+xml"
    else:
        body = importlib.resources.files("hbbacktest.api").joinpath("ui_assets/app.js").read_bytes()
    return _Asset(
        body=body,
        gz=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{_digest(body)[:32]}"',
        media_type=media_type,
    )


async def _serve(request: Request, name: str) -> Response:
    asset = await run_in_threadpool(_asset, name)
    headers = {
        "ETag": asset.etag,
        "Cache-Control": f"public, max-age={STATIC_MAX_AGE_S}",
        "Vary": "Accept-Encoding",
    }
    if _matches(request, asset.etag):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(asset.gz, media_type=asset.media_type, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


@router.get(PLOTLY_PATH)
async def plotly_script(request: Request) -> Response:
    """plotly.js, as shipped with the ``plotly`` package: one copy for every page."""
    return await _serve(request, "plotly")


@router.get(APP_JS_PATH)
async def app_script(request: Request) -> Response:
    """The UI's script: the form generator and the pollers."""
    return await _serve(request, "app")


@router.get("/favicon.ico")
async def favicon(request: Request) -> Response:
    """The UI's icon (browsers ask for it on every first visit)."""
    return await _serve(request, "icon")


# ------------------------------------------------------------------------------------------
# Helpers


def _html(
    text: str, *, status_code: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return HTMLResponse(text, status_code=status_code, headers=dict(headers or {}))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match", "")
    return any(tag.strip().removeprefix("W/") == etag for tag in given.split(",")) or given == "*"


def _script() -> str:
    version = _asset("app").etag.strip('"')[:12]
    return f'<script src="{APP_JS_PATH}?v={version}" defer></script>'


def _page(title: str, sections: Iterable[str], *, subtitle: str | None = None) -> str:
    """A UI page without charts, the navigation bar on top."""
    return _with_nav(page(title, sections, subtitle=subtitle, with_plotly=False))


def _nav() -> str:
    return (
        f"<style>{_UI_CSS}</style>"
        '<nav id="ui-nav"><a class="brand" href="/">hbbacktest</a>'
        '<a href="/">Dashboard</a><a href="/ui/new">New backtest</a>'
        '<span class="spacer"></span><a href="/docs">API docs</a></nav>'
    )


def _with_nav(document: str, extra: str = "") -> str:
    """A whole report page with the UI's navigation bar (and ``extra``) on top."""
    head, found, rest = document.partition("<body>")
    return f"{head}<body>{_nav()}{extra}{rest}" if found else document


def _subtitle() -> str:
    return f"version {__version__}: runs, tasks and sweeps stored in this server's database"


def _not_found(message: str) -> Response:
    sections = [
        f'<p id="not-found">{escape(message)}</p><p><a href="/">Back to the dashboard</a></p>',
    ]
    return _html(_page("Not found", sections), status_code=404)


def _run_href(run_id: str) -> str:
    return f"/ui/results/{quote(run_id, safe='')}"


def _when(ts: float | None) -> str | None:
    return None if ts is None else format_time(ts)


def _window(start: Any, end: Any) -> str | None:
    if not isinstance(start, int | float) or not isinstance(end, int | float):
        return None
    fmt = "%Y-%m-%d %H:%M"
    first = dt.datetime.fromtimestamp(start, dt.UTC).strftime(fmt)
    last = dt.datetime.fromtimestamp(end, dt.UTC).strftime(fmt)
    return f"{first} → {last}"


def _controller_label(config: Any) -> str | None:
    if isinstance(config, str):
        return f"saved config {config}"
    if isinstance(config, Mapping):
        return f"{config.get('controller_type', '?')}/{config.get('controller_name', '?')}"
    return None


def _table(
    table_id: str,
    title: str,
    columns: Sequence[str],
    rows: list[list[Any]],
    *,
    text: Iterable[str],
    links: Mapping[int, Sequence[str | None]] | None = None,
    empty: str,
) -> str:
    block = table_block(table_id, columns, rows, title=title, text_columns=text, links=links)
    return block + (f'<p class="empty">{empty}</p>' if not rows else "")


def _results_table(runs: Sequence[RunRecord], total: int) -> str:
    columns = [
        "run",
        "stored",
        "controller",
        "connector",
        "pair",
        "window",
        "resolution",
        "fill model",
        *_METRIC_COLUMNS,
        "seconds",
    ]
    rows = [
        [
            run.id,
            _when(run.created_at),
            f"{run.controller_type}/{run.controller_name}",
            run.connector_name,
            run.trading_pair,
            _window(run.start, run.end),
            run.backtesting_resolution,
            run.fill_model,
            *(_number(run.results.get(key)) for key in _METRIC_COLUMNS),
            round(run.seconds, 3),
        ]
        for run in runs
    ]
    shown = f"Results ({len(rows)} of {total})" if total > len(rows) else "Results"
    return _table(
        "results",
        shown,
        columns,
        rows,
        text=columns[:8],
        links={0: [_run_href(run.id) for run in runs]},
        empty='No stored result yet: <a href="/ui/new">run a backtest</a>.',
    )


def _tasks_table(tasks: Sequence[TaskRecord]) -> str:
    columns = ["task", "status", "controller", "config id", "created", "run", "error"]
    rows = []
    for task in tasks:
        config = task.body.get("config")
        rows.append(
            [
                task.id,
                task.status,
                _controller_label(config),
                config.get("id") if isinstance(config, Mapping) else None,
                _when(task.created_at),
                task.run_id,
                _short(task.error),
            ]
        )
    links: dict[int, list[str | None]] = {
        0: [f"/ui/tasks/{quote(task.id, safe='')}" for task in tasks],
        5: [_run_href(task.run_id) if task.run_id else None for task in tasks],
    }
    return _table(
        "tasks",
        "Tasks",
        columns,
        rows,
        text=columns,
        links=links,
        empty="No task yet (the form queues one; so does POST /backtesting/tasks).",
    )


def _sweeps_table(sweeps: Sequence[Mapping[str, Any]]) -> str:
    columns = ["sweep", "status", "items", "done", "failed", "pending", "updated"]
    rows = [
        [
            s["name"],
            s["status"],
            s["items"],
            s["done"],
            s["failed"],
            s["pending"],
            _when(s["updated_at"]),
        ]
        for s in sweeps
    ]
    links = {0: [f"/ui/sweeps/{quote(str(s['name']), safe='')}" for s in sweeps]}
    return _table(
        "sweeps",
        "Sweeps",
        columns,
        rows,
        text=["sweep", "status", "updated"],
        links=links,
        empty="No sweep yet: <code>hbbacktest sweep run spec.yml</code> or POST /sweeps.",
    )


def _number(value: Any) -> Any:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _short(text: str | None, limit: int = 120) -> str | None:
    if text is None:
        return None
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _form(choices: Mapping[str, Sequence[str]], chosen: str) -> str:
    groups = []
    for kind, names in choices.items():
        if not names:
            continue
        options = "".join(
            f'<option value="{escape(f"{kind}/{name}")}"'
            f"{' selected' if f'{kind}/{name}' == chosen else ''}>{escape(name)}</option>"
            for name in names
        )
        groups.append(f'<optgroup label="{escape(kind)}">{options}</optgroup>')
    defaults = escape(orjson.dumps(FORM_DEFAULTS).decode())
    resolutions = "".join(
        f'<option value="{r}">' for r in ("1s", "1m", "3m", "5m", "15m", "30m", "1h", "4h", "1d")
    )
    return f"""
<form id="new-backtest" data-defaults="{defaults}" autocomplete="off">
  <div class="field"><label for="controller">Controller</label>
    <select id="controller" name="controller">{"".join(groups)}</select>
    <div class="hint">Built-in and user controllers (HBBACKTEST_CONTROLLERS_DIR); the fields
    below come from the controller's config schema.</div></div>
  <h2>Config</h2>
  <div id="config-fields"><p class="empty">Loading the controller's config…</p></div>
  <h2>Run</h2>
  <div class="field"><label for="start">Start (UTC)</label>
    <input id="start" name="start" type="date" value="{DEFAULT_START}" required></div>
  <div class="field"><label for="end">End (UTC: the bar opening at this time is the last)</label>
    <input id="end" name="end" type="date" value="{DEFAULT_END}" required>
    <div class="hint">The demo connector has synthetic candles for 2024-01-01 … 2024-03-31,
    offline.</div></div>
  <div class="field"><label for="resolution">Resolution</label>
    <input id="resolution" name="backtesting_resolution" list="resolutions" value="1m" required>
    <datalist id="resolutions">{resolutions}</datalist></div>
  <div class="field"><label for="trade-cost">Trade cost</label>
    <input id="trade-cost" name="trade_cost" type="number" step="any" min="0" value="0.0006"
      required><div class="hint">Fee per side, fraction of notional (0.0006 = 0.06 %).</div></div>
  <div class="field"><label for="fill-model">Fill model</label>
    <select id="fill-model" name="fill_model"><option value="hummingbot" selected>hummingbot
    </option><option value="touch">touch</option></select></div>
  <div id="form-errors" role="alert"></div>
  <div class="actions"><button id="submit" type="submit">Run backtest</button>
    <span id="task-status" data-status="" aria-live="polite"></span></div>
</form>"""


def _run_report(state: AppState, run_id: str) -> str | None:
    """The report page of a stored run (None when it is gone); runs in a thread."""
    body = state.store.run_body(run_id, "native")
    if body is None:
        return None
    # Imported here: the report pulls in Plotly, which pages without charts never need.
    from hbbacktest.service.report import render_run_report

    result = orjson.loads(gzip.decompress(body))
    # The UI's pages share the one served, cached plotly.js (4.8 MB) instead of embedding it.
    document, _notes = render_run_report(
        result, settings=state.settings, offline=True, plotly_src=PLOTLY_PATH
    )
    return _with_nav(document)


def _sweep_head(
    name: str,
    summary: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    params: Sequence[str],
    *,
    metric: str,
    x: str | None,
    y: str | None,
    top: int,
) -> str:
    """The sweep's status line and a form choosing the metric, the axes and the rows shown."""
    status = str(summary.get("status"))
    running = status == "running"
    reload = ' data-reload-s="5"' if running else ""
    counts = ", ".join(f"{summary.get(key, 0)} {key}" for key in ("done", "failed", "pending"))
    line = (
        f'<p id="sweep-status" class="status-line" data-status="{escape(status)}"{reload}>'
        f'Sweep <b>{escape(name)}</b>: <span class="status-{escape(status)}">{escape(status)}'
        f"</span> · {escape(counts)} of {escape(summary.get('items', 0))}"
        f"{' · this page reloads every 5 s' if running else ''}</p>"
    )
    metrics = numeric_metrics(rows) or [metric]

    def select(field: str, options: Sequence[str], chosen: str | None, blank: bool) -> str:
        items = ['<option value="">(default)</option>'] if blank else []
        items += [
            f'<option value="{escape(o)}"{" selected" if o == chosen else ""}>{escape(o)}</option>'
            for o in options
        ]
        return f'<label>{field} <select id="sweep-{field}" name="{field}">{"".join(items)}</select></label>'

    form = (
        '<form id="sweep-options" method="get" class="table-tools">'
        f"{select('metric', metrics, metric, False)}{select('x', params, x, True)}"
        f"{select('y', params, y, True)}"
        f'<label>top <input id="sweep-top" name="top" type="number" min="1" max="1000" '
        f'value="{int(top)}" style="min-width:0;width:6em"></label>'
        '<button class="secondary" type="submit">Show</button></form>'
    )
    return line + form
