"""A time limit for controller code, armed once per phase (importing a file, one run's work).

How code that runs too long is stopped:

* In the main thread, ``signal.setitimer(ITIMER_REAL)`` delivers ``SIGALRM``, whose handler
  raises :class:`TimeLimitExceeded` in the running code. A signal also interrupts blocking calls
  such as ``time.sleep``, ``select`` or a lock wait, so those are stopped too.
* In any other thread (signals reach only the main thread), a watchdog thread injects
  :class:`TimeLimitExceeded` with ``PyThreadState_SetAsyncExc``. It lands at the next Python
  bytecode the thread runs.

Either way the exception is raised again every :data:`REPEAT_S` seconds until the guarded block
exits, so code that catches it once (``except BaseException: pass``) is stopped at its next step.
Nothing runs per call of the guarded code: arming costs one timer (or one thread) per block.
The previous ``SIGALRM`` handler and interval timer are restored on exit. A limit entered while
another is active in the same thread does nothing: the outer one already bounds the whole block,
and two timers on one signal would fire into each other's clean-up.

Limits (this makes honest mistakes fail fast; it is not a sandbox):

* Code that never returns to Python cannot be stopped: a C extension or a numba kernel looping
  forever and, in a worker thread, a blocking call such as ``time.sleep(10**9)``, which is
  stopped only when it returns.
* Code that catches the exception inside an endless loop of its own keeps running.
* The interrupted code may leave its own objects half-updated; callers discard its work.

Running untrusted code safely needs a process that can be killed.
"""

from __future__ import annotations

import ctypes
import math
import signal
import sys
import threading
import time
import traceback
from types import FrameType, TracebackType
from typing import Any, Literal

#: The default limit of one phase of controller code (``HBBACKTEST_CONTROLLER_TIMEOUT``).
DEFAULT_CONTROLLER_TIMEOUT_S = 300.0
#: Once expired, the exception is raised again this often until the guarded block exits.
REPEAT_S = 0.1

_HAS_ITIMER = hasattr(signal, "setitimer") and hasattr(signal, "SIGALRM")
# Which threads are inside an armed limit: the one piece of state limits must share, since a
# thread has one SIGALRM timer and one async-exception slot.
_ACTIVE = threading.local()


class TimeLimitExceeded(BaseException):
    """Raised into code that outlived its :class:`TimeLimit`.

    A ``BaseException``, so that ``except Exception`` in controller code does not swallow it.
    """


def _stack(frame: FrameType | None) -> list[traceback.FrameSummary]:
    """The call stack ending at ``frame``, outermost first (no source is read)."""
    if frame is None:
        return []
    summary = traceback.StackSummary.extract(traceback.walk_stack(frame), lookup_lines=False)
    return list(reversed(summary))


def _set_async_exc(ident: int, exc: type[BaseException] | None) -> None:
    # ``None`` becomes a NULL pointer, which clears a pending exception instead.
    value = None if exc is None else ctypes.py_object(exc)
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), value)


class TimeLimit:
    """Context manager raising :class:`TimeLimitExceeded` in its block after ``seconds``.

    ``None``, zero, a negative or an infinite number means no limit. After the block,
    :attr:`expired` says whether the limit was reached (the block may have ended with
    :class:`TimeLimitExceeded`, or with whatever the code raised instead) and :attr:`stack`
    holds the stack of the guarded thread at that moment, outermost frame first.

    Example:
        >>> with TimeLimit(300.0) as limit:
        ...     total = sum(range(10))
        >>> limit.expired
        False
    """

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds if seconds is not None and 0 < seconds < math.inf else None
        self.expired = False
        self.stack: list[traceback.FrameSummary] = []
        self._finished = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._ident = 0
        self._watchdog: threading.Thread | None = None
        self._signal_mode = False
        self._old_handler: Any = None
        self._old_timer = (0.0, 0.0)
        self._armed_at = 0.0

    def __enter__(self) -> TimeLimit:
        if self.seconds is None:
            return self
        if getattr(_ACTIVE, "armed", False):
            self.seconds = None  # nested: the outer limit governs
            return self
        _ACTIVE.armed = True
        if _HAS_ITIMER and threading.current_thread() is threading.main_thread():
            old = signal.getsignal(signal.SIGALRM)
            # None: a handler set outside Python, which could not be put back.
            if old is not None:
                try:
                    signal.signal(signal.SIGALRM, self._on_alarm)
                except ValueError:  # not the main interpreter: signals are not ours to use
                    pass
                else:
                    self._signal_mode = True
                    self._old_handler = old
                    self._armed_at = time.monotonic()
                    self._old_timer = signal.setitimer(signal.ITIMER_REAL, self.seconds, REPEAT_S)
                    return self
        self._ident = threading.get_ident()
        self._watchdog = threading.Thread(
            target=self._watch, name="hbbacktest-time-limit", daemon=True
        )
        self._watchdog.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        if self.seconds is None:
            return False
        while True:
            try:
                self._disarm()
                _ACTIVE.armed = False
                return False
            except TimeLimitExceeded:
                # One last raise landed while disarming: the same expiry, already recorded.
                continue

    def _expire(self, frame: FrameType | None) -> None:
        if not self.expired:
            self.stack = _stack(frame)
            self.expired = True

    def _on_alarm(self, signum: int, frame: FrameType | None) -> None:
        if self._finished:
            return
        self._expire(frame)
        raise TimeLimitExceeded(f"time limit of {self.seconds:g} s exceeded")

    def _watch(self) -> None:
        if self._done.wait(self.seconds):
            return
        frame = sys._current_frames().get(self._ident)
        with self._lock:
            if self._finished:
                return
            self._expire(frame)
        del frame
        while True:
            with self._lock:
                if self._finished:
                    return
                _set_async_exc(self._ident, TimeLimitExceeded)
            if self._done.wait(REPEAT_S):
                return

    def _disarm(self) -> None:
        """Stop the timer and restore what was there; safe to call again if interrupted."""
        # First of all: from here on the handler does nothing and the watchdog injects nothing.
        self._finished = True
        if self._signal_mode:
            signal.setitimer(signal.ITIMER_REAL, 0.0)
            # signal.signal() runs a handler still pending (ours, now a no-op) before replacing it.
            signal.signal(signal.SIGALRM, self._old_handler)
            delay, interval = self._old_timer
            if delay > 0.0:
                left = delay - (time.monotonic() - self._armed_at)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), interval)
            self._signal_mode = False
            return
        if self._watchdog is not None:
            self._done.set()
            with self._lock:
                self._finished = True
            # An exception injected just before may still be pending: drop it.
            _set_async_exc(self._ident, None)
            self._watchdog.join()
            self._watchdog = None
