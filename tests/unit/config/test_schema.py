"""Schemas carry field descriptions and enum names, for people and generated forms."""

from __future__ import annotations

import pytest

from hbbacktest.config.schema import config_schema
from hbbacktest.controllers.registry import BUILTIN_CONTROLLERS, default_registry


def test_enum_codes_are_named() -> None:
    schema = config_schema(default_registry().get("pmm_simple").config_class)
    order_type = schema["$defs"]["OrderType"]
    assert order_type["x-enum-names"] == ["MARKET", "LIMIT", "LIMIT_MAKER"]
    assert "MARKET (1)" in order_type["description"]


@pytest.mark.parametrize("controller", BUILTIN_CONTROLLERS, ids=lambda c: c.__name__)
def test_every_builtin_field_is_described(controller: type) -> None:
    schema = config_schema(controller.config_class)  # type: ignore[attr-defined]
    missing = [name for name, prop in schema["properties"].items() if not prop.get("description")]
    assert missing == []


def test_a_fields_own_description_wins() -> None:
    schema = config_schema(default_registry().get("pmm_simple").config_class)
    assert schema["properties"]["stop_loss"]["description"].startswith("Stop loss, fraction")
    assert "BASE-QUOTE" in schema["properties"]["trading_pair"]["description"]
