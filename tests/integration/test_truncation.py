"""The general look-ahead detector: the past must not depend on the future.

For every built-in controller and both fill models, on real candles:

* running on data that ends at T gives exactly the same executors (every field) and features up
  to T as running on the full data;
* changing the candles after T changes nothing before T.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hbbacktest import BacktestRequest, load_controller_config, run_backtest
from hbbacktest.data.store import CandleStore
from hbbacktest.metrics.result import BacktestResult

from .builtin_configs import BUILTIN_CONFIGS

START = 1_722_600_000  # 2024-08-02 12:00 UTC
END = START + 4 * 86_400
CUTS = [START + 9 * 3600 + 17 * 60, START + 47 * 3600 + 3 * 60, START + 80 * 3600 + 59 * 60]


def _run(store: CandleStore, name: str, fill_model: str, end: int) -> BacktestResult:
    config = load_controller_config(BUILTIN_CONFIGS[name])
    request = BacktestRequest(config=config, start=START, end=end, fill_model=fill_model)
    return run_backtest(request, store=store)


def _closed_before(result: BacktestResult, cut: int) -> np.ndarray:
    rec = result.records
    close_ts = result.bar_ts[rec["close_row"]]
    return rec[close_ts < cut]


def _assert_same_past(full: BacktestResult, other: BacktestResult, cut: int) -> None:
    a, b = _closed_before(full, cut), _closed_before(other, cut)
    assert a.shape[0] > 0, "the cut leaves no closed executor to compare"
    assert a.shape == b.shape
    for field in a.dtype.names or ():
        np.testing.assert_array_equal(a[field], b[field], err_msg=field)
    rows = int(np.searchsorted(full.bar_ts, cut, side="right"))
    for name, column in full.features.items():
        np.testing.assert_array_equal(column[:rows], other.features[name][:rows], err_msg=name)


@pytest.mark.parametrize("fill_model", ["hummingbot", "touch"])
@pytest.mark.parametrize("name", sorted(BUILTIN_CONFIGS))
def test_truncated_data_gives_the_same_past(
    shared_store: CandleStore, name: str, fill_model: str
) -> None:
    full = _run(shared_store, name, fill_model, END)
    for cut in CUTS:
        truncated = _run(shared_store, name, fill_model, cut)
        assert truncated.bar_ts[-1] == cut
        _assert_same_past(full, truncated, cut)


@pytest.fixture(scope="module")
def perturbed_store(
    shared_store: CandleStore, tmp_path_factory: pytest.TempPathFactory
) -> CandleStore:
    """The shared BTC-USDT candles with every candle after CUTS[1] scrambled."""
    store = CandleStore(Path(tmp_path_factory.mktemp("perturbed")))
    frame = shared_store.load("binance", "BTC-USDT", "1m").to_frame()
    after = frame["timestamp"] > CUTS[1]
    rng = np.random.default_rng(7)
    factor = np.exp(np.cumsum(rng.normal(0, 0.004, int(after.sum()))))
    for column in ("open", "high", "low", "close"):
        frame.loc[after, column] = frame.loc[after, column] * factor
    frame.loc[after, "high"] = frame.loc[after, ["open", "high", "close"]].max(axis=1) * 1.002
    frame.loc[after, "low"] = frame.loc[after, ["open", "low", "close"]].min(axis=1) * 0.998
    store.write("binance", "BTC-USDT", "1m", frame)
    return store


@pytest.mark.parametrize("fill_model", ["hummingbot", "touch"])
@pytest.mark.parametrize("name", sorted(BUILTIN_CONFIGS))
def test_changing_the_future_changes_nothing_before(
    shared_store: CandleStore, perturbed_store: CandleStore, name: str, fill_model: str
) -> None:
    original = _run(shared_store, name, fill_model, END)
    changed = _run(perturbed_store, name, fill_model, END)
    _assert_same_past(original, changed, CUTS[1])
    # and the perturbation is real: the futures differ
    assert not np.array_equal(original.records["net_pnl_quote"], changed.records["net_pnl_quote"])
