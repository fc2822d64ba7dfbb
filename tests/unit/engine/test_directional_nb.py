"""``directional_nb``: signal → market-entry executors, per-side limit and cooldown, by hand."""

from __future__ import annotations

import numpy as np

from hbbacktest.engine import records as R
from hbbacktest.engine.nb import directional_nb
from tests.kit.bars import bars, params

FLAT = [100.0] * 10


def _run(
    signal: list[float], *, max_per_side: int = 2, cooldown: float = 0.0, **kw: float | None
) -> np.ndarray:
    b = bars(FLAT)
    return directional_nb(
        b.ts,
        b.o,
        b.h,
        b.l,
        b.c,
        0,
        np.array(signal, dtype=np.float64),
        1000.0,
        max_per_side,
        cooldown,
        np.empty(0),
        np.empty(0),
        np.ones(len(FLAT)),
        np.ones(len(FLAT)),
        params(open_is_limit=0, **kw),
    )


def test_one_executor_per_signal_bar_up_to_the_side_limit() -> None:
    # time limit 600 s: executors created at rows 0 and 1 are still open at rows 2..; the third
    # long signal (row 2) is refused, a short on row 3 is accepted (its own side is empty).
    out = _run([1, 1, 1, -1, 0, 0, 0, 0, 0, 0], time_limit_s=600)
    assert list(out[:, R.CREATED_ROW]) == [0, 1, 3]
    assert list(out[:, R.SIDE]) == [1.0, 1.0, 2.0]
    # market entry at the signal bar's close; amount = 1000 / 100 base
    assert list(out[:, R.FILL_ROW]) == [0, 1, 3]
    assert np.all(out[:, R.AMOUNT_BASE] == 10.0)


def test_a_closed_executor_frees_its_slot_on_its_close_row() -> None:
    # max 1 per side, time limit 120 s: the row-0 executor closes at row 2, so a long at row 2 opens
    out = _run([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], max_per_side=1, time_limit_s=120)
    assert list(out[:, R.CREATED_ROW]) == [0, 2]
    assert out[0, R.CLOSE_ROW] == 2


def test_cooldown_counts_from_the_newest_active_executor_of_the_side() -> None:
    # cooldown 150 s: after a long at row 0 (t=0), the next long needs t - 0 > 150 → row 3 (t=180)
    out = _run([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], max_per_side=3, cooldown=150, time_limit_s=3000)
    assert list(out[:, R.CREATED_ROW]) == [0, 3]


def test_nan_and_zero_signals_do_nothing() -> None:
    assert _run([np.nan, 0, 0, 0, 0, 0, 0, 0, 0, 0]).shape[0] == 0
