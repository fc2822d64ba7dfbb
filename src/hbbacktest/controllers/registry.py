"""Finds controllers by ``controller_name`` and turns raw configs into validated config models.

User controllers (files in configured directories) are listed by name without being imported:
a file is imported the first time its controller is needed, so a broken or hanging file only
affects configs that name it.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from hbbacktest.config.controller import ControllerConfigBase
from hbbacktest.config.validation import validate_model
from hbbacktest.controllers.base import ControllerBase
from hbbacktest.core.deadline import DEFAULT_CONTROLLER_TIMEOUT_S
from hbbacktest.core.errors import ConfigError, ControllerError, call_controller, did_you_mean

_BUILTIN = "hbbacktest.controllers.builtin"
# The built-ins by name, with their type: listing them (``controllers list``) imports nothing,
# since their modules pull in NumPy, TA-Lib and numba. A test checks this table against the
# classes themselves.
BUILTIN_CATALOG: tuple[tuple[str, str, str], ...] = (
    ("pmm_simple", "market_making", f"{_BUILTIN}.market_making.pmm_simple:PMMSimpleController"),
    ("pmm_dynamic", "market_making", f"{_BUILTIN}.market_making.pmm_dynamic:PMMDynamicController"),
    (
        "pmm_dynamic_2",
        "market_making",
        f"{_BUILTIN}.market_making.pmm_dynamic_2:PMMDynamic2Controller",
    ),
    ("pmm_skew", "market_making", f"{_BUILTIN}.market_making.pmm_skew:PMMSkewController"),
    (
        "dman_maker_v2",
        "market_making",
        f"{_BUILTIN}.market_making.dman_maker_v2:DManMakerV2Controller",
    ),
    (
        "bollinger_v1",
        "directional_trading",
        f"{_BUILTIN}.directional_trading.bollinger_v1:BollingerV1Controller",
    ),
    (
        "macd_bb_v1",
        "directional_trading",
        f"{_BUILTIN}.directional_trading.macd_bb_v1:MACDBBV1Controller",
    ),
    (
        "supertrend_v1",
        "directional_trading",
        f"{_BUILTIN}.directional_trading.supertrend_v1:SuperTrendController",
    ),
    ("dman_v3", "directional_trading", f"{_BUILTIN}.directional_trading.dman_v3:DManV3Controller"),
    ("grid_strike", "generic", f"{_BUILTIN}.generic.grid_strike:GridStrikeController"),
)


def _import_builtin(target: str) -> type[ControllerBase[Any]]:
    module, _, attr = target.partition(":")
    controller: type[ControllerBase[Any]] = getattr(importlib.import_module(module), attr)
    return controller


def __getattr__(name: str) -> object:
    # BUILTIN_CONTROLLERS (the classes) imports every built-in module: only when asked for.
    if name == "BUILTIN_CONTROLLERS":
        return tuple(_import_builtin(target) for _, _, target in BUILTIN_CATALOG)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _name_of(controller: type[ControllerBase[Any]]) -> str:
    return str(controller.config_class.model_fields["controller_name"].default)


def _type_of(controller: type[ControllerBase[Any]]) -> str:
    return str(controller.config_class.model_fields["controller_type"].default)


class ControllerSource(Protocol):
    """A user controller file found in a controllers directory, not imported yet."""

    @property
    def name(self) -> str:
        """The controller_name (the file's stem)."""

    @property
    def path(self) -> Path:
        """The file."""

    def load(self) -> type[ControllerBase[Any]]:
        """Import the file and return its controller class.

        Raises:
            ControllerError: the file failed to import (or ran out of time), or does not
                define one config and one controller class; the message names file and line.
        """


class ControllerRegistry:
    """The controllers a service can run, keyed by ``controller_name``.

    Built with the built-ins by default; nothing is imported from a name a request carries.
    User controllers (``plugins``) override built-ins of the same name and are imported on
    first use, each once per registry (a failure is kept and raised again whenever a config
    names that controller: never does a broken user file fall back to the built-in it shadows).

    Args:
        controllers: the controller classes to offer besides user files; None (the default)
            offers the built-ins, each imported the first time it is needed.
        plugins: user controller files, in directory order (a later one wins on a name clash).
        time_limit_s: time limit of each phase of controller code (``None``: none); the
            controllers this registry creates carry it (``ControllerBase.time_limit_s``).

    Example:
        >>> registry = ControllerRegistry()
        >>> registry.get("pmm_simple").__name__
        'PMMSimpleController'
    """

    def __init__(
        self,
        controllers: Iterable[type[ControllerBase[Any]]] | None = None,
        *,
        plugins: Iterable[ControllerSource] = (),
        time_limit_s: float | None = DEFAULT_CONTROLLER_TIMEOUT_S,
    ) -> None:
        self._lazy: dict[str, tuple[str, str]] = {}
        if controllers is None:
            self._lazy = {name: (kind, target) for name, kind, target in BUILTIN_CATALOG}
            controllers = ()
        self._controllers = {_name_of(c): c for c in controllers}
        self._plugins = {plugin.name: plugin for plugin in plugins}
        self._time_limit_s = time_limit_s
        self._loaded: dict[str, type[ControllerBase[Any]]] = {}
        self._failed: dict[str, ControllerError] = {}
        # The API may share a registry between threads: import each file once.
        self._lock = threading.Lock()

    @property
    def time_limit_s(self) -> float | None:
        """Time limit of each phase of controller code, in seconds (``None``: none)."""
        return self._time_limit_s

    @property
    def broken(self) -> dict[str, str]:
        """User controller files that fail to load: name → error naming the file and line.

        Imports every user file not imported yet (each under the time limit).
        """
        self._load_all()
        return {name: str(error) for name, error in self._failed.items()}

    def source(self, name: str) -> str:
        """Where a controller comes from: ``builtin`` or its file (nothing is imported)."""
        plugin = self._plugins.get(name)
        return "builtin" if plugin is None else str(plugin.path)

    def names(self) -> list[str]:
        """Controller names, sorted (nothing is imported)."""
        return sorted(set(self._controllers) | set(self._lazy) | set(self._plugins))

    def describe(self) -> list[tuple[str, str]]:
        """(controller_type, controller_name) pairs of the controllers that load, sorted.

        Imports every user file not imported yet (each under the time limit); those that fail
        are left out here and listed by :attr:`broken`.
        """
        self._load_all()
        pairs = [(_type_of(c), n) for n, c in self._controllers.items() if n not in self._plugins]
        pairs += [
            (kind, n)
            for n, (kind, _) in self._lazy.items()
            if n not in self._plugins and n not in self._controllers
        ]
        pairs += [(_type_of(c), n) for n, c in self._loaded.items()]
        return sorted(pairs)

    def get(self, name: str) -> type[ControllerBase[Any]]:
        """The controller class registered under ``name``, importing its file if needed.

        Raises:
            ConfigError: for an unknown name, with suggestions and the list of names.
            ControllerError: the user file of that name fails to load (each time it is asked
                for), even when a built-in has the same name.
        """
        if name in self._plugins:
            return self._load(name)
        if name not in self._controllers and name in self._lazy:
            self._controllers[name] = _import_builtin(self._lazy[name][1])
        try:
            return self._controllers[name]
        except KeyError:
            names = self.names()
            raise ConfigError(
                f"unknown controller_name {name!r}{did_you_mean(name, names)}; "
                f"available: {', '.join(names)}"
            ) from None

    def load_config(self, data: Any, *, source: str = "controller config") -> ControllerConfigBase:
        """Validate a raw config (a mapping as read from YAML/JSON) into its config model.

        Raises:
            ConfigError: when ``controller_name`` is missing or unknown, or any field is invalid;
                the message names each field, the value given and what was expected.
            ControllerError: the controller's file fails to load, or its config class's own
                code (a validator) fails other than by rejecting a value.
        """
        if isinstance(data, ControllerConfigBase):
            return data
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{source}: expected a mapping of config fields, got {type(data).__name__}"
            )
        name = data.get("controller_name")
        if name is None or name == "":
            raise ConfigError(
                f"{source}: controller_name is missing; set it to one of: {', '.join(self.names())}"
            )
        if not isinstance(name, str):
            raise ConfigError(
                f"{source}: controller_name = {name!r} is a {type(name).__name__}, not a "
                f"controller name; set it to one of: {', '.join(self.names())}"
            )
        controller = self.get(name)
        return call_controller(
            lambda: validate_model(
                controller.config_class, dict(data), source=f"{source} ({name})"
            ),
            controller_name=name,
            during="config validation",
            time_limit_s=self._time_limit_s if name in self._plugins else None,
        )

    def create(self, config: ControllerConfigBase) -> ControllerBase[Any]:
        """Instantiate the controller for a validated config.

        Raises:
            ControllerError: the controller's ``__init__`` failed or ran out of time.
        """
        name = config.controller_name
        cls = self.get(name)
        controller = call_controller(
            lambda: cls(config),
            controller_name=name,
            during="__init__",
            time_limit_s=self._time_limit_s if name in self._plugins else None,
        )
        controller.time_limit_s = self._time_limit_s
        return controller

    def _load(self, name: str) -> type[ControllerBase[Any]]:
        with self._lock:
            loaded = self._loaded.get(name)
            if loaded is not None:
                return loaded
            failed = self._failed.get(name)
            if failed is None:
                try:
                    loaded = self._plugins[name].load()
                except ControllerError as exc:
                    failed = self._failed[name] = exc
                else:
                    self._loaded[name] = loaded
                    return loaded
        # A fresh error each time: re-raising one instance would grow its traceback.
        raise ControllerError(
            str(failed), controller_name=name, file=failed.file, line=failed.line
        ) from failed.__cause__

    def _load_all(self) -> None:
        for name in self._plugins:
            try:
                self._load(name)
            except ControllerError:
                pass  # kept in self._failed


def default_registry() -> ControllerRegistry:
    """A registry of the built-in controllers (no user controllers, the default time limit)."""
    return ControllerRegistry()
