"""``hbbacktest report``: a backtest result (or several) as one self-contained HTML file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from hbbacktest.cli._common import DataDir, handle_errors, settings


@handle_errors
def report(
    results: Annotated[
        list[Path],
        typer.Argument(
            help="Result files (`hbbacktest run --output FILE.json`); two or more make a "
            "comparison (equity curves overlaid, metrics side by side).",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="The HTML file. Default: <first result's name>.html beside it "
            "(.compare.html for a comparison).",
        ),
    ] = None,
    png: Annotated[
        Path | None,
        typer.Option(
            "--png",
            help="Also export the main chart as PNG here (needs Chromium: apt-get install "
            "chromium, or $BROWSER_PATH).",
        ),
    ] = None,
    title: Annotated[str | None, typer.Option(help="The page title.")] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline/--online",
            help="--offline (default) takes the candles from the cache only; a run whose "
            "candles are not cached then shows its reference price instead. --online fetches "
            "them.",
        ),
    ] = True,
    data_dir: DataDir = None,
) -> None:
    """Write the HTML report of a backtest result, or compare several.

    One self-contained file that opens offline: candles with every executor, PnL, drawdown,
    inventory, metrics, warnings and a sortable executors table.
    """
    from hbbacktest.service.report import report_files

    current = replace(settings(data_dir), offline=offline)
    outcome = report_files(
        results, output=output, png=png, title=title, settings=current, offline=offline
    )
    for note in outcome.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"report written to {outcome.html_path}")
    if outcome.png_path is not None:
        typer.echo(f"chart written to {outcome.png_path}")
