"""Bounds on user input: numbers, lists, free-form data."""

from __future__ import annotations

import datetime as dt
import json
import math
from decimal import Decimal
from typing import Any

import pytest

from hbbacktest.config.controller import MarketMakingControllerConfigBase
from hbbacktest.config.limits import (
    MAX_INT,
    check_data_size,
    check_list_length,
    check_number_input,
    json_safe,
    numeric_field,
)


@pytest.mark.parametrize("value", [True, [1.0, False], MAX_INT + 1, [-(MAX_INT + 1)]])
def test_number_input_rejects_bools_and_huge_ints(value: Any) -> None:
    with pytest.raises(ValueError, match=r"boolean|out of range"):
        check_number_input(value)


def test_number_input_accepts_numbers_and_text() -> None:
    for value in (1, 1.5, "0.01,0.02", [1, 2.0], None, MAX_INT):
        check_number_input(value)


def test_list_length() -> None:
    check_list_length([0] * 1000)
    with pytest.raises(ValueError, match="1001 items"):
        check_list_length([0] * 1001)
    with pytest.raises(ValueError, match="at most 1000"):
        check_list_length(",".join(["0.1"] * 1001))


def test_numeric_field_reads_annotations() -> None:
    model = MarketMakingControllerConfigBase
    assert numeric_field(model, "total_amount_quote")
    assert numeric_field(model, "buy_spreads")
    assert numeric_field(model, "stop_loss")  # float | None
    assert not numeric_field(model, "skip_rebalance")
    assert not numeric_field(model, "connector_name")
    assert not numeric_field(model, "no_such_field")


def test_json_safe_makes_free_form_data_plain_json() -> None:
    value = {
        "nan": math.nan,
        "inf": [math.inf],
        "big": 10**40,
        "dec": Decimal("1.5"),
        "when": dt.date(2024, 1, 2),
        "blob": b"\xff",
        "set": {2, 1},
        1: "key",
    }
    safe = json_safe(value)
    json.dumps(safe, allow_nan=False)
    assert safe["nan"] == "nan" and safe["inf"] == ["inf"] and safe["big"] == str(10**40)
    assert safe["dec"] == 1.5 and safe["when"] == "2024-01-02" and safe["1"] == "key"
    assert safe["set"] == [1, 2]


def test_data_size_counts_shared_parts_each_time() -> None:
    leaf = list(range(10))
    shared = [leaf] * 100
    check_data_size({"a": shared}, source="ok")  # 1,000 values
    bomb: Any = leaf
    for _ in range(6):
        bomb = [bomb] * 10
    with pytest.raises(ValueError, match="each use of a YAML alias counted"):
        check_data_size(bomb, source="bomb")
