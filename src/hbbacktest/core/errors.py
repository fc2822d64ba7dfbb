"""The one exception hierarchy of hbbacktest, sorted by what the caller should do.

* :class:`ConfigError` — the user must fix their input (HTTP 422, CLI exit code 2).
* :class:`DataError` / :class:`DataMissingError` — candles are invalid or absent; the message
  names the range and the command that fixes it.
* :class:`ControllerError` — a controller's own code raised; carries the controller name.
* :class:`InternalError` — a broken invariant inside hbbacktest: a bug, please report it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


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

    def __init__(self, message: str, *, controller_name: str | None = None) -> None:
        super().__init__(message)
        self.controller_name = controller_name


class InternalError(HbBacktestError):
    """A broken invariant inside hbbacktest itself (a bug)."""

    exit_code = 70


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return a `` (did you mean 'x'?)`` suffix for an unknown name, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
