"""The one exception hierarchy of hbbacktest, sorted by what the caller should do.

* :class:`ConfigError` — the user must fix their input (HTTP 422, CLI exit code 2).
* :class:`DataError` / :class:`DataMissingError` — candles are invalid or absent; the message
  names the range and the command that fixes it.
* :class:`ExchangeError` / :class:`ExchangeTemporaryError` (both data errors) — an exchange
  refused a candle request, or kept failing past the retry budget (try again later).
* :class:`ControllerError` — a controller's own code raised, ran too long, or returned something
  unusable; carries the controller name and the file and line to look at.
* :class:`NotFoundError` — a named thing (task, stored run, saved config) does not exist.
* :class:`BusyError` — the service's queue is full; retry after ``retry_after_s``.
* :class:`RunTimeoutError` — a backtest ran past the service's time limit and was stopped.
* :class:`InternalError` — a broken invariant inside hbbacktest: a bug, please report it.

:func:`call_controller` is the one place where controller code is run and its failures sorted.
"""

from __future__ import annotations

import difflib
import inspect
import os
import sysconfig
import traceback
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from hbbacktest.core.deadline import TimeLimit, TimeLimitExceeded

T = TypeVar("T")

_PACKAGE_DIR = str(Path(__file__).resolve().parents[1]) + os.sep
# Frames in these are never "the user's line": the standard library's, and installed packages'.
_LIBRARY_DIRS = tuple(
    sorted(
        {
            path.rstrip(os.sep) + os.sep
            for key in ("stdlib", "platstdlib")
            if (raw := sysconfig.get_paths().get(key))
            for path in (raw, str(Path(raw).resolve()))
        }
    )
)


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


class DatasetCorruptError(DataError):
    """A cached candle file cannot be used (unreadable, invalid values); fetching rebuilds it."""


class ExchangeError(DataError):
    """An exchange refused or could not answer a candle request (unknown pair, bad answer …).

    Retrying the same request will not help; the message says what the exchange said.
    """


class ExchangeTemporaryError(ExchangeError):
    """An exchange kept failing in a way that may pass (rate limit, 5xx, network).

    Raised once the retry budget ran out; running the same command later may succeed.
    """


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

        The line shown is the deepest frame of the controller's own code (not hbbacktest's, a
        library's or the standard library's); when the exception was raised further down,
        inside hbbacktest, that place is named too.
        """
        file, line = where(exc)
        place = f" at {file}:{line}" if file else ""
        frames = traceback.extract_tb(exc.__traceback__)
        if file and _is_user_file(file) and frames and frames[-1].filename.startswith(_PACKAGE_DIR):
            inner = frames[-1]
            place += f" (raised inside hbbacktest, {_short(inner.filename)}:{inner.lineno})"
        return cls(
            f"controller {controller_name!r} failed in {during}{place}: {_describe(exc)}",
            controller_name=controller_name,
            file=file,
            line=line,
        )

    @classmethod
    def timed_out(
        cls,
        limit: TimeLimit,
        exc: BaseException | None,
        *,
        controller_name: str | None,
        during: str,
    ) -> ControllerError:
        """The error for controller code stopped by its time limit, naming where it was."""
        frame = _user_frame(limit.stack) or (limit.stack[-1] if limit.stack else None)
        file: str | None
        line: int | None
        if frame is not None:
            file, line = frame.filename, frame.lineno
        elif exc is not None:
            file, line = where(exc)
        else:
            file, line = None, None
        place = f" (at {file}:{line} where it was when stopped)" if file else ""
        seconds = limit.seconds or 0.0
        return cls(
            f"controller {controller_name!r} took longer than {seconds:g} s in {during}{place}; "
            "raise HBBACKTEST_CONTROLLER_TIMEOUT if it really needs longer",
            controller_name=controller_name,
            file=file,
            line=line,
        )


class OutputError(HbBacktestError):
    """A result or file could not be written; the target is left as it was."""

    exit_code = 5


class NotFoundError(HbBacktestError):
    """A named thing (a task, a stored run, a saved config) does not exist (HTTP 404)."""

    exit_code = 2


class BusyError(HbBacktestError):
    """The service cannot take more work now (HTTP 429 with ``Retry-After``)."""

    exit_code = 75  # EX_TEMPFAIL

    def __init__(self, message: str, *, retry_after_s: int = 5) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[Any, ...]:
        return (_busy, (str(self), self.retry_after_s))


def _busy(message: str, retry_after_s: int) -> BusyError:
    return BusyError(message, retry_after_s=retry_after_s)


class RunTimeoutError(HbBacktestError):
    """A backtest ran past the service's time limit and its worker was stopped (HTTP 504)."""

    exit_code = 1


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


def call_controller(
    fn: Callable[[], T],
    *,
    controller_name: str | None,
    during: str,
    time_limit_s: float | None = None,
    source_file: str | None = None,
) -> T:
    """Run controller code and sort what goes wrong: the one wrapper around user code.

    Args:
        fn: the call into controller code.
        controller_name: named in messages.
        during: what was running (``compute_features``, ``on_bar`` …), named in messages.
        time_limit_s: stop ``fn`` after this many seconds (``None``: no limit). Armed once
            for the whole call, so wrap a phase, not each bar (see :mod:`hbbacktest.core.deadline`).
        source_file: the user's file being imported; an error that has no frame in user code
            is still that file's (it is unreadable, or not Python), not hbbacktest's.

    Raises:
        ControllerError: ``fn`` raised any exception (``SystemExit`` included), or ran out of
            time; the message names the file and line. An :class:`HbBacktestError` raised on
            purpose passes unchanged, and so does ``KeyboardInterrupt`` (Ctrl-C stays Ctrl-C).
        InternalError: the exception came from hbbacktest's own code only (no frame of user
            code in its traceback): a bug, not the controller's fault.

    Example:
        >>> call_controller(lambda: 1 + 1, controller_name="pmm_simple", during="compute_features")
        2
    """
    limit = TimeLimit(time_limit_s)
    try:
        with limit:
            result = fn()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        if limit.expired:
            raise ControllerError.timed_out(
                limit, exc, controller_name=controller_name, during=during
            ) from exc
        if isinstance(exc, HbBacktestError | TimeLimitExceeded):
            raise  # ours on purpose, or an outer limit's: the caller that armed it reports it
        if source_file is not None and not _has_user_frame(exc):
            raise ControllerError(
                f"controller {controller_name!r} failed in {during}: {_describe(exc)}",
                controller_name=controller_name,
                file=source_file,
            ) from exc
        if not _has_user_frame(exc):
            file, line = where(exc)
            place = f", at {_short(file)}:{line}" if file else ""
            raise InternalError(
                f"hbbacktest failed while running controller {controller_name!r} in {during}"
                f"{place}: {_describe(exc)}. This is a bug in hbbacktest, not in the controller: "
                "please report it"
            ) from exc
        raise ControllerError.from_exception(
            exc, controller_name=controller_name, during=during
        ) from exc
    if limit.expired:
        # The code finished, but only after its time was up (it swallowed the stop).
        raise ControllerError.timed_out(limit, None, controller_name=controller_name, during=during)
    return result


def code_location(obj: Any) -> tuple[str | None, int | None]:
    """File and line of the ``def`` of a function or method, for messages about what it returned.

    Example:
        >>> file, line = code_location(code_location)
        >>> file.endswith("errors.py") and line > 0
        True
    """
    target = inspect.unwrap(getattr(obj, "__func__", obj))
    try:
        file = inspect.getsourcefile(target)
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is None:
            return None, None
        return code.co_filename, code.co_firstlineno
    return file, line


def where(exc: BaseException) -> tuple[str | None, int | None]:
    """File and line of the deepest frame of ``exc`` in user code, else of its deepest frame.

    User code is any file outside hbbacktest, installed packages and the standard library.
    """
    if isinstance(exc, SyntaxError) and exc.filename and _is_user_file(exc.filename):
        return exc.filename, exc.lineno
    frames = traceback.extract_tb(exc.__traceback__)
    frame = _user_frame(frames) or (frames[-1] if frames else None)
    if frame is None:
        return None, None
    return frame.filename, frame.lineno


def _is_user_file(filename: str) -> bool:
    return not (
        "<" in filename  # <frozen importlib._bootstrap>, <string> …
        or filename.startswith(_PACKAGE_DIR)
        or "site-packages" in filename
        or "dist-packages" in filename
        or filename.startswith(_LIBRARY_DIRS)
    )


def _user_frame(frames: Sequence[traceback.FrameSummary]) -> traceback.FrameSummary | None:
    for frame in reversed(frames):
        if _is_user_file(frame.filename):
            return frame
    return None


def _has_user_frame(exc: BaseException) -> bool:
    if isinstance(exc, SyntaxError) and exc.filename and _is_user_file(exc.filename):
        return True
    return _user_frame(traceback.extract_tb(exc.__traceback__)) is not None


def _short(file: str | None) -> str:
    """A file inside hbbacktest relative to the package (``compat/api.py``)."""
    if file is None:
        return "?"
    return file[len(_PACKAGE_DIR) :] if file.startswith(_PACKAGE_DIR) else file


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SystemExit):
        return (
            f"SystemExit({exc.code!r}): the controller called sys.exit() or exit(), which "
            "cannot end a backtest; raise an exception instead"
        )
    return f"{type(exc).__name__}: {exc}"
