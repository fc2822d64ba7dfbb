"""ControllerRegistry: lookup by controller_name, config loading, lazily imported user files."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import model_validator

from hbbacktest.controllers import ControllerBase, ControllerRegistry, default_registry
from hbbacktest.controllers.builtin.market_making.pmm_dynamic import PMMDynamicController
from hbbacktest.controllers.builtin.market_making.pmm_simple import (
    PMMSimpleConfig,
    PMMSimpleController,
)
from hbbacktest.core.errors import ConfigError, ControllerError

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


@pytest.mark.parametrize("data", [{}, {"controller_name": ""}])
def test_missing_controller_name_lists_available(data: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as info:
        ControllerRegistry().load_config(data, source="my.yml")
    assert str(info.value) == f"my.yml: controller_name is missing; set it to one of: {available()}"
    assert "pmm_simple" in available()


def test_controller_name_of_the_wrong_type_is_not_called_missing() -> None:
    with pytest.raises(ConfigError) as info:
        ControllerRegistry().load_config({"controller_name": 3}, source="my.yml")
    assert str(info.value) == (
        f"my.yml: controller_name = 3 is a int, not a controller name; set it to one of: "
        f"{available()}"
    )


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


# --- user controllers: listed without import, imported on first use --------------------------


@dataclass
class FakeSource:
    """A ControllerSource that counts its imports; ``fails`` makes it a broken file."""

    name: str
    path: Path
    controller: type[ControllerBase[Any]] | None = None
    fails: bool = False
    loads: int = 0

    def load(self) -> type[ControllerBase[Any]]:
        self.loads += 1
        if self.fails or self.controller is None:
            raise ControllerError(
                f"controller file {self.path} failed to import at {self.path}:3: RuntimeError: x",
                controller_name=self.name,
                file=str(self.path),
                line=3,
            )
        return self.controller


class ShadowConfig(PMMSimpleConfig):
    controller_name: str = "pmm_shadow"


class ShadowController(PMMSimpleController):
    config_class = ShadowConfig


def test_user_files_are_listed_without_being_imported() -> None:
    good = FakeSource("pmm_shadow", Path("/c/market_making/pmm_shadow.py"), ShadowController)
    bad = FakeSource("bad", Path("/c/market_making/bad.py"), fails=True)
    registry = ControllerRegistry(plugins=[good, bad])
    assert {"pmm_shadow", "bad", "pmm_simple"} <= set(registry.names())
    assert registry.source("bad") == "/c/market_making/bad.py"
    assert registry.source("pmm_simple") == "builtin"
    registry.get("pmm_simple")
    registry.load_config({"controller_name": "pmm_skew"})
    assert good.loads == bad.loads == 0
    assert registry.get("pmm_shadow") is ShadowController
    registry.get("pmm_shadow")
    assert good.loads == 1  # once per registry
    assert bad.loads == 0


def test_describe_and_broken_import_everything_once() -> None:
    good = FakeSource("pmm_shadow", Path("/c/market_making/pmm_shadow.py"), ShadowController)
    bad = FakeSource("bad", Path("/c/market_making/bad.py"), fails=True)
    registry = ControllerRegistry(plugins=[good, bad])
    described = registry.describe()
    assert ("market_making", "pmm_shadow") in described
    assert all(name != "bad" for _, name in described)
    assert registry.broken == {
        "bad": f"controller file {bad.path} failed to import at {bad.path}:3: RuntimeError: x"
    }
    assert (good.loads, bad.loads) == (1, 1)


def test_a_broken_file_raises_its_error_each_time_it_is_named() -> None:
    bad = FakeSource("bad", Path("/c/market_making/bad.py"), fails=True)
    registry = ControllerRegistry(plugins=[bad])
    for _ in range(2):
        with pytest.raises(ControllerError, match=r"bad\.py:3: RuntimeError: x") as info:
            registry.load_config({"controller_name": "bad"})
        assert info.value.exit_code == 4
        assert (info.value.file, info.value.line) == ("/c/market_making/bad.py", 3)
    assert bad.loads == 1


def test_a_broken_file_that_shadows_a_builtin_never_falls_back_to_it() -> None:
    shadow = FakeSource("pmm_simple", Path("/c/market_making/pmm_simple.py"), fails=True)
    registry = ControllerRegistry(plugins=[shadow])
    with pytest.raises(ControllerError, match=r"/c/market_making/pmm_simple\.py:3"):
        registry.get("pmm_simple")
    with pytest.raises(ControllerError, match=r"/c/market_making/pmm_simple\.py:3"):
        registry.load_config({"controller_name": "pmm_simple"})
    assert registry.source("pmm_simple") == "/c/market_making/pmm_simple.py"
    assert all(name != "pmm_simple" for _, name in registry.describe())
    assert "pmm_simple" in registry.broken


def test_unknown_name_suggestions_include_user_files() -> None:
    registry = ControllerRegistry(plugins=[FakeSource("my_pmm", Path("/c/x/my_pmm.py"))])
    with pytest.raises(ConfigError, match=r"did you mean 'my_pmm'.*available: .*my_pmm"):
        registry.get("my_pmn")


def test_created_controllers_carry_the_time_limit() -> None:
    config = ControllerRegistry().load_config({"controller_name": "pmm_simple"})
    assert ControllerRegistry(time_limit_s=7.0).create(config).time_limit_s == 7.0
    assert ControllerRegistry(time_limit_s=None).create(config).time_limit_s is None
    assert ControllerRegistry().time_limit_s == 300.0


class ExitingInitController(PMMSimpleController):
    def __init__(self, config: Any) -> None:
        sys.exit(3)


class ExitingValidatorConfig(PMMSimpleConfig):
    controller_name: str = "exiting_validator"

    @model_validator(mode="after")
    def _exit(self) -> ExitingValidatorConfig:
        sys.exit(0)


class ExitingValidatorController(PMMSimpleController):
    config_class = ExitingValidatorConfig


def test_a_controller_that_exits_in_init_or_in_a_validator() -> None:
    registry = ControllerRegistry([ExitingInitController, ExitingValidatorController])
    with pytest.raises(
        ControllerError, match=r"failed in __init__ at .*test_registry\.py:\d+: SystemExit\(3\)"
    ):
        registry.create(PMMSimpleConfig())
    with pytest.raises(
        ControllerError,
        match=r"failed in config validation at .*test_registry\.py:\d+: SystemExit\(0\)",
    ):
        registry.load_config({"controller_name": "exiting_validator"})


def test_builtin_catalog_matches_the_classes() -> None:
    from hbbacktest.controllers.registry import BUILTIN_CATALOG, BUILTIN_CONTROLLERS

    declared = [
        (
            c.config_class.model_fields["controller_name"].default,
            c.config_class.model_fields["controller_type"].default,
        )
        for c in BUILTIN_CONTROLLERS
    ]
    assert declared == [(name, kind) for name, kind, _ in BUILTIN_CATALOG]


def test_listing_builtins_imports_none_of_them() -> None:
    registry = ControllerRegistry()
    assert ("market_making", "pmm_simple") in registry.describe()
    assert registry._controllers == {}  # nothing imported just to list
    registry.get("pmm_simple")
    assert registry.describe().count(("market_making", "pmm_simple")) == 1
