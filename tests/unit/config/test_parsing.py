"""Readers for Hummingbot's config value shapes."""

from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.config.parsing import blank_to_none, comma_list, enum_by_name
from hbbacktest.core.enums import OrderType


@pytest.mark.parametrize(
    "given, expected",
    [
        ("0.01,0.02", ["0.01", "0.02"]),
        ("[0.01, 0.02]", ["0.01", "0.02"]),
        ("", []),
        ("  ", []),
        ("[]", []),
        (0.5, [0.5]),
        (3, [3]),
        ([1, 2], [1, 2]),
        (None, None),
        (True, True),
        ({"a": 1}, {"a": 1}),
    ],
)
def test_comma_list(given: Any, expected: Any) -> None:
    assert comma_list(given) == expected


@pytest.mark.parametrize(
    "given, expected",
    [
        ("LIMIT", OrderType.LIMIT),
        ("limit", OrderType.LIMIT),
        (" OrderType.LIMIT_MAKER ", OrderType.LIMIT_MAKER),
        (1, OrderType.MARKET),
        (OrderType.LIMIT, OrderType.LIMIT),
    ],
)
def test_enum_by_name(given: Any, expected: OrderType) -> None:
    assert enum_by_name(OrderType, given) is expected


@pytest.mark.parametrize("given", ["STOP", 7, 2.0, True, None])
def test_enum_by_name_rejects_with_the_names(given: Any) -> None:
    with pytest.raises(ValueError) as info:
        enum_by_name(OrderType, given)
    assert str(info.value) == f"expected one of MARKET, LIMIT, LIMIT_MAKER, got {given!r}"


@pytest.mark.parametrize(
    "given, expected", [("", None), ("   ", None), ("0.1", "0.1"), (0, 0), (None, None)]
)
def test_blank_to_none(given: Any, expected: Any) -> None:
    assert blank_to_none(given) == expected
