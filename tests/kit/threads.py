"""Running code in a worker thread, as a server runs backtests."""

from __future__ import annotations

import threading
from collections.abc import Callable


def in_thread(fn: Callable[[], object], *, join_s: float = 60.0) -> BaseException | None:
    """Run ``fn`` in a worker thread and return what it raised (None if nothing)."""
    box: list[BaseException | None] = [None]

    def target() -> None:
        try:
            fn()
        except BaseException as exc:
            box[0] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(join_s)
    assert not thread.is_alive()
    return box[0]
