"""``hbbacktest data``: the local candle store (import, list).

The service is imported inside the commands; the store loads pandas only to parse an imported
file, so ``data list`` stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hbbacktest.cli._common import DataDir, handle_errors, settings

if TYPE_CHECKING:
    from hbbacktest.data.store import ImportReport, StoredSeries

data_app = typer.Typer(
    no_args_is_help=True, help="Manage the local candle store.", rich_markup_mode=None
)


@data_app.command("import")
@handle_errors
def data_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet candles: timestamp (epoch s, ms, us or ns, or dates), open, "
            "high, low, close, volume."
        ),
    ],
    connector: Annotated[str, typer.Option(help="Connector name, e.g. binance.")],
    pair: Annotated[str, typer.Option(help="Trading pair as BASE-QUOTE, e.g. BTC-USDT.")],
    interval: Annotated[str, typer.Option(help="Candle interval, e.g. 1m.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Overwrite the stored candles of this market and interval instead of merging "
            "(also repairs a corrupt file).",
        ),
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Validate a candle file and merge it into the store (nothing is written if it is bad)."""
    from hbbacktest.service.data import import_candles

    report = import_candles(
        file, connector, pair, interval, replace=replace, settings=settings(data_dir)
    )
    typer.echo(render_import(report, file))


@data_app.command("list")
@handle_errors
def data_list(data_dir: DataDir = None) -> None:
    """List the stored candle series; corrupt files are shown as CORRUPT with the reason."""
    from hbbacktest.service.data import list_candles

    root, series = list_candles(settings(data_dir))
    if not series:
        typer.echo(
            f"no candles in {root}; import some with: hbbacktest data "
            "import FILE --connector NAME --pair BASE-QUOTE --interval 1m"
        )
        return
    for entry in series:
        typer.echo(render_series(entry))


def render_import(report: ImportReport, file: Path) -> str:
    """The lines ``data import`` prints: the stored range, what changed, the gaps."""
    from hbbacktest.core.time import format_time

    lines = [
        f"{report.path}: {report.rows_total} candles, {format_time(report.first_ts)} – "
        f"{format_time(report.last_ts)} UTC",
        f"  from {file}: {report.rows_read} read, {report.rows_added} new, "
        f"{report.rows_replaced} replaced"
        + ("; what was stored before was discarded (--replace)" if report.replaced else ""),
    ]
    gap = report.largest_gap
    if gap is None:
        lines.append("  gaps: none")
    else:
        lines.append(
            f"  gaps: {report.gaps} ({report.missing_candles} candles missing); largest: "
            f"{gap.missing} candles missing, {format_time(gap.from_ts)} – "
            f"{format_time(gap.to_ts)} UTC"
        )
    return "\n".join(lines)


def render_series(entry: StoredSeries) -> str:
    """One ``data list`` row; a corrupt dataset gets its reason, path and fix."""
    from hbbacktest.core.time import format_time

    head = f"{entry.connector:<14} {entry.trading_pair:<12} {entry.interval:<4}"
    if entry.problem is not None or entry.first_ts is None or entry.last_ts is None:
        return (
            f"{head} CORRUPT: {entry.problem}\n{'':<4}file: {entry.file}\n{'':<4}fix: {entry.fix}"
        )
    return f"{head} {format_time(entry.first_ts)} → {format_time(entry.last_ts)}  {entry.rows} rows"
