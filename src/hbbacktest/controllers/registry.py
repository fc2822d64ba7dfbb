"""Finds controllers by ``controller_name`` and turns raw configs into validated config models."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hbbacktest.config.controller import ControllerConfigBase
from hbbacktest.config.validation import validate_model
from hbbacktest.controllers.base import ControllerBase
from hbbacktest.controllers.builtin.directional_trading.bollinger_v1 import BollingerV1Controller
from hbbacktest.controllers.builtin.directional_trading.dman_v3 import DManV3Controller
from hbbacktest.controllers.builtin.directional_trading.macd_bb_v1 import MACDBBV1Controller
from hbbacktest.controllers.builtin.directional_trading.supertrend_v1 import SuperTrendController
from hbbacktest.controllers.builtin.generic.grid_strike import GridStrikeController
from hbbacktest.controllers.builtin.market_making.dman_maker_v2 import DManMakerV2Controller
from hbbacktest.controllers.builtin.market_making.pmm_dynamic import PMMDynamicController
from hbbacktest.controllers.builtin.market_making.pmm_dynamic_2 import PMMDynamic2Controller
from hbbacktest.controllers.builtin.market_making.pmm_simple import PMMSimpleController
from hbbacktest.controllers.builtin.market_making.pmm_skew import PMMSkewController
from hbbacktest.core.errors import ConfigError, ControllerError, did_you_mean

BUILTIN_CONTROLLERS: tuple[type[ControllerBase[Any]], ...] = (
    PMMSimpleController,
    PMMDynamicController,
    PMMDynamic2Controller,
    PMMSkewController,
    DManMakerV2Controller,
    BollingerV1Controller,
    MACDBBV1Controller,
    SuperTrendController,
    DManV3Controller,
    GridStrikeController,
)


def _name_of(controller: type[ControllerBase[Any]]) -> str:
    return str(controller.config_class.model_fields["controller_name"].default)


def _type_of(controller: type[ControllerBase[Any]]) -> str:
    return str(controller.config_class.model_fields["controller_type"].default)


class ControllerRegistry:
    """The controllers a service can run, keyed by ``controller_name``.

    Built with the built-ins by default; nothing is imported from a name a request carries.
    """

    def __init__(
        self,
        controllers: Iterable[type[ControllerBase[Any]]] = BUILTIN_CONTROLLERS,
        *,
        broken: Mapping[str, str] | None = None,
        sources: Mapping[str, str] | None = None,
    ) -> None:
        self._controllers = {_name_of(c): c for c in controllers}
        self._broken = dict(broken or {})
        self._sources = dict(sources or {})

    @property
    def broken(self) -> dict[str, str]:
        """Controller files that failed to load: name → error naming the file and line."""
        return dict(self._broken)

    def source(self, name: str) -> str:
        """Where a controller comes from: ``builtin`` or its file."""
        return self._sources.get(name, "builtin")

    def names(self) -> list[str]:
        """Controller names, sorted."""
        return sorted(self._controllers)

    def describe(self) -> list[tuple[str, str]]:
        """(controller_type, controller_name) pairs, sorted."""
        return sorted((_type_of(c), name) for name, c in self._controllers.items())

    def get(self, name: str) -> type[ControllerBase[Any]]:
        """The controller class registered under ``name``.

        Raises:
            ConfigError: for an unknown name, with suggestions and the list of names.
        """
        if name in self._broken and name not in self._controllers:
            raise ControllerError(self._broken[name], controller_name=name)
        try:
            return self._controllers[name]
        except KeyError:
            raise ConfigError(
                f"unknown controller_name {name!r}{did_you_mean(name, self._controllers)}; "
                f"available: {', '.join(self.names())}"
            ) from None

    def load_config(self, data: Any, *, source: str = "controller config") -> ControllerConfigBase:
        """Validate a raw config (a mapping as read from YAML/JSON) into its config model.

        Raises:
            ConfigError: when ``controller_name`` is missing or unknown, or any field is invalid;
                the message names each field, the value given and what was expected.
        """
        if isinstance(data, ControllerConfigBase):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{source}: expected a mapping of config fields, got {type(data).__name__}"
            )
        name = data.get("controller_name")
        if not name or not isinstance(name, str):
            raise ConfigError(
                f"{source}: controller_name is missing; set it to one of: {', '.join(self.names())}"
            )
        controller = self.get(name)
        return validate_model(controller.config_class, dict(data), source=f"{source} ({name})")

    def create(self, config: ControllerConfigBase) -> ControllerBase[Any]:
        """Instantiate the controller for a validated config."""
        return self.get(config.controller_name)(config)


def default_registry() -> ControllerRegistry:
    """A registry of the built-in controllers."""
    return ControllerRegistry()
