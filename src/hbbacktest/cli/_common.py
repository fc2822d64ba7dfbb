"""What every command shares: options, settings, and the one place errors become exit codes.

Only the standard library and Typer are imported here: the CLI must start fast, so commands
import the service layer (NumPy, numba, pandas, TA-Lib …) inside their functions.
"""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from hbbacktest.core.errors import EXIT_INTERRUPTED, HbBacktestError

if TYPE_CHECKING:
    from hbbacktest.config.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

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


def settings(data_dir: Path | None = None, controllers_dirs: list[Path] | None = None) -> Settings:
    """Settings from the environment, overridden by the command's options."""
    from hbbacktest.config.settings import Settings

    current = Settings.from_env()
    if data_dir is not None:
        current = replace(current, data_dir=data_dir)
    if controllers_dirs:
        current = replace(current, controllers_dirs=tuple(controllers_dirs))
    return current


def fail(message: str, code: int) -> typer.Exit:
    """Print ``error: message`` on stderr and return the Exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def handle_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Map what a command raises to one message line and one exit code.

    ``HbBacktestError`` → its ``exit_code`` (2 config, 3 data, 4 controller, 5 output);
    Ctrl-C → 130; anything else is a bug in hbbacktest → exit 1 with a short message (the
    traceback only with ``HBBACKTEST_DEBUG=1``). Never a bare traceback.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except HbBacktestError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except BrokenPipeError:
            # `hbbacktest data list | head`: the reader left, which is not an error. Point stdout
            # at /dev/null so the interpreter's final flush does not raise again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except OSError as exc:
            # What escapes the service's own translation is printing the outcome: stdout on a
            # full disk (`> /dev/full`) or a closed terminal.
            raise fail(f"cannot write the output: {exc.strerror or exc}", 5) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except Exception as exc:
            if os.environ.get("HBBACKTEST_DEBUG"):
                traceback.print_exc(file=sys.stderr)
            raise fail(
                f"internal error (a bug in hbbacktest, please report it): "
                f"{type(exc).__name__}: {exc}"
                + (
                    ""
                    if os.environ.get("HBBACKTEST_DEBUG")
                    else " — HBBACKTEST_DEBUG=1 shows the traceback"
                ),
                1,
            ) from None

    return wrapper
