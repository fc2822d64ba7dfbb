"""``hbbacktest`` — command-line entry point (Typer).

Commands parse their input, call one service function, render the outcome and map errors to exit
codes (``cli/_common.py: handle_errors``): 0 ok, 1 internal error, 2 bad config or options,
3 data problem, 4 controller code failed, 5 output could not be written, 130 interrupted.
Heavy libraries are imported inside the commands, so ``--help`` and ``--version`` are instant.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from hbbacktest import __version__
from hbbacktest.cli.controllers import controllers_app
from hbbacktest.cli.data import data_app
from hbbacktest.cli.report import report
from hbbacktest.cli.run import run
from hbbacktest.cli.serve import serve
from hbbacktest.cli.sweep import sweep_app
from hbbacktest.core.errors import EXIT_INTERRUPTED

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Backtest Hummingbot V2 controllers, fast.",
    pretty_exceptions_enable=False,
    # Plain help text: rich (and markdown-it) would add ~0.12 s to every `--help`.
    rich_markup_mode=None,
)
app.add_typer(data_app, name="data")
app.add_typer(controllers_app, name="controllers")
app.add_typer(sweep_app, name="sweep")
app.command()(run)
app.command()(report)
app.command()(serve)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Backtest Hummingbot V2 controllers, fast."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    """Console-script entry point: run the command, then leave without interpreter teardown.

    Tearing down NumPy, numba/LLVM and pyarrow takes ~0.3 s after a backtest, a fifth of a
    whole run; everything the commands write is closed (and fsynced) before they return, and
    hbbacktest registers no exit hooks, so the process flushes its standard streams and ends.
    Exit codes are the commands' own (``cli/_common.py``); Typer's usage errors are 2.
    """
    try:
        app()  # Typer's standalone mode: usage errors print their message and exit 2
        code = 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            typer.echo(exc.code, err=True)
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except OSError as exc:  # `hbbacktest --help > /dev/full`: Typer's own printing failed
        _report(f"error: cannot write the output: {exc.strerror or exc}")
        code = 5
    except KeyboardInterrupt:  # between Typer's parsing and a command's own handler
        typer.echo("interrupted", err=True)
        code = EXIT_INTERRUPTED
    _exit_now(code)


def _report(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
    except OSError:
        pass


def _exit_now(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            pass  # the reader left: nothing more to deliver
        except ValueError:
            pass  # the stream is closed
        except OSError as exc:  # buffered output that cannot be written (a full disk)
            if stream is sys.stdout:
                _report(f"error: cannot write the output: {exc.strerror or exc}")
                code = 5
    os._exit(code)
