"""``hbbacktest`` — command-line entry point (Typer).

Commands parse their input, call one service function, render the outcome and map errors to exit
codes: 0 ok, 1 unexpected, 2 bad config/arguments, 3 data problem, 4 controller code failed.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

import typer

from hbbacktest import __version__
from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.config.validation import validate_model
from hbbacktest.core.errors import HbBacktestError
from hbbacktest.core.time import format_time, parse_time
from hbbacktest.data.store import CandleStore
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.service import (
    available_window,
    build_registry,
    load_controller_config,
    run_backtest,
)
from hbbacktest.service.defaults import DEFAULT_CONFIG, DEFAULT_END, DEFAULT_START

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Backtest Hummingbot V2 controllers, fast."
)
data_app = typer.Typer(no_args_is_help=True, help="Manage the local candle store.")
controllers_app = typer.Typer(no_args_is_help=True, help="List the controllers that can run.")
app.add_typer(data_app, name="data")
app.add_typer(controllers_app, name="controllers")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Candle store root (default: $HBBACKTEST_DATA_DIR or ./data)."),
]


ControllersDir = Annotated[
    list[Path] | None,
    typer.Option(
        "--controllers-dir",
        help="Directory of user controllers (<controller_type>/<controller_name>.py); "
        "repeatable. Default: $HBBACKTEST_CONTROLLERS_DIR.",
    ),
]


def _with_controllers(settings: Settings, dirs: list[Path] | None) -> Settings:
    if not dirs:
        return settings
    return replace(settings, controllers_dirs=tuple(dirs))


def _settings(data_dir: Path | None) -> Settings:
    settings = Settings.from_env()
    return replace(settings, data_dir=data_dir) if data_dir is not None else settings


def _fail(exc: HbBacktestError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(exc.exit_code)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return str(value)


def render_summary(result: BacktestResult) -> str:
    """The readable table ``run`` prints."""
    req = result.request
    cfg = req.config
    lines = [
        f"{cfg.controller_name} on {cfg.connector_name} {cfg.trading_pair}  "
        f"{format_time(req.start)} → {format_time(req.end)} UTC  "
        f"[{req.backtesting_resolution}, fill model {req.fill_model}, trade cost {req.trade_cost}]",
        f"data: {result.data_source}",
        "",
    ]
    keys = [
        "net_pnl_quote",
        "net_pnl",
        "total_executors",
        "total_positions",
        "total_volume",
        "total_fees_quote",
        "accuracy",
        "accuracy_long",
        "accuracy_short",
        "profit_factor",
        "max_drawdown_usd",
        "max_drawdown_pct",
        "sharpe_ratio",
        "close_types",
    ]
    width = max(len(k) for k in keys)
    lines += [f"  {k.ljust(width)}  {_fmt(result.results[k])}" for k in keys]
    for note in result.warnings:
        lines.append(f"warning: {note}")
    return "\n".join(lines)


@app.command()
def run(
    config: Annotated[
        Path | None,
        typer.Argument(help="Controller config (YAML/JSON). Omit to run the embedded demo job."),
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="UTC date/datetime or epoch seconds; default: first candle.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="UTC date/datetime or epoch seconds; default: last candle.")
    ] = None,
    resolution: Annotated[str, typer.Option(help="Bar interval the engine steps through.")] = "1m",
    trade_cost: Annotated[float, typer.Option(help="Fee per side, fraction of notional.")] = 0.0006,
    fill_model: Annotated[
        str, typer.Option(help="hummingbot (compatible) or touch (realistic).")
    ] = "hummingbot",
    output: Annotated[
        str | None,
        typer.Option(help="Write the JSON here; '-' for stdout. Default out/<name>_<run id>.json."),
    ] = None,
    data_dir: DataDir = None,
    controllers_dir: ControllersDir = None,
) -> None:
    """Run a backtest, print a summary and write the JSON result."""
    settings = _with_controllers(_settings(data_dir), controllers_dir)
    try:
        registry = build_registry(settings)
        if config is None:
            cfg = load_controller_config(DEFAULT_CONFIG, registry=registry)
            first, last = parse_time(DEFAULT_START), parse_time(DEFAULT_END)
        else:
            cfg = load_controller_config(config, registry=registry)
            if start is None or end is None:
                first, last = available_window(
                    cfg.connector_name,
                    cfg.trading_pair,
                    resolution,
                    store=CandleStore(settings.data_dir),
                )
        request = validate_model(
            BacktestRequest,
            {
                "config": cfg,
                "start": start or first,
                "end": end or last,
                "backtesting_resolution": resolution,
                "trade_cost": trade_cost,
                "fill_model": fill_model,
            },
            source="run options",
        )
        result = run_backtest(request, settings=settings, registry=registry)
    except HbBacktestError as exc:
        raise _fail(exc) from None
    text = result.to_json()
    if output == "-":
        sys.stdout.write(text + "\n")
        typer.echo(render_summary(result), err=True)
        return
    target = (
        Path(output)
        if output
        else Path("out")
        / f"{request.config.id or request.config.controller_name}_{result.run_id[:12]}.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n", encoding="utf-8")
    typer.echo(render_summary(result))
    typer.echo(f"\nresult written to {target}")


@data_app.command("import")
def data_import(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet candles (timestamp in s or ms).")],
    connector: Annotated[str, typer.Option(help="Connector name, e.g. binance.")],
    pair: Annotated[str, typer.Option(help="Trading pair, e.g. BTC-USDT.")],
    interval: Annotated[str, typer.Option(help="Candle interval, e.g. 1m.")],
    data_dir: DataDir = None,
) -> None:
    """Validate a candle file and merge it into the store."""
    store = CandleStore(_settings(data_dir).data_dir)
    try:
        rows = store.import_file(file, connector, pair, interval)
        path = store.path(connector, pair, interval)
        candles = store.load(connector, pair, interval)
    except HbBacktestError as exc:
        raise _fail(exc) from None
    typer.echo(f"{path}: {rows} candles, {candles.describe_range()}")


@data_app.command("list")
def data_list(data_dir: DataDir = None) -> None:
    """List the stored candle series."""
    store = CandleStore(_settings(data_dir).data_dir)
    series = store.series()
    if not series:
        typer.echo(
            f"no candles in {store.data_dir}; import some with: hbbacktest data import FILE ..."
        )
        return
    for s in series:
        typer.echo(
            f"{s.connector:<14} {s.trading_pair:<12} {s.interval:<4} {format_time(s.first_ts)} → {format_time(s.last_ts)}  {s.rows} rows"
        )


@controllers_app.command("list")
def controllers_list(controllers_dir: ControllersDir = None) -> None:
    """List the controllers that can run (and user files that failed to load)."""
    try:
        registry = build_registry(_with_controllers(Settings.from_env(), controllers_dir))
    except HbBacktestError as exc:
        raise _fail(exc) from None
    for controller_type, name in registry.describe():
        typer.echo(f"{controller_type:<20} {name:<24} {registry.source(name)}")
    for name, message in sorted(registry.broken.items()):
        typer.echo(f"{'BROKEN':<20} {name:<24} {message}")


@controllers_app.command("schema")
def controllers_schema(
    name: Annotated[str, typer.Argument(help="A controller_name.")],
    controllers_dir: ControllersDir = None,
) -> None:
    """Print a controller config's JSON schema (for UIs and validation)."""
    try:
        registry = build_registry(_with_controllers(Settings.from_env(), controllers_dir))
        controller = registry.get(name)
    except HbBacktestError as exc:
        raise _fail(exc) from None
    typer.echo(json.dumps(controller.config_class.model_json_schema(), indent=2))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point."""
    app()
