"""A sweep's results as a table, and its best config as a ready-to-run controller YAML.

The table has one column per varied parameter (named as in the spec) and one per metric
(named as in ``results``).
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError, DataError, OutputError
from hbbacktest.store import ResultRow, Store, parse_condition

__all__ = [
    "DEFAULT_METRIC",
    "best",
    "export",
    "open_store",
    "parse_condition",
    "run_command",
    "table",
    "write_config",
]

#: The metric ``sweep best`` ranks by when none is given.
DEFAULT_METRIC = "net_pnl_quote"


def open_store(settings: Settings, url: str | None = None) -> Store:
    """The results database a face should use.

    ``url``, else the settings' ``database_url``, else SQLite in the data directory
    (``<data dir>/hbbacktest.db``).

    Raises:
        ConfigError: a bad URL, a missing driver, a server that does not answer.
        OutputError: the SQLite file cannot be created.
    """
    return Store(url or settings.database_url or Store.default_url(settings.data_dir))


def table(rows: Sequence[ResultRow]) -> tuple[list[str], list[list[Any]]]:
    """Columns and rows of a result table; nested metrics become JSON text.

    Columns: ``index``, the parameters (spec names), the metrics (as in ``results``),
    ``status``, ``seconds``, ``error``, ``key``.
    """
    params: list[str] = []
    metrics: list[str] = []
    for row in rows:
        params += [name for name in row.params if name not in params]
        metrics += [name for name in row.metrics if name not in metrics]
    columns = ["index", *params, *metrics, "status", "seconds", "error", "key"]
    body = []
    for row in rows:
        body.append(
            [
                row.index,
                *(_cell(row.params.get(name)) for name in params),
                *(_cell(row.metrics.get(name)) for name in metrics),
                row.status,
                None if row.seconds is None else round(row.seconds, 6),
                row.error,
                row.key,
            ]
        )
    return columns, body


def _cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _typed(values: list[Any]) -> list[Any]:
    """A column Parquet can type: numbers stay numbers unless text is mixed in."""
    kinds = {type(v) for v in values if v is not None}
    if kinds <= {int, float} or kinds <= {str} or kinds <= {bool}:
        return values
    return [None if v is None else str(v) for v in values]


def export(rows: Sequence[ResultRow], path: str | os.PathLike[str]) -> Path:
    """Write the table to ``.csv`` or ``.parquet`` atomically (temporary file, then rename).

    Raises:
        ConfigError: another suffix; OutputError: the file cannot be written.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ConfigError(f"--export {target}: use a .csv or .parquet file name")
    columns, body = table(rows)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        if suffix == ".csv":
            import csv

            with open(tmp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(columns)
                writer.writerows(body)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            data = {name: _typed([line[i] for line in body]) for i, name in enumerate(columns)}
            pq.write_table(pa.table(data), tmp)
        os.replace(tmp, target)
    except (OSError, ValueError, TypeError) as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target.absolute()}: {exc}") from exc
    return target.absolute()


def best(
    store: Store, name: str, *, metric: str = DEFAULT_METRIC, descending: bool = True
) -> tuple[ResultRow, dict[str, Any]]:
    """The best finished item by a metric, and its controller config.

    Raises:
        ConfigError: unknown sweep or metric; DataError: no item has finished.
    """
    rows = store.results(name, sort=metric, descending=descending, top=1)
    if not rows:
        raise DataError(f"sweep {name!r} has no finished item yet; run it first")
    row = rows[0]
    blob = store.summary(name, row.key)
    if blob is None:
        raise DataError(f"sweep {name!r}: item {row.key[:12]} has no stored summary")
    document = json.loads(zlib.decompress(blob))
    return row, dict(document["request"])


def run_command(request: dict[str, Any], config_path: str) -> str:
    """The ``hbbacktest run`` line that reproduces a sweep item from its config file."""
    from hbbacktest.core.time import format_iso

    parts = [
        f"hbbacktest run {config_path}",
        f"--start {format_iso(request['start'])} --end {format_iso(request['end'])}",
        f"--resolution {request.get('backtesting_resolution', '1m')}",
        f"--trade-cost {request.get('trade_cost', 0.0006)}",
        f"--fill-model {request.get('fill_model', 'hummingbot')}",
    ]
    if request.get("candles_connector"):
        parts.append(f"--candles-connector {request['candles_connector']}")
    if request.get("candles_trading_pair"):
        parts.append(f"--candles-pair {request['candles_trading_pair']}")
    return " ".join(parts)


def write_config(config: dict[str, Any], path: str | os.PathLike[str], *, comment: str) -> Path:
    """Write a controller config as YAML, atomically, with comment lines on top.

    Raises:
        OutputError: the file cannot be written.
    """
    import yaml

    target = Path(path)
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    text = header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target.absolute()}: {exc.strerror or exc}") from exc
    return target.absolute()
