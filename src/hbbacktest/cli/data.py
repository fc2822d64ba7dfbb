"""``hbbacktest data``: the local candle cache (fetch, import, list, verify).

The service is imported inside the commands; the store loads pandas only to parse an imported
file and ccxt only to fetch, so ``data list`` stays cheap.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from hbbacktest.cli._common import DataDir, handle_errors, settings

if TYPE_CHECKING:
    from hbbacktest.data.access import FetchProgress
    from hbbacktest.data.store import ImportReport, StoredSeries
    from hbbacktest.service.data import FetchOutcome

data_app = typer.Typer(
    no_args_is_help=True,
    help="Manage the local candle cache: fetch from exchanges, import files, list, verify.",
    rich_markup_mode=None,
)

_FORMATS = "auto, csv, parquet, binance-vision, freqtrade-json, freqtrade-feather"


@data_app.command("fetch")
@handle_errors
def data_fetch(
    connector: Annotated[
        str, typer.Option(help="Hummingbot connector name, e.g. binance, okx_perpetual.")
    ],
    pair: Annotated[str, typer.Option(help="Trading pair as BASE-QUOTE, e.g. BTC-USDT.")],
    interval: Annotated[str, typer.Option(help="Candle interval, e.g. 1m.")],
    start: Annotated[str, typer.Option(help="First candle: UTC date/datetime or epoch.")],
    end: Annotated[str, typer.Option(help="Last candle (inclusive): UTC date/datetime or epoch.")],
    refetch: Annotated[
        bool,
        typer.Option(
            "--refetch",
            help="Ask for the whole window again, cached parts included (repairs a range the "
            "exchange has filled or corrected since).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Download the candles of a window that the cache lacks (never the same range twice)."""
    from hbbacktest.service.data import fetch_candles

    bar = None if quiet or not sys.stderr.isatty() else ProgressBar()
    try:
        outcome = fetch_candles(
            connector,
            pair,
            interval,
            start,
            end,
            settings=settings(data_dir),
            progress=bar.update if bar else None,
            refetch=refetch,
        )
    finally:
        if bar is not None:
            bar.close()
    typer.echo(render_fetch(outcome))


class ProgressBar:
    """A one-line progress bar on stderr: share of the window, rows, rate and ETA."""

    def __init__(self, width: int = 30) -> None:
        self.width = width
        self.began = time.monotonic()
        self.shown = False

    def update(self, progress: FetchProgress) -> None:
        """Redraw the bar for a fetch's progress."""
        share = progress.done_s / progress.total_s if progress.total_s else 1.0
        elapsed = time.monotonic() - self.began
        rate = progress.rows / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - share) / share if share > 0 else 0.0
        filled = int(self.width * share)
        line = (
            f"\r{progress.connector} {progress.trading_pair} {progress.interval} "
            f"[{'#' * filled}{'.' * (self.width - filled)}] {share * 100:5.1f} %  "
            f"{progress.rows:,} rows  {rate:,.0f} rows/s  ETA {_duration(eta)}  "
        )
        sys.stderr.write(line)
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        """End the bar's line."""
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def render_fetch(outcome: FetchOutcome) -> str:
    """The lines ``data fetch`` prints: what was asked, received, and the dataset after."""
    from hbbacktest.core.time import format_time

    report = outcome.report
    lines = []
    if not report.asked:
        lines.append(
            f"{report.path}: already cached for {format_time(outcome.start)} – "
            f"{format_time(outcome.end)} UTC; nothing fetched"
        )
    else:
        rate = report.rows / report.seconds if report.seconds > 0 else 0.0
        lines.append(
            f"{report.path}: fetched {report.rows:,} candles in {report.requests} request(s), "
            f"{report.seconds:.1f} s ({rate:,.0f} rows/s)"
        )
        for a, b in report.asked:
            lines.append(f"  asked {format_time(a)} – {format_time(b)} UTC")
    lines.append("  " + render_series(outcome.series).strip())
    lines += [f"warning: {note}" for note in report.warnings]
    return "\n".join(lines)


@data_app.command("import")
@handle_errors
def data_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="Candles: CSV or Parquet (timestamp in epoch s/ms/us/ns or dates, open, high, "
            "low, close, volume), a Binance Data Vision kline zip or CSV, or freqtrade JSON or "
            "feather."
        ),
    ],
    connector: Annotated[str, typer.Option(help="Connector name, e.g. binance.")],
    pair: Annotated[
        str | None,
        typer.Option(
            help="Trading pair as BASE-QUOTE, e.g. BTC-USDT; default: from the file name "
            "(Binance Data Vision, freqtrade)."
        ),
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(help="Candle interval, e.g. 1m; default: from the file name."),
    ] = None,
    file_format: Annotated[
        str, typer.Option("--format", help=f"File format: {_FORMATS}.")
    ] = "auto",
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
    """Validate a candle file and merge it into the cache (nothing is written if it is bad)."""
    from hbbacktest.service.data import import_candles

    report = import_candles(
        file,
        connector,
        pair,
        interval,
        replace=replace,
        format=file_format,
        settings=settings(data_dir),
    )
    typer.echo(render_import(report, file))


@data_app.command("verify")
@handle_errors
def data_verify(data_dir: DataDir = None) -> None:
    """Read every dataset in full and check it; exits 3 when one is corrupt."""
    from hbbacktest.service.data import verify_candles

    root, outcomes, leftovers = verify_candles(settings(data_dir))
    if not outcomes:
        typer.echo(f"no candles in {root}")
    bad = 0
    for outcome in outcomes:
        entry = outcome.series
        head = f"{entry.connector:<14} {entry.trading_pair:<12} {entry.interval:<4}"
        if outcome.problem is None:
            typer.echo(f"{head} ok  {entry.rows:,} rows")
        else:
            bad += 1
            typer.echo(f"{head} CORRUPT: {outcome.problem}\n{'':<4}file: {entry.file}")
            where = (
                f"--connector {entry.connector} --pair {entry.trading_pair} "
                f"--interval {entry.interval}"
            )
            typer.echo(
                f"{'':<4}fix: hbbacktest data fetch {where} --start … --end … --refetch (sets "
                f"the file aside and fetches again), or hbbacktest data import FILE {where} "
                "--replace"
            )
    for path in leftovers:
        typer.echo(f"leftover: {path} (a corrupt file set aside, or a killed writer's temporary)")
    if bad:
        from hbbacktest.core.errors import DataError

        raise DataError(f"{bad} of {len(outcomes)} dataset(s) in {root} are corrupt")


@data_app.command("list")
@handle_errors
def data_list(data_dir: DataDir = None) -> None:
    """List the cached datasets: range, rows, size, missing candles and coverage."""
    from hbbacktest.service.data import list_candles

    root, series = list_candles(settings(data_dir))
    if not series:
        typer.echo(
            f"no candles in {root}; fetch some with: hbbacktest data fetch --connector binance "
            "--pair BTC-USDT --interval 1m --start 2024-01-01 --end 2024-01-31, or import a "
            "file with: hbbacktest data import FILE --connector NAME --pair BASE-QUOTE "
            "--interval 1m"
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
    lines += [f"  note: {note}" for note in report.notes]
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
    if entry.problem is not None:
        return (
            f"{head} CORRUPT: {entry.problem}\n{'':<4}file: {entry.file}\n{'':<4}fix: {entry.fix}"
        )
    if entry.first_ts is None or entry.last_ts is None:
        asked = ", ".join(f"{format_time(a)} – {format_time(b)}" for a, b in entry.coverage)
        return f"{head} no candles: the exchange had none for {asked or 'the ranges asked'} UTC"
    step = interval_seconds(entry.interval)
    expected = sum((b - a) // step + 1 for a, b in entry.coverage)
    missing = max(0, expected - entry.rows)
    holes = max(0, len(entry.coverage) - 1)
    line = (
        f"{head} {format_time(entry.first_ts)} → {format_time(entry.last_ts)}  "
        f"{entry.rows:,} rows  {_size(entry.size_bytes)}  "
        f"gaps: {f'{missing:,} candles missing' if missing else 'none'}"
    )
    if holes:
        line += f"  not fetched: {holes} hole(s) between {len(entry.coverage)} covered ranges"
    return line


def interval_seconds(interval: str) -> int:
    """The interval in seconds (the file name was checked when listed)."""
    from hbbacktest.core.time import interval_to_seconds

    return interval_to_seconds(interval)


def _size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{value:,.1f} GB"
