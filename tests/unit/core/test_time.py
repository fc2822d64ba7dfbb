"""Time helpers: intervals, parsing and formatting, all UTC epoch seconds."""

from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.core.errors import ConfigError
from hbbacktest.core.time import format_time, interval_to_seconds, parse_time

AUG_1 = 1_722_470_400  # 2024-08-01 00:00 UTC


@pytest.mark.parametrize(
    "interval, seconds",
    [
        ("1s", 1),
        ("30s", 30),
        ("1m", 60),
        ("3m", 180),
        ("15m", 900),
        ("1h", 3600),
        ("4h", 14_400),
        ("1d", 86_400),
        ("1w", 604_800),
        ("1M", 2_592_000),
        (" 5m ", 300),
    ],
)
def test_interval_to_seconds(interval: str, seconds: int) -> None:
    assert interval_to_seconds(interval) == seconds


@pytest.mark.parametrize("interval", ["", "m", "0m", "1.5m", "-1m", "1x", "1 m", "1mm", "m1"])
def test_invalid_interval(interval: str) -> None:
    with pytest.raises(ConfigError) as info:
        interval_to_seconds(interval)
    message = str(info.value)
    assert f"invalid interval {interval!r}" in message
    assert "'1m'" in message


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-08-01", AUG_1),
        (" 2024-08-01 ", AUG_1),
        ("2024-08-01T12:00:00", AUG_1 + 43_200),
        ("2024-08-01 12:00:00", AUG_1 + 43_200),
        ("2024-08-01T12:00:00Z", AUG_1 + 43_200),
        ("2024-08-01T14:00:00+02:00", AUG_1 + 43_200),
        (AUG_1, AUG_1),
        (AUG_1 * 1000, AUG_1),
        (AUG_1 * 1000 + 999, AUG_1),
        (AUG_1 + 0.9, AUG_1),
        (str(AUG_1), AUG_1),
        (str(AUG_1 * 1000), AUG_1),
        (f"{AUG_1}.5", AUG_1),
        (0, 0),
        (AUG_1 * 1_000_000 + 5, AUG_1),
        (AUG_1 * 1_000_000_000, AUG_1),
        (str(AUG_1 * 1_000_000_000), AUG_1),
        (4_102_444_799, 4_102_444_799),
    ],
)
def test_parse_time(value: Any, expected: int) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01", "", "1/8/2024x"])
def test_parse_time_error_names_the_field(value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_time(value, field="start")
    message = str(info.value)
    assert message.startswith(f"start: cannot read {value!r}")
    assert "2024-08-01" in message


@pytest.mark.parametrize(
    "value",
    [9_999_999_999, 99_999_999_999_999_999, "99999999999999999", -1, 10**40, float("inf")],
)
def test_parse_time_rejects_numbers_in_no_unit(value: Any) -> None:
    # Between the ranges of s, ms, µs and ns (or past 2100 in each) nothing is a safe guess.
    with pytest.raises(ConfigError, match=r"^end: .*(between 1970 and 2100|epoch timestamp)"):
        parse_time(value, field="end")


@pytest.mark.parametrize("value", ["2255-01-01", "1969-12-31"])
def test_parse_time_rejects_dates_outside_1970_2100(value: str) -> None:
    with pytest.raises(ConfigError, match="outside 1970-01-01"):
        parse_time(value, field="start")


def test_interval_longer_than_a_year_is_refused() -> None:
    with pytest.raises(ConfigError, match="at most one year"):
        interval_to_seconds("999999999m")


def test_format_time_never_raises() -> None:
    assert format_time(10**20) == "epoch 100000000000000000000"


@pytest.mark.parametrize("value", [True, False])
def test_parse_time_rejects_bools(value: bool) -> None:
    with pytest.raises(ConfigError, match=r"^end: expected a date or an epoch timestamp"):
        parse_time(value, field="end")


def test_format_time() -> None:
    assert format_time(0) == "1970-01-01 00:00:00"
    assert format_time(AUG_1 + 43_261) == "2024-08-01 12:01:01"
    assert format_time(float(AUG_1) + 0.7) == "2024-08-01 00:00:00"


def test_parse_format_round_trip() -> None:
    assert parse_time(format_time(AUG_1 + 12_345)) == AUG_1 + 12_345
