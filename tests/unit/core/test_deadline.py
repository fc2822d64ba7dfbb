"""TimeLimit: stops code in the main thread and in worker threads, and leaves nothing behind."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator

import pytest

from hbbacktest.core.deadline import TimeLimit, TimeLimitExceeded
from tests.kit.threads import in_thread

LIMIT_S = 0.3


def busy() -> None:
    while True:
        pass


def swallow_once() -> None:
    try:
        while True:
            pass
    except BaseException:
        pass
    while True:  # the stop is raised again
        pass


@pytest.fixture(autouse=True)
def _no_alarm_left() -> Iterator[None]:
    before = signal.getsignal(signal.SIGALRM)
    yield
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize("seconds", [None, 0, -1.0, float("inf")])
def test_no_limit(seconds: float | None) -> None:
    with TimeLimit(seconds) as limit:
        total = sum(range(100))
    assert total == 4950
    assert limit.seconds is None
    assert not limit.expired


@pytest.mark.parametrize("fn", [busy, lambda: time.sleep(10**9), swallow_once])
def test_stops_code_in_the_main_thread(fn: Callable[[], None]) -> None:
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded), TimeLimit(LIMIT_S) as limit:
        fn()
    assert limit.expired
    assert time.monotonic() - start < 10 * LIMIT_S
    assert any(frame.filename == __file__ for frame in limit.stack)


@pytest.mark.parametrize("fn", [busy, swallow_once])
def test_stops_code_in_a_worker_thread(fn: Callable[[], None]) -> None:
    limits: list[TimeLimit] = []

    def guarded() -> None:
        with TimeLimit(LIMIT_S) as limit:
            limits.append(limit)
            fn()

    assert isinstance(in_thread(guarded, join_s=30), TimeLimitExceeded)
    assert limits[0].expired
    names = [frame.name for frame in limits[0].stack]
    assert ("busy" in names) or ("swallow_once" in names)


def test_code_that_ends_in_time_is_left_alone_and_nothing_lands_later() -> None:
    def quick() -> None:
        for _ in range(200):
            with TimeLimit(5.0):
                sum(range(100))
        time.sleep(0.05)  # a stray exception injected late would land here

    for _ in range(2):
        assert in_thread(quick, join_s=30) is None
    quick()


def test_the_previous_handler_and_timer_come_back() -> None:
    fired: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: fired.append(signum))
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.6)
        with pytest.raises(TimeLimitExceeded), TimeLimit(0.2):
            busy()
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert left < 0.6  # what was left of it, not a fresh timer
        time.sleep(1.0)
        assert fired == [signal.SIGALRM]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous)


def test_an_outer_limit_expiring_during_an_inner_one_stops_promptly() -> None:
    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded), TimeLimit(0.3) as outer, TimeLimit(5.0) as inner:
        busy()
    assert outer.expired and not inner.expired
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is not outer._on_alarm
    time.sleep(0.3)  # no stray alarm left behind
    assert time.monotonic() - start < 30


def test_nested_limits() -> None:
    with pytest.raises(TimeLimitExceeded), TimeLimit(LIMIT_S) as outer:
        with TimeLimit(10.0) as inner:
            sum(range(10))
        assert not inner.expired
        busy()
    assert outer.expired
