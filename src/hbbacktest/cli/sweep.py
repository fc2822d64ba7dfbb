"""``hbbacktest sweep``: expand a YAML grid, run it (resumable), and read its results."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hbbacktest.cli._common import ControllersDir, DataDir, handle_errors, settings

if TYPE_CHECKING:
    from hbbacktest.config.settings import Settings
    from hbbacktest.store import Store
    from hbbacktest.sweep.runner import SweepProgress, SweepReport

sweep_app = typer.Typer(
    no_args_is_help=True,
    help="Parameter sweeps: expand a spec, run it in parallel (resumable), query the results.",
    rich_markup_mode=None,
)

Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        help="Results database URL (default: $HBBACKTEST_DATABASE_URL, else "
        "<data dir>/hbbacktest.db).",
    ),
]


def _store(current: Settings, database: str | None) -> Store:
    from hbbacktest.sweep.results import open_store

    return open_store(current, database)


def _is_items_file(source: Path) -> bool:
    """True for the JSON that ``sweep expand`` writes (a top-level ``"items"`` key)."""
    if source.suffix.lower() != ".json":
        return False
    try:
        with open(source, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False  # load_spec reports the problem
    return b'"items"' in head


def _load(source: Path, current: Settings) -> tuple[str, list[Any], dict[str, Any]]:
    """Items from a spec (YAML/JSON) or from ``sweep expand``'s JSON, and the spec as data."""
    from hbbacktest.service.controllers import build_registry
    from hbbacktest.sweep.spec import expand, load_items, load_spec

    registry = build_registry(current)
    if _is_items_file(source):
        name, items = load_items(source, registry=registry)
        return name, list(items), {"expanded_from": str(source.absolute())}
    spec = load_spec(source)
    expanded = expand(spec, registry=registry, base_dir=source.parent)
    for note in expanded.notes:
        typer.echo(f"note: {note}", err=True)
    return spec.name, list(expanded.items), spec.model_dump(mode="json")


@sweep_app.command("expand")
@handle_errors
def sweep_expand(
    spec: Annotated[Path, typer.Argument(help="Sweep spec (YAML).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Write the configs here (JSON).")],
    controllers_dir: ControllersDir = None,
) -> None:
    """Expand a spec into its configs (every one validated) and write them as JSON."""
    import orjson

    from hbbacktest.service.controllers import build_registry
    from hbbacktest.sweep.spec import expand, items_to_json, load_spec

    current = settings(None, controllers_dir)
    loaded = load_spec(spec)
    expanded = expand(loaded, registry=build_registry(current), base_dir=spec.parent)
    items = list(expanded.items)
    for note in expanded.notes:
        typer.echo(f"note: {note}", err=True)
    document = items_to_json(loaded.name, items)
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    tmp.replace(output)
    typer.echo(f"{len(items)} configs of sweep {loaded.name!r} written to {output.absolute()}")


@sweep_app.command("run")
@handle_errors
def sweep_run(
    source: Annotated[
        Path, typer.Argument(help="Sweep spec (YAML), or the JSON that `sweep expand` wrote.")
    ],
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes (default: the machine's cores; 1: in-process)."),
    ] = None,
    offline: Annotated[
        bool | None,
        typer.Option("--offline/--online", help="Never fetch candles / fetch what is missing."),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="local (a process pool) or ray (pip install 'hbbacktest[ray]').")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (ray://host:10001 or auto); default: a local Ray."),
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option(
            help="POST a JSON summary here when the sweep ends (default: the spec's webhook)."
        ),
    ] = None,
    replace_results: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Delete the stored results of a sweep of the same name made from another spec.",
        ),
    ] = False,
    database: Database = None,
    data_dir: DataDir = None,
    controllers_dir: ControllersDir = None,
) -> None:
    """Run every config not done yet; results go to the database as each one finishes."""
    from hbbacktest.core.errors import ConfigError
    from hbbacktest.sweep.runner import run_sweep

    if workers is not None and not 1 <= workers <= 256:
        raise ConfigError(f"--workers = {workers}: expected 1 to 256 worker processes")
    if backend not in ("local", "ray"):
        raise ConfigError(f"--backend = {backend!r}: expected local or ray")
    if address is not None and backend != "ray":
        raise ConfigError("--address is for --backend ray")
    if webhook is not None and not webhook.startswith(("http://", "https://")):
        raise ConfigError(f"--webhook = {webhook!r}: expected an http(s) URL")
    current = settings(data_dir, controllers_dir)
    name, items, spec = _load(source, current)
    store = _store(current, database)
    bar = _Bar() if sys.stderr.isatty() else None
    try:
        report = run_sweep(
            name,
            items,
            spec=spec,
            store=store,
            settings=current,
            workers=workers,
            offline=offline,
            progress=bar.update if bar else None,
            notify=lambda note: typer.echo(f"note: {note}", err=True),
            webhook=webhook or spec.get("webhook"),
            backend=backend,
            address=address,
            replace_existing=replace_results,
        )
    finally:
        if bar is not None:
            bar.close()
    typer.echo(render_report(report))
    if report.interrupted:
        raise typer.Exit(130)


class _Bar:
    """done / failed / rate / ETA on one stderr line."""

    def __init__(self) -> None:
        self.shown = False
        self.began = time.monotonic()

    def update(self, progress: SweepProgress) -> None:
        finished = progress.done + progress.failed
        rate = finished / progress.elapsed_s if progress.elapsed_s > 0 else 0.0
        left = (progress.total - finished) / rate if rate > 0 else 0.0
        share = finished / progress.total if progress.total else 1.0
        filled = int(30 * share)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {finished}/{progress.total}  "
            f"failed {progress.failed}  {rate:,.1f}/s  ETA {left:,.0f} s  "
        )
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")


def render_report(report: SweepReport) -> str:
    """What `sweep run` prints at the end."""
    rate = report.done / report.seconds if report.seconds > 0 else 0.0
    lines = [
        f"sweep {report.name!r}: {report.items} configs; {report.done} done and {report.failed} "
        f"failed in this run ({report.seconds:.1f} s, {rate:,.1f} configs/s, "
        f"{report.workers} worker(s)); {report.skipped} already done before",
    ]
    if report.load_seconds:
        lines.append(f"  candles loaded in {report.load_seconds:.1f} s")
    if report.failed:
        lines.append(
            f"  {report.failed} failed: see hbbacktest sweep results {report.name} --failed; "
            "running the same command again retries them"
        )
    if report.interrupted:
        lines.append("  interrupted: what finished is stored; run the same command to resume")
    return "\n".join(lines)


@sweep_app.command("list")
@handle_errors
def sweep_list(database: Database = None, data_dir: DataDir = None) -> None:
    """List the sweeps in the results database with their progress."""
    current = settings(data_dir)
    sweeps = _store(current, database).list_sweeps()
    if not sweeps:
        typer.echo("no sweeps yet; run one with: hbbacktest sweep run SPEC.yml")
        return
    from hbbacktest.core.time import format_time

    for entry in sweeps:
        typer.echo(
            f"{entry.name:<24} {entry.items:>7} configs  {entry.done:>7} done  "
            f"{entry.failed:>5} failed  {entry.pending:>7} pending  "
            f"updated {format_time(int(entry.updated_at))} UTC"
        )


@sweep_app.command("results")
@handle_errors
def sweep_results(
    name: Annotated[str, typer.Argument(help="The sweep's name.")],
    sort: Annotated[
        str | None, typer.Option(help="Sort by a metric or parameter, e.g. sharpe_ratio.")
    ] = None,
    ascending: Annotated[bool, typer.Option("--ascending", help="Smallest first.")] = False,
    top: Annotated[int | None, typer.Option(help="Only the first N rows.")] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(help='A filter such as "take_profit>0.002" (repeatable; all must hold).'),
    ] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Include failed items.")] = False,
    export: Annotated[
        Path | None, typer.Option(help="Write the table to a .csv or .parquet file.")
    ] = None,
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Show (or export) a sweep's results: one column per parameter and per metric."""
    from hbbacktest.sweep.results import export as export_table
    from hbbacktest.sweep.results import parse_condition, table

    current = settings(data_dir)
    rows = _store(current, database).results(
        name,
        where=[parse_condition(text) for text in where or []],
        sort=sort,
        descending=not ascending,
        top=top,
        include_failed=failed,
    )
    if export is not None:
        typer.echo(f"{len(rows)} rows written to {export_table(rows, export)}")
        return
    columns, body = table(rows)
    shown = [c for c in columns if c not in ("key", "error")] + (["error"] if failed else [])
    index = [columns.index(c) for c in shown]
    typer.echo("\t".join(shown))
    for line in body:
        typer.echo("\t".join(_fmt(line[i]) for i in index))


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@sweep_app.command("best")
@handle_errors
def sweep_best(
    name: Annotated[str, typer.Argument(help="The sweep's name.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Write the best config here (YAML).")
    ],
    sort: Annotated[str, typer.Option(help="The metric to rank by.")] = "net_pnl_quote",
    ascending: Annotated[bool, typer.Option("--ascending", help="Smallest is best.")] = False,
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Write the best config of a sweep as a ready-to-run controller YAML."""
    from hbbacktest.sweep.results import best, run_command, write_config

    current = settings(data_dir)
    row, request = best(_store(current, database), name, metric=sort, descending=not ascending)
    value = row.metrics.get(sort, row.params.get(sort))
    params = ", ".join(f"{k}={v}" for k, v in row.params.items())
    command = run_command(request, str(output))
    path = write_config(
        dict(request["config"]),
        output,
        comment=f"best of sweep {name} by {sort} = {value} ({params})\nreproduce: {command}",
    )
    typer.echo(f"{path}: {sort} = {value}  ({params})\nreproduce with: {command}")


@sweep_app.command("report")
@handle_errors
def sweep_report(
    name: Annotated[str, typer.Argument(help="The sweep's name.")],
    output: Annotated[
        Path,
        typer.Option(
            "--output", "-o", help="Write the report into this folder (index.html, runs/)."
        ),
    ],
    metric: Annotated[
        str, typer.Option(help="The metric to map, colour and rank by.")
    ] = "net_pnl_quote",
    x: Annotated[
        str | None,
        typer.Option("--x", help="The heatmap's x parameter (default: the first varied one)."),
    ] = None,
    y: Annotated[
        str | None,
        typer.Option("--y", help="The heatmap's y parameter (default: the second varied one)."),
    ] = None,
    top: Annotated[
        int, typer.Option(help="List the N best configs, each re-run for its own report.")
    ] = 10,
    aggregate: Annotated[
        str,
        typer.Option(
            help="With more than two varied parameters, a heatmap cell shows the best config's "
            "value or the mean: best or mean."
        ),
    ] = "best",
    offline: Annotated[
        bool | None,
        typer.Option("--offline/--online", help="Never fetch candles / fetch what is missing."),
    ] = None,
    database: Database = None,
    data_dir: DataDir = None,
    controllers_dir: ControllersDir = None,
) -> None:
    """Write a sweep's HTML report: heatmap, parallel coordinates, the top configs' reports."""
    from hbbacktest.core.errors import ConfigError
    from hbbacktest.report.sweep import AGGREGATES
    from hbbacktest.sweep.report import write_sweep_report

    if aggregate not in AGGREGATES:
        raise ConfigError(f"--aggregate {aggregate!r}: expected one of {', '.join(AGGREGATES)}")
    if not 1 <= top <= 1000:
        raise ConfigError(f"--top {top}: expected 1 to 1000 configs")
    current = settings(data_dir, controllers_dir)
    files = write_sweep_report(
        name,
        output,
        store=_store(current, database),
        settings=current,
        metric=metric,
        x=x,
        y=y,
        top=top,
        offline=offline,
        aggregate="mean" if aggregate == "mean" else "best",
        notify=lambda note: typer.echo(f"note: {note}", err=True),
    )
    typer.echo(
        f"{files.index} ({len(files.runs)} config report(s) in {files.index.parent / 'runs'})"
    )
