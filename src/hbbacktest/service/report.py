"""Reports of backtests: read result files, find their candles, render and write HTML or PNG.

The drawing lives in :mod:`hbbacktest.report` (plain data in, HTML out); this module does the
I/O around it: :func:`load_result` reads a result file, strictly; :func:`result_candles` finds
the bars of the run's window in the candle cache (or the demo connector); :func:`write_report`
writes a file atomically. :func:`report_files` is the whole ``hbbacktest report`` command and
:func:`write_run_report` the ``hbbacktest run --report`` option.

Result files read:

* the native document (``hbbacktest run --output r.json``, the API's stored results);
* its Parquet form (``--format parquet``: the JSON summary with ``parquet_files`` beside it);
* hummingbot-api's ``/backtesting/run`` body (``{"executors", "processed_data", "results",
  "pnl_timeseries": [rows] …}``, or a task's ``{"result": {…}}``): converted, with its candles
  taken from ``processed_data``'s OHLC columns. It carries no request, so the report has no
  window, fill model or config (no quote bands).
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from hbbacktest.config.settings import Settings
from hbbacktest.core.enums import CloseType, TradeType
from hbbacktest.core.errors import ConfigError, DataError, OutputError
from hbbacktest.service.output import create_temp, fsync_directory, os_reason

if TYPE_CHECKING:
    from hbbacktest.metrics.result import BacktestResult

__all__ = [
    "MAX_RESULT_BYTES",
    "ReportOutcome",
    "default_report_path",
    "load_result",
    "render_compare",
    "render_run_report",
    "report_files",
    "result_candles",
    "write_png_chart",
    "write_report",
    "write_run_report",
]

MAX_RESULT_BYTES = 2 << 30
"""Result files larger than this (2 GiB) are refused: a report of them would not open."""

_NATIVE_KEYS = ("request", "results")
_UPSTREAM_KEYS = ("executors", "processed_data", "results")
_OHLC = ("open", "high", "low", "close")
_KIND_BY_CONFIG_KEY = (
    ("triple_barrier_config", "position_executor"),
    ("amounts_quote", "dca_executor"),
    ("start_price", "grid_executor"),
    ("execution_strategy", "order_executor"),
)


@dataclass(frozen=True)
class ReportOutcome:
    """What :func:`report_files` wrote, and what the reader should know."""

    html_path: Path
    png_path: Path | None = None
    notes: list[str] = field(default_factory=list)


# --- reading ------------------------------------------------------------------------------------


def load_result(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a backtest result file (strict JSON) as a native result document.

    Args:
        path: a file ``hbbacktest run --output`` wrote (JSON, or the JSON summary of the
            Parquet format), or a hummingbot-api ``/backtesting/run`` body (converted).

    Returns:
        The document: ``request``, ``results``, ``executors``, ``processed_data``,
        ``pnl_timeseries``, ``warnings`` … (see ``docs/reports.md``).

    Raises:
        ConfigError: the file is missing, a directory, larger than 2 GiB, not strict JSON
            (NaN, Infinity and trailing data are refused), or not a backtest result (a sweep
            file, a controller config …); the message names the file and what it lacks.

    Example:
        >>> doc = load_result("out/demo.json")  # doctest: +SKIP
        >>> sorted(doc)[:3]  # doctest: +SKIP
        ['data_source', 'executors', 'pnl_timeseries']
    """
    source = Path(path)
    try:
        size = source.stat().st_size
    except FileNotFoundError:
        raise ConfigError(
            f"result file {source} not found; write one with `hbbacktest run --output {source}`"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read result file {source}: {os_reason(exc)}") from None
    if source.is_dir():
        raise ConfigError(f"{source} is a directory, not a result file")
    if size > MAX_RESULT_BYTES:
        raise ConfigError(
            f"result file {source} is {size / 2**30:.1f} GiB, more than the 2 GiB a report reads; "
            "write a smaller run (a shorter window) or use --format parquet"
        )
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read result file {source}: {os_reason(exc)}") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(
            f"{source} is not a JSON result file ({exc}); `hbbacktest report` reads the JSON "
            "that `hbbacktest run --output FILE.json` writes"
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            f"{source} holds a JSON {type(document).__name__}, not a backtest result (an object "
            "with request, results, executors …)"
        )
    return _as_native(document, source)


def _as_native(document: dict[str, Any], source: Path) -> dict[str, Any]:
    if isinstance(document.get("result"), dict) and not isinstance(document.get("results"), dict):
        document = document["result"]  # a hummingbot-api task: {"status", "result": {...}}
    if "items" in document or "parameters" in document or "grid" in document:
        raise ConfigError(
            f"{source} is a sweep file, not a backtest result; `hbbacktest report` reads one "
            "run's result (`hbbacktest run --output`); see `hbbacktest sweep --help` for sweeps"
        )
    if "controller_name" in document and "results" not in document:
        raise ConfigError(
            f"{source} is a controller config, not a backtest result; run it first: "
            f"`hbbacktest run {source} --output result.json`"
        )
    if isinstance(document.get("parquet_files"), dict):
        return _with_parquet(document, source)
    if all(isinstance(document.get(key), dict) for key in _NATIVE_KEYS):
        return document
    if all(key in document for key in _UPSTREAM_KEYS) and isinstance(document["results"], dict):
        return _from_upstream(document)
    missing = [key for key in ("request", "results", "executors") if key not in document]
    raise ConfigError(
        f"{source} is not a backtest result: it lacks {', '.join(missing) or 'request/results'} "
        "(`hbbacktest report` reads the JSON `hbbacktest run --output` writes, or a "
        "hummingbot-api /backtesting/run response)"
    )


def _with_parquet(document: dict[str, Any], source: Path) -> dict[str, Any]:
    """The Parquet format's summary plus its three tables, as the JSON document."""
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is a dependency
        raise ConfigError("reading a Parquet result needs pyarrow: pip install pyarrow") from exc
    files = document["parquet_files"]
    out = dict(document)
    for table in ("executors", "pnl_timeseries", "processed_data"):
        name = files.get(table)
        if not isinstance(name, str):
            continue
        path = source.parent / Path(name).name
        try:
            data = pq.read_table(path)
        except (OSError, ValueError) as exc:  # ArrowInvalid is a ValueError
            raise ConfigError(
                f"cannot read {path}, the {table} of the Parquet result {source}: {exc}"
            ) from None
        if table == "executors":
            out["executors"] = data.to_pylist()
        elif table == "pnl_timeseries":
            out["pnl_timeseries"] = data.to_pydict()
        else:
            out["processed_data"] = {"features": data.to_pydict()}
    return out


def _enum_name(value: Any, enum: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum(value).name
        except ValueError:
            return str(value)
    return value


def _from_upstream(document: dict[str, Any]) -> dict[str, Any]:
    """hummingbot-api's ``/backtesting/run`` body in the native shape (see the module doc)."""
    executors = []
    for raw in document.get("executors") or []:
        if not isinstance(raw, dict):
            continue
        config = raw.get("config") if isinstance(raw.get("config"), dict) else {}
        assert isinstance(config, dict)
        info = raw.get("custom_info") if isinstance(raw.get("custom_info"), dict) else {}
        assert isinstance(info, dict)
        filled = bool(raw.get("filled_amount_quote"))
        prices = config.get("prices")
        order_price = config.get("entry_price", config.get("price", config.get("start_price")))
        if order_price is None and isinstance(prices, list) and prices:
            order_price = prices[0]
        kind = raw.get("type") or next(
            (name for key, name in _KIND_BY_CONFIG_KEY if key in config), ""
        )
        executors.append(
            {
                **raw,
                "type": kind,
                "close_type": _enum_name(raw.get("close_type"), CloseType),
                "side": _enum_name(raw.get("side", config.get("side")), TradeType),
                "level_id": config.get("level_id", info.get("level_id")),
                "entry_price": order_price,
                "amount": config.get("amount"),
                "fill_timestamp": info.get("open_order_last_update") if filled else None,
                "fill_price": info.get("current_position_average_price") if filled else None,
                "exit_price": info.get("close_price") if filled else None,
                "held_amount": None,
            }
        )
    first = executors[0].get("config") if executors else None
    first = first if isinstance(first, dict) else {}
    controller_id = first.get("controller_id") or (
        executors[0].get("controller_id") if executors else None
    )
    config = {
        key: value
        for key, value in (
            ("id", controller_id),
            ("connector_name", first.get("connector_name")),
            ("trading_pair", first.get("trading_pair")),
        )
        if value
    }
    request: dict[str, Any] = {"config": config}
    if document.get("fill_model"):
        request["fill_model"] = document["fill_model"]
    timeseries = document.get("pnl_timeseries")
    warnings = list(document.get("warnings") or [])
    warnings.append(
        "read from hummingbot-api's result format: no request, so no window, fill model or "
        "config in this report"
    )
    return {
        "run_id": document.get("run_id", ""),
        "request": request,
        "data_source": "hummingbot-api result",
        "results": document["results"],
        "executors": executors,
        "processed_data": {"features": _columns_by_index(document.get("processed_data"))},
        "position_holds": document.get("position_holds") or [],
        "pnl_timeseries": _rows_to_columns(timeseries) if isinstance(timeseries, list) else {},
        "warnings": warnings,
    }


def _columns_by_index(processed: Any) -> dict[str, list[Any]]:
    """``{column: {"<epoch s>": value}}`` (pandas ``to_dict()``) as columns in time order."""
    if not isinstance(processed, dict):
        return {}
    if isinstance(processed.get("features"), dict):
        processed = processed["features"]
    columns = {k: v for k, v in processed.items() if isinstance(v, dict)}
    if not columns:
        return {k: v for k, v in processed.items() if isinstance(v, list)}
    keys: set[str] = set()
    for values in columns.values():
        keys.update(values)
    try:
        order = sorted(keys, key=float)
    except ValueError:
        order = sorted(keys)
    out = {name: [values.get(k) for k in order] for name, values in columns.items()}
    if "timestamp" not in out:
        try:
            out["timestamp"] = [float(k) for k in order]
        except ValueError:
            return {}
    return out


def _rows_to_columns(rows: list[Any]) -> dict[str, list[Any]]:
    names: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            names.update(dict.fromkeys(row))
    return {
        name: [row.get(name) if isinstance(row, dict) else None for row in rows] for name in names
    }


# --- candles ------------------------------------------------------------------------------------


def result_candles(
    result: Mapping[str, Any],
    *,
    settings: Settings | None = None,
    offline: bool = True,
    notes: list[str] | None = None,
) -> dict[str, np.ndarray] | None:
    """The candles of a result's window at its resolution, as columns for the report.

    From the result's own ``processed_data`` when it holds OHLC columns (hummingbot-api
    results), else from the candle cache (the demo connector is always there): the price
    source is the request's ``candles_connector``/``candles_trading_pair`` when set, else the
    config's market; the bars are ``backtesting_resolution`` from ``start`` to ``end``.

    Args:
        result: a result document (:func:`load_result`).
        settings: data dir and exchange URLs (default: from the environment).
        offline: never fetch; candles missing from the cache give ``None`` and a note.
        notes: where to add what the reader should know (missing candles and why).

    Returns:
        ``timestamp`` (int64 epoch s), ``open``, ``high``, ``low``, ``close``, ``volume``
        columns, or ``None`` when they cannot be had (the reason goes to ``notes``).
    """
    notes = notes if notes is not None else []
    processed = result.get("processed_data")
    features = processed.get("features") if isinstance(processed, Mapping) else None
    if isinstance(features, Mapping) and all(k in features for k in ("timestamp", *_OHLC)):
        try:
            columns = {
                k: np.asarray(features[k], dtype=np.float64)
                for k in ("timestamp", *_OHLC, "volume")
                if k in features
            }
        except (TypeError, ValueError):
            columns = {}
        if columns and all(np.isfinite(v).all() for v in columns.values()):
            columns["timestamp"] = columns["timestamp"].astype(np.int64)
            return columns
    request = result.get("request")
    request = request if isinstance(request, Mapping) else {}
    config = request.get("config") if isinstance(request.get("config"), Mapping) else {}
    assert isinstance(config, Mapping)
    connector = request.get("candles_connector") or config.get("connector_name")
    pair = request.get("candles_trading_pair") or config.get("trading_pair")
    interval = request.get("backtesting_resolution") or "1m"
    start, end = request.get("start"), request.get("end")
    if not isinstance(start, int) or not isinstance(end, int):
        ts = (result.get("pnl_timeseries") or {}).get("timestamp") or []
        if not ts:
            notes.append("the result names no window: the report has no candles")
            return None
        start, end = int(ts[0]), int(ts[-1])
    if not connector or not pair:
        notes.append("the result names no market: the report has no candles")
        return None
    # The candle access of service.backtest.candle_access, built here without importing the
    # engine (numba): a report needs only the cache, and starts 0.4 s sooner.
    from hbbacktest.data.access import CandleAccess
    from hbbacktest.data.sources.venues import check_exchange_urls
    from hbbacktest.data.store import CandleStore

    current = settings or Settings.from_env()
    try:
        check_exchange_urls(current.exchange_urls)
        access = CandleAccess(
            CandleStore(current.data_dir),
            offline=offline,
            exchange_urls=dict(current.exchange_urls),
        )
        window = access.candles(str(connector), str(pair), str(interval), start, end)
    except (DataError, ConfigError) as exc:
        how = " (offline: pass --online to fetch them)" if offline else ""
        notes.append(f"no candles for the chart{how}: {exc}")
        return None
    bars = window.candles.between(start, end)
    if not len(bars):
        notes.append(f"no {interval} candles for {connector} {pair} in the run's window")
        return None
    notes.append(f"candles: {interval} {connector} {pair} from {window.source}")
    return _bar_columns(bars)


def _bar_columns(bars: Any) -> dict[str, np.ndarray]:
    return {
        "timestamp": bars.ts,
        "open": bars.open,
        "high": bars.high,
        "low": bars.low,
        "close": bars.close,
        "volume": bars.volume,
    }


# --- rendering ----------------------------------------------------------------------------------


def render_run_report(
    result: Mapping[str, Any],
    *,
    settings: Settings | None = None,
    offline: bool = True,
    title: str | None = None,
    candles: Mapping[str, Any] | None = None,
    plotly_src: str | None = None,
) -> tuple[str, list[str]]:
    """The HTML report of one result, with its candles found as :func:`result_candles` does.

    Args:
        result: a result document.
        settings: where the candle cache is (default: from the environment).
        offline: never fetch candles.
        title: the page title (default: config id, controller and market).
        candles: the candles to draw (skips the lookup).
        plotly_src: load plotly.js from this URL instead of embedding it.

    Returns:
        The HTML and the notes for the reader (also shown in the page).
    """
    from hbbacktest.report import run_report

    notes: list[str] = []
    if candles is None:
        candles = result_candles(result, settings=settings, offline=offline, notes=notes)
    html = run_report(result, candles=candles, title=title, notes=notes, plotly_src=plotly_src)
    return html, notes


def render_compare(
    results: Sequence[Mapping[str, Any]],
    names: Sequence[str] | None = None,
    *,
    title: str | None = None,
) -> str:
    """The HTML comparison of several results (equity curves overlaid, metrics side by side).

    Raises:
        ConfigError: no results, or not one name per result.
    """
    from hbbacktest.report import compare_report

    if not results:
        raise ConfigError("a comparison needs at least one result")
    if names is not None and len(names) != len(results):
        raise ConfigError(f"{len(names)} names for {len(results)} results")
    return compare_report(results, names=names, title=title)


# --- writing ------------------------------------------------------------------------------------


def write_report(html: str, path: str | os.PathLike[str]) -> Path:
    """Write a report atomically: a temporary file beside ``path``, fsync, rename over it.

    Missing directories are created; a reader sees the old file or the whole new one. New
    files get the usual permissions (``0o666`` less the umask).

    Returns:
        The path written.

    Raises:
        OutputError: it cannot be written (a directory, permission denied, disk full …),
            naming the path and the reason; nothing is left behind.
    """
    return _write_atomic(Path(path), html.encode("utf-8"))


def _write_atomic(target: Path, data: bytes) -> Path:
    if target.is_dir():
        raise OutputError(
            f"cannot write {target}: it is a directory; give a file name, e.g. "
            f"{target / 'report.html'}"
        )
    real = Path(os.path.realpath(target))
    temp: Path | None = None
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        temp, fd = create_temp(real)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, real)
        temp = None
    except OSError as exc:
        # mkdir of a path under a regular file fails with EEXIST: say what it means.
        exists = exc.errno in (errno.EEXIST, errno.ENOTDIR)
        reason = "a parent is not a directory" if exists else os_reason(exc)
        raise OutputError(f"cannot write {target}: {reason}") from exc
    finally:
        if temp is not None:
            temp.unlink(missing_ok=True)
    fsync_directory(real.parent)
    return target


def write_png_chart(
    results: Sequence[Mapping[str, Any]],
    path: str | os.PathLike[str],
    *,
    candles: Mapping[str, Any] | None = None,
    names: Sequence[str] | None = None,
    width: int = 1400,
    height: int = 700,
) -> Path:
    """Export the main chart as PNG.

    For one result its price/PnL/drawdown/inventory chart, for several their equity curves.

    Raises:
        OutputError: no Chromium was found (install it: ``apt-get install chromium``, or set
            ``BROWSER_PATH``), rendering failed, or the file cannot be written.
    """
    from hbbacktest.report import equity_figure, main_figure, write_png

    if len(results) == 1:
        figure = main_figure(results[0], candles)
    else:
        figure = equity_figure(results, names)
    return write_png(figure, path, width=width, height=height)


def default_report_path(source: str | os.PathLike[str], *, compare: bool = False) -> Path:
    """``<stem>.html`` beside the first result (``<stem>.compare.html`` for a comparison)."""
    first = Path(source)
    stem = first.name[: -len(first.suffix)] if first.suffix else first.name
    return first.with_name(f"{stem}.compare.html" if compare else f"{stem}.html")


def report_files(
    sources: Sequence[str | os.PathLike[str]],
    *,
    output: str | os.PathLike[str] | None = None,
    png: str | os.PathLike[str] | None = None,
    title: str | None = None,
    settings: Settings | None = None,
    offline: bool = True,
) -> ReportOutcome:
    """``hbbacktest report``: one result's report, or the comparison of several.

    Args:
        sources: result files (:func:`load_result`); two or more make a comparison, each
            run named by its config id and fill model.
        output: the HTML file (default :func:`default_report_path`).
        png: also export the main chart (the comparison: the equity chart) as PNG here.
        title: the page title.
        settings: where the candle cache is.
        offline: never fetch candles (a report of a run whose candles are not cached then
            shows its reference price instead, and says so).

    Raises:
        ConfigError: no source, or a source that is not a result.
        OutputError: a file cannot be written, or no Chromium for ``png``.
    """
    if not sources:
        raise ConfigError("give at least one result file")
    if png is not None:
        from hbbacktest.report.png import require_browser

        require_browser()  # before any work: a missing Chromium is known now
    results = [load_result(source) for source in sources]
    compare = len(results) > 1
    target = (
        Path(output) if output is not None else default_report_path(sources[0], compare=compare)
    )
    notes: list[str] = []
    candles = None
    names = None  # a comparison names each run by its config id and fill model
    if compare:
        html = render_compare(results, names, title=title)
    else:
        from hbbacktest.report import run_report

        candles = result_candles(results[0], settings=settings, offline=offline, notes=notes)
        html = run_report(results[0], candles=candles, title=title, notes=notes)
    written = write_report(html, target)
    png_path = None
    if png is not None:
        png_path = write_png_chart(results, png, candles=candles, names=names)
    return ReportOutcome(html_path=written, png_path=png_path, notes=notes)


def write_run_report(
    result: BacktestResult,
    path: str | os.PathLike[str],
    *,
    png: str | os.PathLike[str] | None = None,
    title: str | None = None,
) -> ReportOutcome:
    """``hbbacktest run --report``: the report of a run just made, on the candles it used.

    Raises:
        OutputError: a file cannot be written, or no Chromium for ``png``.
    """
    from hbbacktest.report import run_report

    document = result.to_dict()
    candles = None
    notes: list[str] = []
    if result.bars is not None and len(result.bars):
        start = int(result.bar_ts[result.start_row]) if result.bar_ts.shape[0] else 0
        candles = _bar_columns(result.bars.between(start, int(result.request.end)))
        request = result.request
        notes.append(
            f"candles: {request.backtesting_resolution} {request.price_connector} "
            f"{request.price_pair} from {result.data_source} (the run's own)"
        )
    html = run_report(document, candles=candles, title=title, notes=notes)
    written = write_report(html, path)
    png_path = None
    if png is not None:
        png_path = write_png_chart([document], png, candles=candles)
    return ReportOutcome(html_path=written, png_path=png_path)
