"""The immutable Candles container."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hbbacktest.data.candles import Candles


def make(ts: list[int], interval_s: int = 60) -> Candles:
    n = len(ts)
    price = np.arange(1.0, n + 1.0)
    return Candles(
        np.array(ts, dtype=np.int64),
        price,
        price + 1,
        price - 0.5,
        price + 0.5,
        price * 10,
        interval_s,
    )


def test_arrays_are_read_only_copies() -> None:
    source = np.array([0, 60], dtype=np.int64)
    candles = Candles(source, *(np.ones(2) for _ in range(5)), 60)
    assert not candles.ts.flags.writeable
    assert source.flags.writeable
    source[0] = 99
    assert candles.ts[0] == 0
    with pytest.raises(ValueError):
        candles.close[0] = 5.0


def test_from_frame_and_to_frame_round_trip() -> None:
    frame = pd.DataFrame(
        {
            "timestamp": [0, 60],
            "open": [1, 2],
            "high": [2, 3],
            "low": [1, 1],
            "close": [2, 2],
            "volume": [5, 6],
        }
    )
    candles = Candles.from_frame(frame, 60)
    assert candles.ts.dtype == np.int64
    assert candles.close.dtype == np.float64
    pd.testing.assert_frame_equal(
        candles.to_frame(), frame.astype({c: float for c in frame.columns[1:]})
    )


def test_length_and_ends() -> None:
    candles = make([0, 60, 120])
    assert len(candles) == 3
    assert (candles.first_ts, candles.last_ts) == (0, 120)
    empty = Candles.empty(300)
    assert len(empty) == 0
    assert empty.interval_s == 300
    assert (empty.first_ts, empty.last_ts) == (None, None)
    assert empty.describe_range() == "no candles"


def test_between_is_inclusive() -> None:
    candles = make([0, 60, 120, 180, 240])
    assert candles.between(60, 180).ts.tolist() == [60, 120, 180]
    assert candles.between(61, 179).ts.tolist() == [120]
    assert candles.between(1000, 2000).ts.tolist() == []
    window = candles.between(60, 180)
    assert window.close.tolist() == [2.5, 3.5, 4.5]
    assert window.interval_s == 60


def test_gaps() -> None:
    assert make([0, 60, 120]).gaps() == (0, 0)
    assert make([0, 180, 240, 540]).gaps() == (2, 6)
    assert make([0]).gaps() == (0, 0)


def test_largest_gap() -> None:
    assert make([0, 60, 120]).largest_gap() is None
    assert make([0]).largest_gap() is None
    assert make([0, 180, 240, 540]).largest_gap() == (240, 4)
    assert make([0, 180, 240, 420]).largest_gap() == (0, 2)  # ties: the first


def test_to_frame_imports_pandas_lazily() -> None:
    code = (
        "import sys\n"
        "import hbbacktest.data.candles, hbbacktest.data.convert, hbbacktest.data.store\n"
        "print('pandas' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_describe_range() -> None:
    candles = make([1_704_067_200, 1_704_067_260])
    assert candles.describe_range() == "2024-01-01 00:00:00 – 2024-01-01 00:01:00 UTC (2 candles)"
