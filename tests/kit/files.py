"""Builders for files users hand to the CLI: candle CSVs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC


def candles_csv(
    path: Path, n: int = 30, *, step: int = 60, scale: int = 1, start: int = T0
) -> Path:
    """Write ``n`` valid rising candles ``step`` seconds apart from ``start`` to a CSV.

    ``scale`` multiplies the timestamps (1000 for epoch ms, 10**6 for µs, 10**9 for ns).
    """
    close = 100 + np.arange(n, dtype=float) * 0.1
    pd.DataFrame(
        {
            "timestamp": (start + step * np.arange(n)) * scale,
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.ones(n),
        }
    ).to_csv(path, index=False)
    return path
