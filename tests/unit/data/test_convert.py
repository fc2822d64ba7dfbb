"""normalize_frame / validate_frame / resample."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from hbbacktest.core.errors import DataError
from hbbacktest.core.time import EPOCH_UNITS, epoch_unit
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import (
    check_interval,
    epoch_units,
    infer_interval_s,
    interval_name,
    normalize_frame,
    resample,
    validate_frame,
)

JAN_1 = 1_704_067_200


def raw(ts: Any, **overrides: Any) -> pd.DataFrame:
    data: dict[str, Any] = {
        "timestamp": ts,
        "open": [10.0, 11.0, 12.0],
        "high": [11.0, 12.5, 13.0],
        "low": [9.5, 10.5, 11.0],
        "close": [11.0, 12.0, 12.5],
        "volume": [1.0, 2.0, 3.0],
    }
    data.update(overrides)
    return pd.DataFrame(data)


def data_error(frame: pd.DataFrame) -> str:
    with pytest.raises(DataError) as info:
        normalize_frame(frame, source="prices.csv")
    return str(info.value)


EXPECTED_TS = [JAN_1, JAN_1 + 60, JAN_1 + 120]


@pytest.mark.parametrize(
    "ts",
    [
        EXPECTED_TS,
        [float(t) for t in EXPECTED_TS],
        [t * 1000 for t in EXPECTED_TS],
        [str(t) for t in EXPECTED_TS],
        ["2024-01-01 00:00:00", "2024-01-01 00:01:00", "2024-01-01 00:02:00"],
        ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00Z", "2024-01-01T00:02:00Z"],
        ["2024-01-01T01:00:00+01:00", "2024-01-01T01:01:00+01:00", "2024-01-01T01:02:00+01:00"],
        pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02"]),
        pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01", "2024-01-01 00:02"], utc=True),
    ],
)
def test_timestamp_forms(ts: Any) -> None:
    frame = normalize_frame(raw(ts))
    assert frame["timestamp"].tolist() == EXPECTED_TS
    assert frame["timestamp"].dtype == np.int64
    assert list(frame.columns) == ["timestamp", "open", "high", "low", "close", "volume"]
    assert frame["close"].tolist() == [11.0, 12.0, 12.5]


@pytest.mark.parametrize("factor", [1_000_000, 1_000_000_000], ids=["us", "ns"])
def test_micro_and_nanoseconds_are_detected(factor: int) -> None:
    # epoch µs were once taken as seconds: merged into the store, then format_time overflowed
    frame = normalize_frame(raw([t * factor for t in EXPECTED_TS]))
    assert frame["timestamp"].tolist() == EXPECTED_TS


def test_nanoseconds_keep_full_precision() -> None:
    # float64 cannot hold epoch ns exactly; integer division must be used
    ns = [t * 1_000_000_000 + 999_999_999 for t in EXPECTED_TS]
    assert normalize_frame(raw(ns))["timestamp"].tolist() == EXPECTED_TS


def test_fractional_milliseconds_are_floored() -> None:
    ms = [t * 1000 + 999.5 for t in EXPECTED_TS]
    assert normalize_frame(raw(ms))["timestamp"].tolist() == EXPECTED_TS


def test_epoch_units_of_floats() -> None:
    values = np.array(
        [0, 4_102_444_799, 4_102_444_800, 1e11, JAN_1 * 1e6, JAN_1 * 1e9, -1, 4.2e18, np.inf]
    )
    assert epoch_units(values).tolist() == [0, 0, -1, 1, 2, 3, -1, -1, -1]


def test_epoch_units_of_integers_agree_with_core_time() -> None:
    values = [0, 4_102_444_799, 4_102_444_800, 10**11 - 1, 10**11, JAN_1 * 10**9, 2**63 - 1]
    expected = [
        -1 if unit is None else [u[0] for u in EPOCH_UNITS].index(unit[0])
        for unit in map(epoch_unit, values)
    ]
    assert epoch_units(np.array(values, dtype=np.int64)).tolist() == expected
    assert expected == [0, 0, -1, -1, 1, 3, -1]


def test_mixed_time_units_name_the_column_rows_and_units() -> None:
    ts = [JAN_1 * 1000, JAN_1 + 60, (JAN_1 + 120) * 1000]
    message = data_error(raw(ts))
    assert message.startswith("prices.csv: column 'timestamp' has mixed time units")
    assert "1 in s, 2 in ms; most are epoch ms" in message
    assert "accepted: epoch seconds, milliseconds, microseconds or nanoseconds" in message
    assert message.endswith("at row 1 (1704067260)")


@pytest.mark.parametrize(
    "bad", [-60, 5_000_000_000_000_000_000, 1e30], ids=["negative", "beyond-ns", "huge-float"]
)
def test_times_fitting_no_unit(bad: float) -> None:
    message = data_error(raw([JAN_1, JAN_1 + 60, bad]))
    assert message.startswith("prices.csv: column 'timestamp' has values that fit no time unit")
    assert "between 1970-01-01 and 2100-01-01 UTC" in message
    assert "at row 2 (" in message


def test_uint64_beyond_int64_fits_no_unit() -> None:
    ts = pd.Series([JAN_1, JAN_1 + 60, 2**64 - 1], dtype=np.uint64)
    assert "fit no time unit" in data_error(raw(ts))


@pytest.mark.parametrize(
    "ts",
    [
        ["1900-01-01", "1900-01-01 00:01", "1900-01-01 00:02"],
        pd.to_datetime(["2150-01-01 00:00", "2150-01-01 00:01", "2150-01-01 00:02"]),
    ],
    ids=["strings", "datetimes"],
)
def test_dates_outside_1970_2100(ts: Any) -> None:
    message = data_error(raw(ts))
    assert message.startswith("prices.csv: column 'timestamp' has dates outside 1970..2100")
    assert "row 0" in message


def test_duplicate_columns_after_case_folding() -> None:
    frame = raw(EXPECTED_TS)
    frame["OPEN"] = frame["open"]
    message = data_error(frame)
    assert message == (
        "prices.csv: column(s) 'open' appear more than once (names are compared "
        "case-insensitively); keep one of each"
    )


def test_validate_frame_reports_implausible_times_without_crashing() -> None:
    # a stored file written in µs: the message shows the raw number, format_time never sees it
    frame = normalize_frame(raw(EXPECTED_TS))
    frame["timestamp"] = frame["timestamp"] * 1_000_000
    with pytest.raises(DataError) as info:
        validate_frame(frame, source="stored")
    assert str(info.value).startswith(
        "stored: timestamps outside 1970-01-01..2100-01-01 (epoch seconds expected) at row 0 "
        "(1704067200000000)"
    )


def test_milliseconds_are_detected_from_1973() -> None:
    # 100_000_000_000 ms is 1973-03-03; below that (down to 2100 in seconds) no unit fits
    frame = normalize_frame(raw([100_000_000_000, 100_000_060_000, 100_000_120_000]))
    assert frame["timestamp"].tolist() == [100_000_000, 100_000_060, 100_000_120]
    assert "fit no time unit" in data_error(raw([10_000_000_000, 10_000_060_000, 10_000_120_000]))


@pytest.mark.parametrize(
    "name", ["time", "open_time", "date", "datetime", "ts", "Timestamp", " TIME "]
)
def test_time_column_names(name: str) -> None:
    frame = raw(EXPECTED_TS).rename(columns={"timestamp": name})
    assert normalize_frame(frame)["timestamp"].tolist() == EXPECTED_TS


def test_column_names_are_case_insensitive_and_volume_optional() -> None:
    frame = raw(EXPECTED_TS).drop(columns="volume").rename(columns=str.upper)
    out = normalize_frame(frame)
    assert out["volume"].tolist() == [0.0, 0.0, 0.0]
    assert out["open"].tolist() == [10.0, 11.0, 12.0]


def test_extra_columns_are_dropped_and_input_untouched() -> None:
    frame = raw(EXPECTED_TS, trades=[1, 2, 3])
    before = frame.copy()
    out = normalize_frame(frame)
    assert "trades" not in out.columns
    pd.testing.assert_frame_equal(frame, before)


def test_numeric_strings_in_prices_are_read() -> None:
    out = normalize_frame(raw(EXPECTED_TS, open=["10", "11", "12"]))
    assert out["open"].tolist() == [10.0, 11.0, 12.0]


def test_missing_columns() -> None:
    message = data_error(raw(EXPECTED_TS).drop(columns=["high", "close"]))
    assert message.startswith("prices.csv: missing column(s) high, close;")
    assert "found timestamp, open, low, volume" in message


def test_missing_time_column() -> None:
    message = data_error(raw(EXPECTED_TS).rename(columns={"timestamp": "when"}))
    assert message.startswith("prices.csv: missing column(s) timestamp;")


def test_empty_frame() -> None:
    empty = raw(EXPECTED_TS).iloc[:0]
    assert data_error(empty) == "prices.csv: the file holds no candles"


def test_nan_price() -> None:
    message = data_error(raw(EXPECTED_TS, close=[11.0, np.nan, 12.5]))
    assert message == "prices.csv: NaN or non-numeric prices/volume at row 1 (2024-01-01 00:01:00)"


def test_non_numeric_price() -> None:
    message = data_error(raw(EXPECTED_TS, volume=[1, "lots", 3]))
    assert "NaN or non-numeric prices/volume at row 1" in message


def test_infinite_price() -> None:
    assert "row 2" in data_error(raw(EXPECTED_TS, high=[11.0, 12.5, np.inf]))


def test_duplicate_timestamps() -> None:
    message = data_error(raw([JAN_1, JAN_1 + 60, JAN_1 + 60]))
    assert message == (
        "prices.csv: duplicate timestamps at row 2 (2024-01-01 00:01:00); keep one candle per time"
    )


def test_unsorted_rows() -> None:
    message = data_error(raw([JAN_1, JAN_1 + 120, JAN_1 + 60]))
    assert message == (
        "prices.csv: rows are not sorted by time; first out of order at row 2 (2024-01-01 00:01:00)"
    )


def test_high_below_open_or_close() -> None:
    message = data_error(raw(EXPECTED_TS, high=[11.0, 11.5, 13.0]))
    assert message == "prices.csv: high < max(open, close) at row 1 (2024-01-01 00:01:00)"


def test_low_above_open_or_close() -> None:
    message = data_error(raw(EXPECTED_TS, low=[9.5, 10.5, 12.4]))
    assert message == "prices.csv: low > min(open, close) at row 2 (2024-01-01 00:02:00)"


def test_non_positive_price_or_negative_volume() -> None:
    assert "non-positive price or negative volume at row 0" in data_error(
        raw(EXPECTED_TS, low=[0.0, 10.5, 11.0])
    )
    assert "non-positive price or negative volume at row 2" in data_error(
        raw(EXPECTED_TS, volume=[1.0, 2.0, -3.0])
    )


def test_many_bad_rows_are_summarised() -> None:
    n = 8
    frame = pd.DataFrame(
        {
            "timestamp": [JAN_1 + 60 * i for i in range(n)],
            "open": [1.0] * n,
            "high": [0.5] * n,
            "low": [0.5] * n,
            "close": [1.0] * n,
        }
    )
    message = data_error(frame)
    assert message.count("row ") == 5
    assert message.endswith("and 3 more")


def test_time_values_that_are_neither_numbers_nor_dates() -> None:
    message = data_error(raw(["a", "b", "c"]))
    assert message.startswith("prices.csv: column 'timestamp' has values that are neither")
    assert "row 0 ('a')" in message


def test_unreadable_date_names_the_bad_row() -> None:
    message = data_error(raw(["2024-01-01 00:00:00", "2024-01-01 00:01:00", "garbage"]))
    assert "row 2 ('garbage')" in message
    assert "row 0" not in message


@pytest.mark.parametrize(
    "ts, row",
    [
        ([JAN_1, np.nan, JAN_1 + 120], 1),
        ([JAN_1, JAN_1 + 60, np.nan], 2),
        ([JAN_1, "x", JAN_1 + 120], 1),
    ],
    ids=["nan-middle", "nan-last", "word"],
)
def test_missing_epoch_timestamp_names_the_row(ts: list[Any], row: int) -> None:
    # once read as nanoseconds by pd.to_datetime: 'duplicate timestamps at row 1 (1970-01-01 …)'
    message = data_error(raw(ts))
    assert message.startswith("prices.csv: column 'timestamp' has missing or non-numeric")
    assert f"at row {row} (" in message
    assert "1970" not in message


def test_missing_datetime_is_named() -> None:
    # once read as INT64_MIN: 'rows are not sorted … at row 2'
    ts = pd.to_datetime(["2024-01-01 00:00", None, "2024-01-01 00:02"])
    message = data_error(raw(ts))
    assert message.startswith("prices.csv: column 'timestamp' has missing times at row 1")
    assert "not sorted" not in message


def test_infer_interval() -> None:
    assert infer_interval_s(np.array([0, 60, 120, 300, 360])) == 60
    assert infer_interval_s(np.array([0])) is None
    assert infer_interval_s(np.array([0, 60, 180])) == 60  # a tie goes to the smallest


@pytest.mark.parametrize(
    "seconds, name",
    [(60, "1m"), (300, "5m"), (3600, "1h"), (7200, "2h"), (86400, "1d"), (604800, "1w"),
     (90, "90s"), (1, "1s"), (5400, "90m")],
)  # fmt: skip
def test_interval_name(seconds: int, name: str) -> None:
    assert interval_name(seconds) == name


def test_check_interval_accepts_matching_candles() -> None:
    check_interval(np.array([JAN_1, JAN_1 + 300, JAN_1 + 900]), "5m", 300, source="f")
    check_interval(np.array([JAN_1, JAN_1 + 600]), "5m", 300, source="f")  # 2 rows: no spacing


def test_check_interval_wrong_spacing() -> None:
    ts = JAN_1 + 900 * np.arange(5)
    with pytest.raises(DataError) as info:
        check_interval(ts, "5m", 300, source="f.csv")
    assert str(info.value) == (
        "f.csv: --interval is 5m but the candles are 15m apart (most common spacing); "
        "use --interval 15m"
    )


def test_check_interval_misaligned_without_a_better_interval() -> None:
    ts = JAN_1 + 30 + 60 * np.arange(4)  # 1m apart but opening at :30
    with pytest.raises(DataError) as info:
        check_interval(ts, "1m", 60, source="f.csv")
    assert str(info.value) == (
        "f.csv: 4 timestamps are not multiples of 1m (first 2024-01-01 00:00:30); "
        "is --interval right?"
    )


# --- resample ---------------------------------------------------------------------------


def candles(
    ts: list[int], o: list[float], h: list[float], l: list[float], c: list[float], v: list[float]
) -> Candles:
    f = np.asarray
    return Candles(
        f(ts, dtype=np.int64), f(o, float), f(h, float), f(l, float), f(c, float), f(v, float), 60
    )


T0 = JAN_1  # a multiple of 300 and 180

SIX = candles(
    [T0 + 60 * i for i in range(6)],
    o=[10, 11, 12, 13, 14, 15],
    h=[12, 13, 20, 14, 16, 18],
    l=[9, 10, 11, 5, 13, 14],
    c=[11, 12, 13, 14, 15, 16],
    v=[1, 2, 3, 4, 5, 6],
)


def as_rows(c: Candles) -> list[tuple[Any, ...]]:
    return list(zip(c.ts.tolist(), c.open, c.high, c.low, c.close, c.volume, strict=True))


def test_resample_to_3m() -> None:
    out = resample(SIX, 180)
    assert out.interval_s == 180
    assert as_rows(out) == [
        (T0, 10, 20, 9, 13, 6),
        (T0 + 180, 13, 18, 5, 16, 15),
    ]


def test_resample_to_5m() -> None:
    out = resample(SIX, 300)
    assert as_rows(out) == [
        (T0, 10, 20, 5, 15, 15),
        (T0 + 300, 15, 18, 14, 16, 6),
    ]


def test_resample_aligns_buckets_on_epoch_multiples() -> None:
    shifted = SIX.take(slice(1, 6))  # starts at T0 + 60, mid-bucket
    out = resample(shifted, 180)
    assert out.ts.tolist() == [T0, T0 + 180]
    assert as_rows(out)[0] == (T0, 11, 20, 10, 13, 5)


def test_resample_keeps_a_bucket_with_a_gap_and_drops_empty_buckets() -> None:
    gappy = candles(
        [T0, T0 + 120, T0 + 600, T0 + 660],
        o=[10, 12, 20, 21],
        h=[11, 15, 22, 23],
        l=[9, 11, 19, 20],
        c=[10.5, 13, 21, 22],
        v=[1, 2, 3, 4],
    )
    out = resample(gappy, 300)
    assert as_rows(out) == [
        (T0, 10, 15, 9, 13, 3),
        (T0 + 600, 20, 23, 19, 22, 7),
    ]


def test_resample_same_interval_is_identity() -> None:
    assert resample(SIX, 60) is SIX


def test_resample_empty() -> None:
    out = resample(Candles.empty(60), 300)
    assert len(out) == 0
    assert out.interval_s == 300


def test_resample_requires_a_multiple() -> None:
    with pytest.raises(DataError, match="cannot resample 60s candles to 90s"):
        resample(SIX, 90)
