"""``hbbacktest data``: the local candle store (import, list)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hbbacktest.cli._common import DataDir, handle_errors, settings

data_app = typer.Typer(
    no_args_is_help=True, help="Manage the local candle store.", rich_markup_mode=None
)


@data_app.command("import")
@handle_errors
def data_import(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet candles (timestamp in s or ms).")],
    connector: Annotated[str, typer.Option(help="Connector name, e.g. binance.")],
    pair: Annotated[str, typer.Option(help="Trading pair, e.g. BTC-USDT.")],
    interval: Annotated[str, typer.Option(help="Candle interval, e.g. 1m.")],
    data_dir: DataDir = None,
) -> None:
    """Validate a candle file and merge it into the store."""
    from hbbacktest.data.store import CandleStore

    store = CandleStore(settings(data_dir).data_dir)
    rows = store.import_file(file, connector, pair, interval)
    path = store.path(connector, pair, interval)
    candles = store.load(connector, pair, interval)
    typer.echo(f"{path}: {rows} candles, {candles.describe_range()}")


@data_app.command("list")
@handle_errors
def data_list(data_dir: DataDir = None) -> None:
    """List the stored candle series."""
    from hbbacktest.core.time import format_time
    from hbbacktest.data.store import CandleStore

    store = CandleStore(settings(data_dir).data_dir)
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
