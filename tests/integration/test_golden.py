"""Golden results: every built-in controller, both fill models, a week of real BTC-USDT 1m.

Compared with tolerances and shown as a readable diff on failure. After an intended change,
re-bless with::

    HBBACKTEST_BLESS=1 python -m pytest tests/integration/test_golden.py

and say why in the commit message.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from hbbacktest import BacktestRequest, load_controller_config, run_backtest
from hbbacktest.data.store import CandleStore

from .builtin_configs import BUILTIN_CONFIGS

GOLDEN = Path(__file__).parent / "golden"
START = 1_722_470_400  # 2024-08-01 00:00 UTC
END = START + 7 * 86_400
KEYS = (
    "net_pnl_quote",
    "total_executors",
    "total_positions",
    "total_volume",
    "total_fees_quote",
    "accuracy",
    "profit_factor",
    "max_drawdown_usd",
    "sharpe_ratio",
    "close_types",
)
REL_TOL = 1e-6


def _summary(name: str, fill_model: str, store: CandleStore) -> dict[str, Any]:
    config = load_controller_config(BUILTIN_CONFIGS[name])
    result = run_backtest(
        BacktestRequest(config=config, start=START, end=END, fill_model=fill_model), store=store
    )
    return {key: result.results[key] for key in KEYS}


def _diff(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    lines = []
    for key in KEYS:
        a, b = want.get(key), got.get(key)
        same = (
            math.isclose(a, b, rel_tol=REL_TOL, abs_tol=1e-9)
            if isinstance(a, float) and isinstance(b, float)
            else a == b
        )
        if not same:
            lines.append(f"  {key}: golden {a!r} → now {b!r}")
    return lines


@pytest.mark.parametrize("fill_model", ["hummingbot", "touch"])
@pytest.mark.parametrize("name", sorted(BUILTIN_CONFIGS))
def test_golden(shared_store: CandleStore, name: str, fill_model: str) -> None:
    path = GOLDEN / f"{name}__{fill_model}.json"
    got = _summary(name, fill_model, shared_store)
    if os.environ.get("HBBACKTEST_BLESS") == "1" or not path.exists():
        if not path.exists() and os.environ.get("CI"):
            pytest.fail(f"{path.name} is missing: bless it locally (see module docstring)")
        path.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n")
        return
    want = json.loads(path.read_text())
    problems = _diff(want, got)
    assert not problems, f"{name} ({fill_model}) differs from {path.name}:\n" + "\n".join(problems)
