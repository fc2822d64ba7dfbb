"""``hbbacktest serve``: the HTTP API on uvicorn."""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from hbbacktest.cli._common import ControllersDir, DataDir, handle_errors, settings

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


@handle_errors
def serve(
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback needs credentials.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=256, help="Backtest worker processes (backtests run at once; default: CPUs)."
        ),
    ] = None,
    configs_dir: Annotated[
        Path | None,
        typer.Option(
            "--configs-dir",
            help="Saved controller configs (default: $HBBACKTEST_CONFIGS_DIR or <data-dir>/configs).",
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow a non-loopback address without credentials (or with admin/admin).",
        ),
    ] = False,
    log_level: Annotated[
        str, typer.Option(help="debug, info, warning or error.", case_sensitive=False)
    ] = "info",
    data_dir: DataDir = None,
    controllers_dir: ControllersDir = None,
) -> None:
    """Serve the HTTP API (hummingbot-api's /backtesting endpoints and more) on HOST:PORT.

    Credentials: HBBACKTEST_API_USERNAME and HBBACKTEST_API_PASSWORD (HTTP Basic). The results
    database: HBBACKTEST_DATABASE_URL (default: SQLite in the data dir). OpenAPI docs at /docs.
    """
    from hbbacktest.api.auth import check_bind
    from hbbacktest.core.errors import ConfigError

    level = log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"--log-level {log_level!r}: expected debug, info, warning or error")
    current = settings(data_dir, controllers_dir)
    if configs_dir is not None:
        current = replace(current, configs_dir=configs_dir)
    for note in check_bind(host, current, insecure=insecure):
        typer.echo(f"warning: {note}", err=True)

    import uvicorn

    from hbbacktest.api.app import create_app

    logging.basicConfig(level=level, format=LOG_FORMAT)
    app = create_app(current, workers=workers or os.cpu_count() or 1)
    typer.echo(
        f"hbbacktest API on http://{host}:{port} (docs at /docs; "
        f"{'auth on' if current.auth_enabled else 'no auth'})",
        err=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=False,  # the app logs each request with its id and duration
        timeout_graceful_shutdown=10,
    )
