"""``align_features``: a feature row is visible to a bar only once its candle has closed;
``check_features``: what a controller returned is checked before that.

The decision at bar k is taken at its close, ``bar_ts[k] + resolution``; a feature row computed
from a candle opened at t with interval I is visible from t + I.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.config.controller import (
    DirectionalTradingControllerConfigBase,
    MarketMakingControllerConfigBase,
)
from hbbacktest.controllers.base import (
    DirectionalTradingControllerBase,
    FeatureTable,
    MarketData,
    MarketMakingControllerBase,
)
from hbbacktest.core.errors import ControllerError, InternalError
from hbbacktest.data.candles import Candles
from hbbacktest.engine import align_features
from hbbacktest.engine.backtest import EngineParams, check_features, run_controller

NAN = math.nan


def table(ts, interval_s, **columns) -> FeatureTable:
    return FeatureTable(
        ts=np.asarray(ts, dtype=np.int64),
        interval_s=interval_s,
        columns={name: np.asarray(values, dtype=np.float64) for name, values in columns.items()},
    )


def same(got: np.ndarray, want: list[float]) -> bool:
    return bool(np.array_equal(got, np.asarray(want, dtype=np.float64), equal_nan=True))


def test_3m_feature_on_1m_bars():
    # 1m bars at 0, 60, ..., 360; 3m rows opened at 0 (visible from 180) and 180 (from 360).
    # bar 0 decides at 60, bar 1 at 120: nothing closed yet -> NaN; bars 2, 3, 4 decide at 180,
    # 240, 300 -> row 0; bars 5, 6 decide at 360, 420 -> row 1.
    bar_ts = np.arange(0, 420, 60, dtype=np.int64)
    out = align_features(table([0, 180], 180, x=[10.0, 20.0]), bar_ts, 60)
    assert same(out["x"], [NAN, NAN, 10, 10, 10, 20, 20])


def test_same_interval_visible_on_own_bar():
    # a 1m row opened at t closes at t + 60, the close of bar t itself
    bar_ts = np.arange(0, 300, 60, dtype=np.int64)
    out = align_features(table(bar_ts, 60, x=[1.0, 2.0, 3.0, 4.0, 5.0]), bar_ts, 60)
    assert same(out["x"], [1, 2, 3, 4, 5])


def test_finer_feature_on_coarser_bars():
    # 3m bars at 0, 180 (decide at 180, 360); 1m rows at 0..300 with value = open time.
    # bar 0 sees rows closed by 180 -> the one opened at 120; bar 1 -> the one opened at 300.
    feature_ts = np.arange(0, 360, 60)
    out = align_features(table(feature_ts, 60, x=feature_ts), np.array([0, 180]), 180)
    assert same(out["x"], [120, 300])


def test_warm_up_rows_and_gaps():
    # feature rows (1m) at -120, -60, 0 then a gap until 180. Bars at 0, 60, 120, 180.
    # bar 0 (decides 60) -> row opened at 0; bars 1, 2 (120, 180) -> still row 0 (the next
    # closes at 240); bar 3 (240) -> row opened at 180.
    out = align_features(
        table([-120, -60, 0, 180], 60, x=[1, 2, 3, 4]), np.array([0, 60, 120, 180]), 60
    )
    assert same(out["x"], [3, 3, 3, 4])


def test_nan_rows_are_shown_as_they_are():
    # the latest visible row is shown, even when its value is NaN (no carrying forward)
    bar_ts = np.arange(0, 180, 60)
    out = align_features(table(bar_ts, 60, x=[1.0, NAN, 3.0]), bar_ts, 60)
    assert same(out["x"], [1, NAN, 3])


def test_several_columns_float64():
    bar_ts = np.arange(0, 120, 60)
    t = FeatureTable(ts=bar_ts, interval_s=60, columns={"a": np.array([1, 2]), "b": [0.5, 0.25]})
    out = align_features(t, bar_ts, 60)
    assert set(out) == {"a", "b"}
    assert out["a"].dtype == np.float64 and out["b"].dtype == np.float64
    assert same(out["a"], [1, 2]) and same(out["b"], [0.5, 0.25])


def test_no_columns():
    assert (
        align_features(FeatureTable(ts=np.array([0]), interval_s=60), np.array([0, 60]), 60) == {}
    )


def test_empty_table_gives_nan_columns():
    out = align_features(table([], 60, x=[]), np.array([0, 60, 120]), 60)
    assert same(out["x"], [NAN, NAN, NAN])


def test_no_bars():
    out = align_features(table([0], 60, x=[1.0]), np.array([], dtype=np.int64), 60)
    assert out["x"].shape == (0,)


@pytest.mark.parametrize("ts", [[0, 60, 60], [0, 120, 60]])
def test_timestamps_must_increase(ts):
    with pytest.raises(InternalError):
        align_features(table(ts, 60, x=[1, 2, 3]), np.array([0, 60]), 60)


def test_column_length_must_match():
    with pytest.raises(ControllerError, match="'x'"):
        align_features(table([0, 60], 60, x=[1.0]), np.array([0, 60]), 60)


@settings(max_examples=200, deadline=None, database=None)
@given(
    bar_step=st.sampled_from([60, 180, 300]),
    feature_step=st.sampled_from([60, 180, 300, 3600]),
    n_bars=st.integers(0, 15),
    feature_gaps=st.lists(st.integers(1, 3), min_size=0, max_size=15),
    feature_start=st.integers(-10, 10),
)
def test_latest_closed_row_property(bar_step, feature_step, n_bars, feature_gaps, feature_start):
    """Brute force: each bar shows the last row whose candle closed by the bar's close."""
    bar_ts = np.arange(n_bars, dtype=np.int64) * bar_step
    feature_ts, t = [], feature_start * feature_step
    for gap in feature_gaps:
        feature_ts.append(t)
        t += gap * feature_step
    values = [float(i) for i in range(len(feature_ts))]
    out = align_features(table(feature_ts, feature_step, x=values), bar_ts, bar_step)["x"]
    for k, bt in enumerate(bar_ts.tolist()):
        decide = bt + bar_step
        visible = [i for i, ft in enumerate(feature_ts) if ft + feature_step <= decide]
        want = float(visible[-1]) if visible else NAN
        assert (math.isnan(want) and math.isnan(out[k])) or out[k] == want


# --- check_features: what a controller's compute_features returned -------------------------


class _MM(MarketMakingControllerBase[MarketMakingControllerConfigBase]):
    def compute_features(self, data):  # type: ignore[no-untyped-def]
        return None


class _Directional(DirectionalTradingControllerBase[DirectionalTradingControllerConfigBase]):
    pass


MM = _MM(MarketMakingControllerConfigBase(controller_name="mm", trading_pair="BTC-USDT"))
DEF_LINE = _MM.compute_features.__code__.co_firstlineno
TS = np.array([0, 60, 120], dtype=np.int64)
PRICE = np.array([1.0, 2.0, 3.0])


def _bad(table: object, controller: Any = MM) -> str:
    with pytest.raises(ControllerError) as info:
        check_features(table, controller)
    assert info.value.exit_code == 4
    return str(info.value)


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        (None, ["returned None; expected a FeatureTable("]),
        (
            {"reference_price": PRICE},
            ["returned dict {'reference_price'", "expected a FeatureTable("],
        ),
        (
            FeatureTable(TS, 60, {"spread_multiplier": PRICE}),
            ["returned no 'reference_price' column (columns: 'spread_multiplier')"],
        ),
        (
            FeatureTable(TS, 60, {"reference_price": np.array(["1", "2", "3"])}),
            ["column 'reference_price'", "not numeric", "expected numbers"],
        ),
        (
            FeatureTable(TS, 60, {"reference_price": [1.0, "x", 3.0]}),
            ["column 'reference_price'", "not numeric"],
        ),
        (
            FeatureTable(TS, 60, {"reference_price": PRICE[:2]}),
            ["column 'reference_price' with 2 values for 3 timestamps", "one value per row of ts"],
        ),
        (FeatureTable(TS, 60, {"reference_price": [[1.0], [2.0, 3.0]]}), ["not numeric"]),
        (FeatureTable(TS, 60, {"reference_price": np.ones((3, 2))}), ["with shape (3, 2) values"]),
        (
            FeatureTable(TS[::-1], 60, {"reference_price": PRICE}),
            [
                "an unsorted timestamp: ts[1] = 60 after ts[0] = 120",
                "sorted ascending, without duplicates",
            ],
        ),
        (
            FeatureTable(np.array([0, 60, 60]), 60, {"reference_price": PRICE}),
            ["a duplicate timestamp: ts[2] = 60 after ts[1] = 60"],
        ),
        (
            FeatureTable(np.array([0.0, np.nan, 120.0]), 60, {"reference_price": PRICE}),
            ["ts with nan at row 1"],
        ),
        (
            FeatureTable(np.array([0.0, 60.5, 120.0]), 60, {"reference_price": PRICE}),
            ["ts with 60.5 at row 1", "whole"],
        ),
        (
            FeatureTable(TS.astype("datetime64[s]"), 60, {"reference_price": PRICE}),
            ["returned ts = ndarray", "epoch seconds"],
        ),
        (
            FeatureTable(TS, 0, {"reference_price": PRICE}),
            ["interval_s = 0", "positive whole number"],
        ),
        (FeatureTable(TS, "1m", {"reference_price": PRICE}), ["interval_s = '1m'"]),  # type: ignore[arg-type]
        (FeatureTable(TS, 60, [PRICE]), ["columns = list", "expected a dict"]),  # type: ignore[arg-type]
        (FeatureTable(TS, 60, {1: PRICE}), ["a column named 1"]),  # type: ignore[dict-item]
    ],
)
def test_bad_feature_tables_name_the_def_and_what_was_expected(
    table: object, fragments: list[str]
) -> None:
    message = _bad(table)
    assert message.startswith(
        f"controller 'mm': compute_features (defined at {__file__}:{DEF_LINE}) "
    )
    for fragment in fragments:
        assert fragment in message


def test_a_directional_controller_needs_a_signal() -> None:
    controller = _Directional(
        DirectionalTradingControllerConfigBase(controller_name="d", trading_pair="BTC-USDT")
    )
    message = _bad(FeatureTable(TS, 60, {"rsi": PRICE}), controller)
    assert "returned no 'signal' column (columns: 'rsi')" in message
    assert "base.py" in message  # the inherited compute_features


def test_good_tables_are_normalised() -> None:
    table = check_features(
        FeatureTable(
            [0.0, 60.0, 120.0],  # type: ignore[arg-type]
            60.0,  # type: ignore[arg-type]
            {"reference_price": [Decimal("1.5"), None, 3], "flag": np.array([True, False, True])},
        ),
        MM,
    )
    assert table.ts.dtype == np.int64 and table.interval_s == 60
    assert same(table.columns["reference_price"], [1.5, NAN, 3.0])
    assert same(table.columns["flag"], [1.0, 0.0, 1.0])
    assert check_features(
        FeatureTable(np.array([], dtype=np.int64), 60, {"reference_price": []}), MM
    ).ts.shape == (0,)


class _BadLevels(MarketMakingControllerBase[MarketMakingControllerConfigBase]):
    broken = "levels"

    def levels(self):  # type: ignore[no-untyped-def]
        return None if self.broken == "levels" else super().levels()

    def dca_levels(self):  # type: ignore[no-untyped-def]
        return ([0.01], [0.5, 0.5]) if self.broken == "dca_levels" else super().dca_levels()


@pytest.mark.parametrize(
    ("hook", "fragment"),
    [
        ("levels", "returned None; expected a list of Level"),
        (
            "dca_levels",
            "returned tuple ([0.01], [0.5, 0.5]); expected two lists of numbers of the same length",
        ),
    ],
)
def test_levels_and_dca_levels_are_checked(hook: str, fragment: str) -> None:
    controller = _BadLevels(
        MarketMakingControllerConfigBase(controller_name="mm", trading_pair="BTC-USDT")
    )
    controller.broken = hook
    close = np.array([100.0, 101.0, 102.0])
    ts = np.array([0, 60, 120], dtype=np.int64)
    bars = Candles(ts, close, close, close, close, np.ones(3), 60)
    with pytest.raises(ControllerError) as info:
        run_controller(controller, MarketData(bars=bars, feeds={}, start=0), EngineParams())
    line = getattr(_BadLevels, hook).__wrapped__.__code__.co_firstlineno
    assert (info.value.file, info.value.line) == (__file__, line)
    assert f"controller 'mm': {hook} (defined at {__file__}:{line}) {fragment}" in str(info.value)
