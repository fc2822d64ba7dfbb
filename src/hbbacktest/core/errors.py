"""The one exception hierarchy of hbbacktest, sorted by what the caller should do.

* :class:`ConfigError` — the user must fix their input (HTTP 422, CLI exit code 2).
* :class:`DataError` / :class:`DataMissingError` — candles are invalid or absent; the message
  names the range and the command that fixes it.
* :class:`ControllerError` — a controller's own code raised; carries the controller name.
* :class:`InternalError` — a broken invariant inside hbbacktest: a bug, please report it.
"""

from __future__ import annotations

import difflib
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


class HbBacktestError(Exception):
    """Root of every error hbbacktest raises on purpose."""

    exit_code: int = 1


class ConfigError(HbBacktestError, ValueError):
    """The request or controller configuration is invalid; the message says which field and why."""

    exit_code = 2


class DataError(HbBacktestError):
    """Candle data is malformed (missing columns, NaN, duplicates, unsorted rows …)."""

    exit_code = 3


class DataMissingError(DataError):
    """The candles needed for a run are not in the store."""


class ControllerError(HbBacktestError):
    """A controller's own code failed while computing features or deciding actions."""

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        controller_name: str | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.controller_name = controller_name
        self.file = file
        self.line = line

    @classmethod
    def from_exception(
        cls, exc: BaseException, *, controller_name: str | None, during: str
    ) -> ControllerError:
        """Wrap an exception raised by controller code, naming the file and line that raised it.

        The line shown is the deepest frame outside hbbacktest and installed libraries, i.e. the
        user's own code when it is theirs, else the deepest frame.
        """
        file, line = where(exc)
        place = f" at {file}:{line}" if file else ""
        return cls(
            f"controller {controller_name!r} failed in {during}{place}: "
            f"{type(exc).__name__}: {exc}",
            controller_name=controller_name,
            file=file,
            line=line,
        )


class OutputError(HbBacktestError):
    """A result or file could not be written; the target is left as it was."""

    exit_code = 5


class InternalError(HbBacktestError):
    """A broken invariant inside hbbacktest itself (a bug)."""

    exit_code = 1


EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a `` (did you mean 'x'?)`` suffix for an unknown name, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def call_controller(fn: Callable[[], T], *, controller_name: str | None, during: str) -> T:
    """Run controller code, turning what it raises into a :class:`ControllerError`.

    The error names the file and line that raised; a ``ControllerError`` passes unchanged.
    """
    try:
        return fn()
    except ControllerError:
        raise
    except Exception as exc:
        raise ControllerError.from_exception(
            exc, controller_name=controller_name, during=during
        ) from exc


def where(exc: BaseException) -> tuple[str | None, int | None]:
    """File and line of the deepest frame of ``exc`` that is not hbbacktest's or a library's."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, SyntaxError) and exc.filename:
        return exc.filename, exc.lineno
    for frame in reversed(frames):
        name = frame.filename
        if not name.startswith(_PACKAGE_DIR) and "site-packages" not in name and "<" not in name:
            return name, frame.lineno
    if frames:
        return frames[-1].filename, frames[-1].lineno
    return None, None
