"""Loads user controllers from configured directories (``<controller_type>/<controller_name>.py``).

A file may be an hbbacktest controller (subclassing ``hbbacktest.controllers.base``) or a
Hummingbot V2 controller file, unchanged. While such a file runs — at import and whenever its
functions import something later — ``hummingbot.*`` and ``pandas_ta`` resolve to
``hbbacktest.compat``; this is done through the module's own ``__import__``, so nothing named
``hummingbot`` is ever installed in ``sys.modules`` (a real Hummingbot in the same environment
is unaffected). Only the directories given are searched: a request names a controller, never a
module path.

:func:`discover` only lists files; :meth:`ControllerFile.load` imports one, under the time
limit, when a registry first needs it. Whatever importing a file raises (``SystemExit``
included) or a file that runs out of time makes that file broken, reported by name, file and
line; the other files are unaffected.
"""

from __future__ import annotations

import builtins
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from hbbacktest.config.controller import ControllerConfigBase
from hbbacktest.controllers.base import ControllerBase
from hbbacktest.core.errors import ConfigError, ControllerError, call_controller

_MAPPED = {
    "hummingbot": "hbbacktest.compat.hummingbot",
    "pandas_ta": "hbbacktest.compat.pandas_ta",
}
_MODULE_PREFIX = "hbbacktest_user_controllers"
_T = TypeVar("_T")


def compat_import(
    name: str,
    globals: dict[str, Any] | None = None,
    locals: dict[str, Any] | None = None,
    fromlist: Sequence[str] | None = (),
    level: int = 0,
) -> ModuleType:
    """``__import__`` for user controller modules: Hummingbot's packages map to the compat layer."""
    root = name.partition(".")[0]
    if level == 0 and name == "talib":
        # TA-Lib as Hummingbot files expect it: Series in, Series out (see compat/talib.py).
        from hbbacktest.compat import talib

        return talib
    if level == 0 and root in _MAPPED:
        target = _MAPPED[root] + name[len(root) :]
        if root == "pandas_ta":
            from hbbacktest.compat import pandas_ta

            pandas_ta.register_accessor()
        try:
            module = builtins.__import__(target, globals, locals, fromlist or (), 0)
        except ModuleNotFoundError as exc:
            raise ModuleNotFoundError(
                f"{name!r} is not part of hbbacktest's Hummingbot compatibility layer "
                f"(docs/hummingbot-compatibility.md lists what is): {exc}",
                name=name,
            ) from None
        if fromlist:
            return module
        return importlib.import_module(_MAPPED[root])
    return builtins.__import__(name, globals, locals, fromlist or (), level)


@dataclass(frozen=True)
class LoadedController:
    """A controller found in a controllers directory."""

    name: str
    controller_type: str
    controller: type[ControllerBase[Any]]
    path: Path
    hummingbot_api: bool


@dataclass(frozen=True)
class ControllerFile:
    """A controller file found by :func:`discover`, imported only when :meth:`load` is called.

    Attributes:
        name: the controller_name (the file's stem).
        controller_type: the folder it is in.
        path: the file.
        time_limit_s: time limit of importing it (``None``: none).
    """

    name: str
    controller_type: str
    path: Path
    time_limit_s: float | None = None

    def load(self) -> type[ControllerBase[Any]]:
        """Import the file and return its controller class (see :func:`load_controller_file`)."""
        return load_controller_file(
            self.path, self.controller_type, time_limit_s=self.time_limit_s
        ).controller


def _exec_module(path: Path, module_name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    module.__dict__["__builtins__"] = {**builtins.__dict__, "__import__": compat_import}
    # pydantic resolves postponed annotations through sys.modules; the name is private to us.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


def _defined_here(module: ModuleType, base: type[_T]) -> list[type[_T]]:
    return [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, base)
        and value.__module__ == module.__name__
    ]


def _pick_config(
    configs: list[type[ControllerConfigBase]], name: str, path: Path
) -> type[ControllerConfigBase]:
    if not configs:
        raise _unusable(
            path,
            "no controller config class (a subclass of ControllerConfigBase, e.g. "
            "MarketMakingControllerConfigBase) is defined in this file",
        )
    named = [c for c in configs if c.model_fields.get("controller_name") is not None
             and c.model_fields["controller_name"].default == name]  # fmt: skip
    if len(named) == 1:
        return named[0]
    if len(configs) == 1:
        return configs[0]
    raise _unusable(
        path,
        f"several config classes ({', '.join(c.__name__ for c in configs)}); set "
        f"controller_name = {name!r} as the default of the one to use",
    )


def _pick_controller(controllers: list[type], path: Path) -> type:
    leaves = [
        c for c in controllers if not any(o is not c and issubclass(o, c) for o in controllers)
    ]
    if len(leaves) == 1:
        return leaves[0]
    if not leaves:
        raise _unusable(
            path,
            "no controller class (a subclass of ControllerBase, e.g. "
            "MarketMakingControllerBase) is defined in this file",
        )
    raise _unusable(
        path, f"several controller classes ({', '.join(c.__name__ for c in leaves)}); keep one"
    )


def _unusable(path: Path, problem: str) -> ControllerError:
    return ControllerError(f"{path}: {problem}", controller_name=path.stem, file=str(path))


def _preload_compat(path: Path) -> None:
    """Import the compatibility layer (and pandas) before a Hummingbot file's timed import.

    Otherwise its ~0.5 s would count against the user's time limit, and a slow machine would
    blame their file for hbbacktest's own import.
    """
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return  # the timed import reports it, naming the file
    if "hummingbot" in text or "pandas_ta" in text or "talib" in text:
        from hbbacktest.compat import adapter, api, pandas_ta, talib  # noqa: F401


def load_controller_file(
    path: Path, controller_type: str, *, time_limit_s: float | None = None
) -> LoadedController:
    """Import one controller file and pick its config and controller classes.

    Args:
        path: the file.
        controller_type: the folder it is in (part of the private module name).
        time_limit_s: stop the import after this many seconds (``None``: no limit).

    Raises:
        ControllerError: the file failed to import (any exception, ``SystemExit`` included),
            took longer than ``time_limit_s``, or defines no (or several) config or controller
            classes; the message names the file and, for exceptions, the line.
    """
    name = path.stem
    module_name = f"{_MODULE_PREFIX}.{controller_type}.{name}"
    _preload_compat(path)
    module = call_controller(
        lambda: _exec_module(path, module_name),
        controller_name=name,
        during=f"import of {path}",
        time_limit_s=time_limit_s,
        source_file=str(path),
    )
    config_class = _pick_config(_defined_here(module, ControllerConfigBase), name, path)
    native = _defined_here(module, ControllerBase)
    # The compatibility layer (pandas) loads with the first user file, not with `discover`.
    from hbbacktest.compat import api
    from hbbacktest.compat.adapter import HummingbotControllerAdapter

    hummingbot = _defined_here(module, api.ControllerBase)
    if hummingbot and not native:
        hb_class = _pick_controller(hummingbot, path)
        adapter = type(
            f"{hb_class.__name__}Adapter",
            (HummingbotControllerAdapter,),
            {"hb_class": hb_class, "config_class": config_class, "source": str(path)},
        )
        controller: type[ControllerBase[Any]] = adapter
    else:
        controller = _pick_controller(native, path)
        if "config_class" not in vars(controller):
            controller.config_class = config_class
        chosen = controller.config_class
        if not (isinstance(chosen, type) and issubclass(chosen, ControllerConfigBase)):
            raise _unusable(
                path,
                f"{controller.__name__}.config_class is {chosen!r}; expected a subclass of "
                "ControllerConfigBase (or leave it out: the file's config class is used)",
            )
    declared = controller.config_class.model_fields["controller_name"].default
    if declared != name:
        raise _unusable(
            path,
            f"the config's controller_name is {declared!r} but the file is {name}.py; "
            "Hummingbot finds a controller by its file name — rename one to match",
        )
    return LoadedController(
        name, controller_type, controller, path, bool(hummingbot and not native)
    )


def discover(
    directories: Iterable[Path], *, time_limit_s: float | None = None
) -> list[ControllerFile]:
    """Every ``<dir>/<controller_type>/<controller_name>.py`` under the given directories.

    Nothing is imported. Files and folders starting with ``_`` or ``.`` are skipped. A later
    file wins on a name clash (the list keeps only the winner, in directory order).

    Args:
        directories: the controllers directories, in order.
        time_limit_s: time limit of importing each file (``None``: none).

    Raises:
        ConfigError: a directory does not exist or is not a directory.

    Example:
        >>> discover([])
        []
    """
    found: dict[str, ControllerFile] = {}
    for directory in directories:
        root = Path(directory)
        try:
            is_dir, exists = root.is_dir(), root.exists()
        except OSError as exc:  # a name too long, a folder we may not enter …
            raise ConfigError(
                f"controllers directory {root} cannot be read: {exc.strerror or exc}"
            ) from None
        if not is_dir:
            what = "is not a directory" if exists else "does not exist"
            raise ConfigError(
                f"controllers directory {root} {what} (check --controllers-dir or "
                "HBBACKTEST_CONTROLLERS_DIR)"
            )
        for type_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            if type_dir.name.startswith(("_", ".")):
                continue
            for path in sorted(type_dir.glob("*.py")):
                if path.name.startswith(("_", ".")):
                    continue
                found.pop(path.stem, None)  # the winner takes the later place
                found[path.stem] = ControllerFile(path.stem, type_dir.name, path, time_limit_s)
    return list(found.values())
