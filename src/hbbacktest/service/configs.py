"""Saved controller configs (YAML files in one directory) and what the API tells about controllers.

hummingbot-api keeps controller configs as ``conf/controllers/<name>.yml`` and answers
``/controllers/...`` from them and from its controller files; this module is that, for the API's
thin routes. Names come from requests, so every name is checked before it touches the disk: it
must stay inside the configs directory (no absolute paths, ``..``, hidden parts, NUL bytes, or
symbolic links leading outside). Writes are atomic: a reader sees the old file or the new one,
never half of one.

Errors (all :class:`~hbbacktest.core.errors.ConfigError`, each saying what to change):

* :class:`ConfigNameError` — a name that is not allowed (HTTP 400).
* :class:`ConfigNotFoundError` — no config of that name; names the closest ones (HTTP 404).
* :class:`ControllerNotFoundError` — no controller of that type and name; lists the available
  ones, closest first (HTTP 404).
* A plain :class:`~hbbacktest.core.errors.ConfigError` — a config that is unreadable or invalid.
"""

from __future__ import annotations

import difflib
import enum
import inspect
import os
import sys
import tempfile
import types
import typing
from collections.abc import Iterator, Mapping
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from hbbacktest.config.controller import ControllerConfigBase, config_warnings
from hbbacktest.config.limits import MAX_CONFIG_BYTES, check_data_size, json_safe
from hbbacktest.config.loading import read_config_file
from hbbacktest.config.schema import FIELD_DESCRIPTIONS
from hbbacktest.config.schema import config_schema as _schema_of
from hbbacktest.controllers.base import ControllerBase
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, NotFoundError, OutputError, did_you_mean

__all__ = [
    "CONTROLLER_TYPES",
    "ConfigNameError",
    "ConfigNotFoundError",
    "ControllerNotFoundError",
    "config_schema",
    "config_template",
    "controller_catalogue",
    "controller_source",
    "delete_config",
    "list_configs",
    "read_config",
    "resolve_config_path",
    "save_config",
    "validate_config",
]

# hummingbot-api's ControllerType: GET /controllers/ always lists these, even when empty.
CONTROLLER_TYPES: tuple[str, ...] = ("directional_trading", "market_making", "generic")

_SUFFIXES = (".yml", ".yaml")
# One part of a name, in UTF-8 bytes: leaves room under NAME_MAX (255) for the temporary file
# written next to it (".<name>.<random>.tmp").
_MAX_PART_BYTES = 200
_MAX_NAME_CHARS = 1_000
_MAX_DEPTH = 8
_NAME_HINT = "give a name like 'my_config' or 'my_config.yml' (a folder inside the configs dir is fine: 'btc/my_config')"


class ConfigNameError(ConfigError):
    """A config name that is not allowed (it would leave the configs directory, or is malformed).

    The API answers it with HTTP 400.
    """


class ConfigNotFoundError(ConfigError, NotFoundError):
    """No saved config has that name; the message names the closest ones (HTTP 404)."""


class ControllerNotFoundError(ConfigError, NotFoundError):
    """No controller of that type and name; the message lists the available ones (HTTP 404)."""


# --------------------------------------------------------------------------------------------
# Names and paths


def _check_name(name: object) -> tuple[str, ...]:
    """The parts of a config name, or ConfigNameError saying what is wrong with it."""
    if not isinstance(name, str):
        raise ConfigNameError(f"config name must be text, got {type(name).__name__}; {_NAME_HINT}")
    shown = repr(name) if len(name) <= 80 else repr(name[:80]) + f"… ({len(name)} characters)"
    if not name.strip():
        raise ConfigNameError(f"config name is empty; {_NAME_HINT}")
    if len(name) > _MAX_NAME_CHARS:
        raise ConfigNameError(
            f"config name {shown} is longer than {_MAX_NAME_CHARS} characters; {_NAME_HINT}"
        )
    if "\x00" in name:
        raise ConfigNameError(f"config name {shown} contains a NUL byte; {_NAME_HINT}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ConfigNameError(
            f"config name {shown} contains a control character (newline, tab …); {_NAME_HINT}"
        )
    if "\\" in name:
        raise ConfigNameError(
            f"config name {shown} contains a backslash; separate folders with '/' ({_NAME_HINT})"
        )
    if name.startswith("/") or PurePosixPath(name).is_absolute():
        raise ConfigNameError(
            f"config name {shown} is an absolute path; configs are only read from and saved to "
            f"the configs directory: {_NAME_HINT}"
        )
    parts = tuple(name.split("/"))
    for part in parts:
        if part == "..":
            raise ConfigNameError(
                f"config name {shown} contains '..', which would leave the configs directory; "
                f"{_NAME_HINT}"
            )
        if part in ("", "."):
            raise ConfigNameError(
                f"config name {shown} has an empty or '.' part (a doubled, leading or trailing "
                f"'/'); {_NAME_HINT}"
            )
        if part.startswith("."):
            raise ConfigNameError(
                f"config name {shown} has a part starting with '.' ({part!r}): hidden files "
                f"are not configs; {_NAME_HINT}"
            )
        if len(part.encode("utf-8", "surrogatepass")) > _MAX_PART_BYTES:
            raise ConfigNameError(
                f"config name {shown} has a part longer than {_MAX_PART_BYTES} bytes; "
                "choose a shorter name"
            )
    if len(parts) > _MAX_DEPTH:
        raise ConfigNameError(
            f"config name {shown} is nested more than {_MAX_DEPTH} folders deep; {_NAME_HINT}"
        )
    return parts


def _root(configs_dir: Path) -> Path:
    try:
        return Path(configs_dir).resolve()
    except (OSError, RuntimeError) as exc:
        raise ConfigError(f"configs directory {configs_dir} cannot be resolved: {exc}") from None


def _check_inside(root: Path, path: Path, name: str) -> None:
    """Refuse a path that (through symbolic links) leads outside ``root``."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name too long …
        raise ConfigNameError(
            f"config name {name!r} cannot be resolved inside the configs directory ({exc}); "
            f"{_NAME_HINT}"
        ) from None
    if real == root or not real.is_relative_to(root):
        raise ConfigNameError(
            f"config name {name!r} leads outside the configs directory through a symbolic "
            "link; configs must be files inside it: copy the file in, or choose another name"
        )


def _stem(parts: tuple[str, ...]) -> str:
    """The config's name as listed: its relative path without ``.yml`` / ``.yaml``."""
    last = parts[-1]
    for suffix in _SUFFIXES:
        if last.lower().endswith(suffix) and len(last) > len(suffix):
            last = last[: -len(suffix)]
            break
    return "/".join((*parts[:-1], last))


def _candidates(parts: tuple[str, ...]) -> list[str]:
    last = parts[-1]
    if last.lower().endswith(_SUFFIXES) and last.lower() not in _SUFFIXES:
        return [last]
    return [last + suffix for suffix in _SUFFIXES]


def resolve_config_path(configs_dir: Path, name: str, *, must_exist: bool = True) -> Path:
    """The file of a saved config, checked to lie inside ``configs_dir``.

    ``name`` may be ``my_config``, ``my_config.yml`` or ``my_config.yaml`` (hummingbot-api's
    ``config_path``), or a relative path inside the directory (``btc/my_config``). Without a
    suffix, ``<name>.yml`` is used, or ``<name>.yaml`` when only that exists.

    Args:
        configs_dir: the configs directory (``Settings.configs_dir``); need not exist.
        name: the config name a request gave.
        must_exist: when False, return where the config would be saved even if it is absent.

    Returns:
        The path inside the (resolved) configs directory; its last part may be a symbolic link
        to another file inside the directory.

    Raises:
        ConfigNameError: ``name`` is empty, absolute, contains ``..``, a hidden part, a NUL or
            control character or a backslash, is too long, or leads outside the directory
            through a symbolic link.
        ConfigNotFoundError: ``must_exist`` and there is no such config (the closest names
            are suggested).

    Example:
        >>> resolve_config_path(Path("/srv/configs"), "pmm_demo", must_exist=False).name
        'pmm_demo.yml'
    """
    parts = _check_name(name)
    root = _root(configs_dir)
    folder = root.joinpath(*parts[:-1])
    candidates = [folder / candidate for candidate in _candidates(parts)]
    for path in candidates:
        _check_inside(root, path, name)
    for path in candidates:
        if os.path.lexists(path):
            if path.is_dir():
                raise ConfigNameError(
                    f"config name {name!r} is a folder in the configs directory, not a config; "
                    "name a file inside it"
                )
            return path
    if must_exist:
        stem = _stem(parts)
        names = _config_names(root)
        if not names:
            hint = "; no configs are saved yet (save one first)"
        else:
            hint = did_you_mean(stem, names) or "; saved configs: " + ", ".join(names[:20])
            if len(names) > 20:
                hint += f" … ({len(names)} in all)"
        raise ConfigNotFoundError(f"config {stem!r} not found{hint}")
    return candidates[0]


def _config_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(name, path) of every ``.yml`` / ``.yaml`` file under ``root``, without hidden ones.

    Symbolic links to folders are not followed (they could loop); a ``x.yaml`` next to an
    ``x.yml`` is named ``x.yaml`` (``x`` means the ``.yml``).
    """
    if not root.is_dir():
        return
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        base = Path(folder)
        rel = base.relative_to(root).parts
        if len(rel) >= _MAX_DEPTH:
            dirs[:] = []
        present = set(files)
        for file in sorted(files):
            lowered = file.lower()
            if file.startswith(".") or not lowered.endswith(_SUFFIXES) or lowered in _SUFFIXES:
                continue
            parts = (*rel, file)
            stem = _stem(parts)
            if lowered.endswith(".yaml") and stem.rsplit("/", 1)[-1] + ".yml" in present:
                stem = "/".join(parts)
            yield stem, base / file


def _config_names(root: Path) -> list[str]:
    return sorted(name for name, _ in _config_files(root))


# --------------------------------------------------------------------------------------------
# Saved configs


def _as_mapping(data: Any, source: str) -> dict[str, Any]:
    if data is None:
        raise ConfigError(f"{source} is empty; a controller config is a mapping of fields")
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source} holds a {type(data).__name__}, not a mapping of config fields "
            "(controller_name: ..., trading_pair: ...)"
        )
    return data


def read_config(configs_dir: Path, name: str, *, with_id: bool = False) -> dict[str, Any]:
    """Read a saved config as plain data (not validated).

    Args:
        configs_dir: the configs directory.
        name: the config's name (see :func:`resolve_config_path`).
        with_id: set ``id`` to the config's name, as hummingbot-api's
            ``GET /controllers/configs/{name}`` does.

    Raises:
        ConfigNameError: the name is not allowed.
        ConfigNotFoundError: there is no such config.
        ConfigError: the file is too large, not UTF-8, not valid YAML, or not a mapping.

    Example:
        >>> tmp = Path(tempfile.mkdtemp())
        >>> save_config(tmp, "demo_pmm", {"controller_name": "pmm_simple",
        ...             "connector_name": "demo", "trading_pair": "BTC-USDT"})["config_name"]
        'demo_pmm'
        >>> read_config(tmp, "demo_pmm")["connector_name"]
        'demo'
    """
    path = resolve_config_path(configs_dir, name)
    stem = _stem(_check_name(name))
    data = _plain_config(_as_mapping(read_config_file(path.resolve()), f"config {stem!r}"), stem)
    if with_id:
        data["id"] = stem
    return data


def _plain_config(data: dict[str, Any], stem: str) -> dict[str, Any]:
    """A config as plain JSON: string keys, no integers past 64 bits, no NaN (YAML allows all)."""
    try:
        plain = json_safe(data)
    except ValueError as exc:
        raise ConfigError(f"config {stem!r}: {exc}") from None
    return dict(plain)


def _modified_at(path: Path) -> int | None:
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return None


def list_configs(configs_dir: Path) -> list[dict[str, Any]]:
    """Every saved config, sorted by name, in hummingbot-api's ``GET /controllers/configs/`` shape.

    Each entry is the config's own fields with ``id`` set to its name (as upstream), plus
    ``config_name`` (the same name) and ``modified_at`` (UTC epoch seconds). A file that cannot
    be read is listed as ``{"id", "config_name", "controller_name": "error",
    "controller_type": "error", "error": <why>, "modified_at"}`` instead of failing the list.

    Args:
        configs_dir: the configs directory; a missing one holds no configs.

    Example:
        >>> [c["config_name"] for c in list_configs(tmp)]
        ['demo_pmm']
    """
    root = _root(configs_dir)
    entries: list[dict[str, Any]] = []
    for stem, path in sorted(_config_files(root)):
        meta = {"config_name": stem, "modified_at": _modified_at(path)}
        try:
            _check_inside(root, path, stem)
            data = _plain_config(
                _as_mapping(read_config_file(path.resolve()), f"config {stem!r}"), stem
            )
        except (ConfigError, ValueError) as exc:  # one bad file never breaks the list
            entries.append(
                {
                    "id": stem,
                    "controller_name": "error",
                    "controller_type": "error",
                    "error": str(exc),
                    **meta,
                }
            )
            continue
        entries.append({**data, "id": stem, **meta})
    return entries


def _dump_yaml(config: Mapping[str, Any], stem: str) -> bytes:
    try:
        text = yaml.safe_dump(
            dict(config), sort_keys=False, default_flow_style=False, allow_unicode=True
        )
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"config {stem!r} cannot be saved as YAML ({exc}); give plain values: text, "
            "numbers, booleans, lists and mappings"
        ) from None
    raw = text.encode("utf-8")
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config {stem!r} is larger than {MAX_CONFIG_BYTES // 1024} KiB as YAML; a "
            "controller config is a few hundred bytes"
        )
    return raw


def _write_atomically(path: Path, raw: bytes) -> None:
    """Write ``raw`` to ``path`` through a synced temporary file and ``os.replace``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable; not every platform lets a folder be opened
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def save_config(
    configs_dir: Path,
    name: str,
    config: Mapping[str, Any],
    *,
    registry: ControllerRegistry | None = None,
) -> dict[str, Any]:
    """Validate a controller config and save it as YAML, atomically, under ``name``.

    The config is written as given (not normalised), so it reads back unchanged. The
    directory (and any folder in ``name``) is created when missing.

    Args:
        configs_dir: the configs directory.
        name: the config's name (see :func:`resolve_config_path`); an existing config of that
            name is replaced.
        config: the config's fields; ``controller_name`` must name a controller of
            ``registry``.
        registry: the controllers configs are checked against (default: the built-ins).

    Returns:
        hummingbot-api's answer, ``{"message": ...}``, plus ``config_name`` and ``warnings``
        (recoverable oddities, such as keys the controller ignores).

    Raises:
        ConfigNameError: the name is not allowed, or is a symbolic link or folder (never
            written through).
        ConfigError: the config is invalid (every bad field named), too large, or not plain
            data; nothing is written.
        ControllerError: the controller's file fails to load.
        OutputError: the file could not be written; a previous config of that name is intact.

    Example:
        >>> save_config(tmp, "demo_pmm", {"controller_name": "pmm_simple",
        ...             "connector_name": "demo", "trading_pair": "BTC-USDT"})["message"]
        "Configuration 'demo_pmm' saved successfully"
    """
    path = resolve_config_path(configs_dir, name, must_exist=False)
    stem = _stem(_check_name(name))
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config {stem!r} must be a mapping of config fields, got {type(config).__name__}"
        )
    try:
        check_data_size(config, source=f"config {stem!r}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if registry is None:
        registry = ControllerRegistry()
    validated = registry.load_config(config, source=f"config {stem!r}")
    raw = _dump_yaml(config, stem)
    if path.is_symlink():
        raise ConfigNameError(
            f"config {stem!r} is a symbolic link in the configs directory; it is never written "
            "through: remove the link, or save under another name"
        )
    root = _root(configs_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A folder created between the check and now must still be inside.
        _check_inside(root, path, name)
        _write_atomically(path, raw)
    except OSError as exc:
        raise OutputError(
            f"cannot save config {stem!r} to {path}: {exc.strerror or exc}; check that the "
            "configs directory (HBBACKTEST_CONFIGS_DIR) is writable"
        ) from None
    return {
        "message": f"Configuration '{stem}' saved successfully",
        "config_name": stem,
        "warnings": config_warnings(validated),
    }


def delete_config(configs_dir: Path, name: str) -> None:
    """Delete a saved config (a symbolic link is removed, never the file it points to).

    Raises:
        ConfigNameError: the name is not allowed.
        ConfigNotFoundError: there is no such config.
        OutputError: the file could not be removed.

    Example:
        >>> delete_config(tmp, "demo_pmm")
        >>> list_configs(tmp)
        []
    """
    path = resolve_config_path(configs_dir, name)
    try:
        path.unlink()
    except FileNotFoundError:
        raise ConfigNotFoundError(f"config {_stem(_check_name(name))!r} not found") from None
    except OSError as exc:
        raise OutputError(
            f"cannot delete config {name!r} ({path}): {exc.strerror or exc}"
        ) from None


# --------------------------------------------------------------------------------------------
# Controllers


def _type_of(controller: type[ControllerBase[Any]]) -> str:
    return str(controller.config_class.model_fields["controller_type"].default)


def closest_first(name: str, choices: list[str]) -> list[str]:
    """Every choice, the closest to ``name`` first (for "available: …" lists)."""
    return difflib.get_close_matches(name, choices, n=len(choices), cutoff=0.0)


def _controller(
    registry: ControllerRegistry, controller_type: str, controller_name: str
) -> type[ControllerBase[Any]]:
    """The controller of that type and name (``x.py`` is read as ``x``, as upstream does)."""
    name = controller_name.removesuffix(".py")
    names = registry.names()
    if name not in names:
        listed = ", ".join(closest_first(name, names))
        raise ControllerNotFoundError(
            f"no controller {controller_name!r} of type {controller_type!r}"
            f"{did_you_mean(name, names)}; available: {listed}"
        )
    controller = registry.get(name)
    actual = _type_of(controller)
    if actual != controller_type:
        raise ControllerNotFoundError(
            f"controller {name!r} is a {actual} controller, not {controller_type}; "
            f"ask for {actual}/{name}"
        )
    return controller


def controller_catalogue(registry: ControllerRegistry) -> dict[str, list[str]]:
    """Controller type → sorted controller names, as hummingbot-api's ``GET /controllers/``.

    The three Hummingbot types are always present (maybe empty); user controllers of another
    type add their own key. User files that fail to load are left out (see
    ``registry.broken``).

    Example:
        >>> controller_catalogue(ControllerRegistry())["generic"]
        ['grid_strike']
    """
    catalogue: dict[str, list[str]] = {kind: [] for kind in CONTROLLER_TYPES}
    for kind, name in registry.describe():
        catalogue.setdefault(kind, []).append(name)
    return {kind: sorted(names) for kind, names in catalogue.items()}


def controller_source(registry: ControllerRegistry, controller_type: str, name: str) -> str:
    """The Python source of a controller: the user's file, or the built-in's module.

    hummingbot-api answers ``GET /controllers/{type}/{name}`` with
    ``{"name", "type", "content"}``; this is the ``content``.

    Raises:
        ControllerNotFoundError: no controller of that type and name.
        ControllerError: the controller's file fails to load.
        OutputError: the source file cannot be read.

    Example:
        >>> "class PMMSimpleConfig" in controller_source(
        ...     ControllerRegistry(), "market_making", "pmm_simple")
        True
    """
    controller = _controller(registry, controller_type, name)
    controller_name = name.removesuffix(".py")
    origin = registry.source(controller_name)
    if origin == "builtin":
        module = sys.modules.get(controller.__module__)
        file = inspect.getsourcefile(module) if module is not None else None
        if file is None:
            raise OutputError(f"the source of built-in controller {controller_name!r} is missing")
        origin = file
    try:
        return Path(origin).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise OutputError(
            f"cannot read the source of controller {controller_name!r} ({origin}): {exc}"
        ) from None


def _type_label(annotation: Any) -> str:
    """A readable type name: ``float | None``, ``list[float]``, ``OrderType``."""
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Any:
        return "Any"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_label(args[0])
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_label(arg) for arg in args)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(arg) for arg in args) + "]"
    if origin is not None:
        head = getattr(origin, "__name__", str(origin).removeprefix("typing."))
        return f"{head}[{', '.join(_type_label(arg) for arg in args)}]" if args else head
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).removeprefix("typing.")


def _plain(value: Any) -> Any:
    """A default as a config would write it: enums by name, models as mappings, JSON-safe."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, BaseModel):
        return {key: _plain(getattr(value, key)) for key in type(value).model_fields}
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return json_safe(value)


def config_template(
    registry: ControllerRegistry, controller_type: str, name: str
) -> dict[str, dict[str, Any]]:
    """Each config field with its default, as hummingbot-api's ``.../config/template``.

    Upstream's shape: ``{field: {"default", "type", "required"}}``; ``type`` is a readable
    name (``float | None``), enums' defaults are their names (``LIMIT``), a required field's
    default is ``None``, and ``description`` is added where one is known.

    Raises:
        ControllerNotFoundError: no controller of that type and name.
        ControllerError: the controller's file fails to load.

    Example:
        >>> template = config_template(ControllerRegistry(), "market_making", "pmm_simple")
        >>> template["buy_spreads"]
        {'default': [0.01, 0.02], 'type': 'list[float]', 'required': False, 'description': ...}
    """
    config_class = _controller(registry, controller_type, name).config_class
    template: dict[str, dict[str, Any]] = {}
    for field_name, field in config_class.model_fields.items():
        required = field.is_required()
        if required:
            default = None
        else:
            raw = field.get_default(call_default_factory=True, validated_data={})
            default = None if raw is PydanticUndefined else _plain(raw)
        entry: dict[str, Any] = {
            "default": default,
            "type": _type_label(field.annotation),
            "required": required,
        }
        description = field.description or FIELD_DESCRIPTIONS.get(field_name)
        if description:
            entry["description"] = description
        template[field_name] = entry
    return template


def config_schema(registry: ControllerRegistry, controller_type: str, name: str) -> dict[str, Any]:
    """The JSON schema of a controller's config (as ``hbbacktest controllers schema``).

    Raises:
        ControllerNotFoundError: no controller of that type and name.
        ControllerError: the controller's file fails to load.

    Example:
        >>> config_schema(ControllerRegistry(), "generic", "grid_strike")["type"]
        'object'
    """
    return _schema_of(_controller(registry, controller_type, name).config_class)


def validate_config(
    registry: ControllerRegistry, controller_type: str, name: str, config: Mapping[str, Any]
) -> dict[str, Any]:
    """Check a config against a controller's config class, as hummingbot-api's ``.../validate``.

    ``controller_name`` may be left out (the controller asked for is used).

    Returns:
        ``{"message": "Configuration is valid", "warnings": [...]}`` (upstream answers the
        message only; ``warnings`` lists keys that will be ignored and other oddities).

    Raises:
        ControllerNotFoundError: no controller of that type and name.
        ConfigError: the config is invalid (every bad field named), or names another
            controller.
        ControllerError: the controller's file, or its config's own code, fails.

    Example:
        >>> validate_config(ControllerRegistry(), "market_making", "pmm_simple",
        ...                 {"connector_name": "demo", "trading_pair": "BTC-USDT"})["message"]
        'Configuration is valid'
    """
    controller = _controller(registry, controller_type, name)
    controller_name = str(controller.config_class.model_fields["controller_name"].default)
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"config for {controller_name} must be a mapping of config fields, got "
            f"{type(config).__name__}"
        )
    try:
        check_data_size(config, source=f"config for {controller_name}")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    data = dict(config)
    given = data.get("controller_name")
    if given in (None, ""):
        data["controller_name"] = controller_name
    elif given != controller_name:
        raise ConfigError(
            f"config names controller_name {given!r}, but it is being checked against "
            f"{controller_name}; set controller_name to {controller_name!r} or leave it out"
        )
    validated: ControllerConfigBase = registry.load_config(
        data, source=f"config for {controller_name}"
    )
    return {"message": "Configuration is valid", "warnings": config_warnings(validated)}
