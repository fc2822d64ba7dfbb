"""ControllerRegistry: lookup by controller_name and config loading."""

from __future__ import annotations

import pytest

from hbbacktest.controllers import ControllerRegistry, default_registry
from hbbacktest.controllers.builtin.market_making.pmm_dynamic import PMMDynamicController
from hbbacktest.controllers.builtin.market_making.pmm_simple import (
    PMMSimpleConfig,
    PMMSimpleController,
)
from hbbacktest.core.errors import ConfigError

MARKET_MAKING = ["dman_maker_v2", "pmm_dynamic", "pmm_dynamic_2", "pmm_simple", "pmm_skew"]


def available() -> str:
    return ", ".join(ControllerRegistry().names())


def test_builtin_names() -> None:
    registry = ControllerRegistry()
    names = registry.names()
    assert names == sorted(names)
    assert set(MARKET_MAKING) <= set(names)
    assert default_registry().names() == names
    described = registry.describe()
    assert described == sorted(described)
    assert [name for kind, name in described if kind == "market_making"] == MARKET_MAKING
    assert sorted(name for _, name in described) == names


def test_get_and_create() -> None:
    registry = ControllerRegistry()
    assert registry.get("pmm_simple") is PMMSimpleController
    config = registry.load_config({"controller_name": "pmm_dynamic"})
    assert isinstance(registry.create(config), PMMDynamicController)


def test_custom_registry_only_knows_its_controllers() -> None:
    registry = ControllerRegistry([PMMSimpleController])
    assert registry.names() == ["pmm_simple"]
    with pytest.raises(ConfigError, match=r"available: pmm_simple$"):
        registry.get("pmm_skew")


@pytest.mark.parametrize("data", [{}, {"controller_name": ""}, {"controller_name": 3}])
def test_missing_controller_name_lists_available(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        ControllerRegistry().load_config(data, source="my.yml")
    assert str(info.value) == f"my.yml: controller_name is missing; set it to one of: {available()}"
    assert "pmm_simple" in available()


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError) as info:
        ControllerRegistry().load_config({"controller_name": "pmm_simpel"})
    message = str(info.value)
    assert message.startswith("unknown controller_name 'pmm_simpel'")
    assert "did you mean 'pmm_simple'" in message
    assert message.endswith(f"available: {available()}")


def test_unknown_name_without_close_match() -> None:
    with pytest.raises(ConfigError) as info:
        ControllerRegistry().get("xemm_multiple_levels")
    assert "did you mean" not in str(info.value)
    assert str(info.value) == (
        f"unknown controller_name 'xemm_multiple_levels'; available: {available()}"
    )


def test_non_mapping_config() -> None:
    with pytest.raises(ConfigError, match=r"^cfg: expected a mapping of config fields, got list$"):
        ControllerRegistry().load_config(["controller_name"], source="cfg")


def test_validated_config_passes_through() -> None:
    config = PMMSimpleConfig(buy_spreads=[0.1])  # type: ignore[arg-type]
    assert ControllerRegistry().load_config(config) is config


def test_load_config_source_appears_in_errors() -> None:
    with pytest.raises(ConfigError, match=r"^invalid bot\.yml \(pmm_skew\) \(1 problem\):"):
        ControllerRegistry().load_config(
            {"controller_name": "pmm_skew", "skew_factor": 1.5}, source="bot.yml"
        )
