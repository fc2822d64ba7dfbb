"""``hbbacktest run``: one backtest, a summary on the terminal, the result on disk."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from hbbacktest.cli._common import ControllersDir, DataDir, handle_errors, settings

if TYPE_CHECKING:
    from hbbacktest.metrics.result import BacktestResult

# Result keys that are fractions, shown as percentages (Hummingbot stores 0.012 for 1.2 %).
_PERCENT_KEYS = ("net_pnl", "accuracy", "accuracy_long", "accuracy_short", "max_drawdown_pct")
_SUMMARY_KEYS = (
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
)
_HOLD_KEYS = ("position_realized_pnl_quote", "unrealized_pnl_quote")


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if key in _PERCENT_KEYS and isinstance(value, int | float):
        return f"{value * 100:,.2f} %"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) < 1e6 else f"{value:,.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    return str(value)


def render_summary(result: BacktestResult) -> str:
    """The readable table ``run`` prints: percentages as percent, hold PnL when a hold exists."""
    from hbbacktest.core.time import format_time

    req = result.request
    cfg = req.config
    lines = [
        f"{cfg.controller_name} on {cfg.connector_name} {cfg.trading_pair}  "
        f"{format_time(req.start)} → {format_time(req.end)} UTC  "
        f"[{req.backtesting_resolution}, fill model {req.fill_model}, trade cost {req.trade_cost}]",
        f"data: {result.data_source}",
        "",
    ]
    keys = list(_SUMMARY_KEYS)
    if result.position_holds():
        keys[1:1] = _HOLD_KEYS
    width = max(len(k) for k in keys)
    lines += [f"  {k.ljust(width)}  {_fmt(k, result.results.get(k))}" for k in keys]
    lines += [f"warning: {note}" for note in result.warnings]
    return "\n".join(lines)


@handle_errors
def run(
    config: Annotated[
        Path | None,
        typer.Argument(help="Controller config (YAML/JSON). Omit to run the embedded demo job."),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            help="UTC date/datetime or epoch seconds (ms/µs/ns detected); default: the first "
            "stored candle (the demo connector: the demo week)."
        ),
    ] = None,
    end: Annotated[
        str | None,
        typer.Option(help="UTC date/datetime or epoch seconds; default: the last stored candle."),
    ] = None,
    resolution: Annotated[str, typer.Option(help="Bar interval the engine steps through.")] = "1m",
    trade_cost: Annotated[float, typer.Option(help="Fee per side, fraction of notional.")] = 0.0006,
    fill_model: Annotated[
        str, typer.Option(help="hummingbot (compatible) or touch (realistic).")
    ] = "hummingbot",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the result here; '-' for stdout (JSON only). "
            "Default: out/<id>_<run id>.json.",
        ),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="json (one file, Hummingbot's shape) or parquet (a small JSON summary plus "
            "executors, pnl_timeseries and processed_data as Parquet files beside it).",
        ),
    ] = "json",
    summary_only: Annotated[
        bool,
        typer.Option(
            "--summary-only", help="Leave out executors, processed_data and pnl_timeseries."
        ),
    ] = False,
    candles_connector: Annotated[
        str | None,
        typer.Option(
            help="Take prices from this connector's candles instead of the config's "
            "connector_name (e.g. trade xrpl, price from binance)."
        ),
    ] = None,
    candles_pair: Annotated[
        str | None,
        typer.Option(help="Take prices from this pair's candles (default: the config's)."),
    ] = None,
    offline: Annotated[
        bool | None,
        typer.Option(
            "--offline/--online",
            help="--offline never uses the network: candles missing from the cache are an "
            "error naming the command that fetches them. --online fetches them. Default: "
            "online unless $HBBACKTEST_OFFLINE or the settings file say offline.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            help="Also write the run's HTML report here (one self-contained file: candles "
            "with every executor, PnL, drawdown, inventory, metrics; see `hbbacktest report`).",
        ),
    ] = None,
    data_dir: DataDir = None,
    controllers_dir: ControllersDir = None,
) -> None:
    """Run a backtest, print a summary and write the result.

    Candles missing from the cache are fetched from the exchange first (unless --offline).
    """
    from hbbacktest.cli.data import ProgressBar
    from hbbacktest.core.errors import ConfigError
    from hbbacktest.service import plan_run, run_backtest
    from hbbacktest.service.backtest import candle_access
    from hbbacktest.service.output import check_output_target, write_result

    current = settings(data_dir, controllers_dir)
    if offline is not None:
        current = replace(current, offline=offline)
    plan = plan_run(
        config,
        start=start,
        end=end,
        resolution=resolution,
        trade_cost=trade_cost,
        fill_model=fill_model,
        output_format=output_format,
        candles_connector=candles_connector,
        candles_pair=candles_pair,
        settings=current,
    )
    request = plan.request
    name = f"{request.config.id or request.config.controller_name}_{request.config_id[:12]}"
    target = output or str(Path("out") / f"{name}.json")
    check_output_target(target, output_format, summary_only=summary_only)
    if report is not None:
        if Path(report).absolute() == Path(target).absolute():
            raise ConfigError(
                f"--report {report} is the result's own file (--output): give the report "
                "another name, e.g. report.html"
            )
        check_output_target(report)
    bar = ProgressBar() if sys.stderr.isatty() else None
    try:
        access = candle_access(
            current,
            progress=bar.update if bar else None,
            notify=lambda note: typer.echo(f"note: {note}", err=True),
        )
        result = run_backtest(request, settings=current, registry=plan.registry, access=access)
    finally:
        if bar is not None:
            bar.close()
    written = write_result(result, target, fmt=output_format, summary_only=summary_only)
    if report is not None:
        from hbbacktest.service.report import write_run_report

        report_path = write_run_report(result, report).html_path
    if target == "-":
        typer.echo(render_summary(result), err=True)
        if report is not None:
            typer.echo(f"report written to {report_path}", err=True)
        return
    typer.echo(render_summary(result))
    typer.echo("")
    for path in written:
        typer.echo(f"result written to {path}")
    if report is not None:
        typer.echo(f"report written to {report_path}")
