"""Reading config files safely: bounded size, UTF-8 only, YAML without alias bombs.

Everything here raises :class:`~hbbacktest.core.errors.ConfigError` naming the file and the fix;
nothing a file contains can hang the reader or exhaust memory.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from hbbacktest.config.limits import MAX_CONFIG_BYTES, check_data_size
from hbbacktest.core.errors import ConfigError


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise ConfigError(f"config {path} is a directory; give a YAML or JSON file")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KiB; a controller "
            "config is a few hundred bytes — is this the right file?"
        )
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not UTF-8 text (byte {exc.start} is {raw[exc.start]:#04x}); "
            "save it as UTF-8"
        ) from None


def parse_config_text(text: str, *, source: str, as_json: bool = False) -> Any:
    """Parse YAML (or JSON) text into plain data and bound its expanded size.

    Raises:
        ConfigError: the text is not valid YAML/JSON, nests too deep, or expands (through YAML
            aliases) past the limits in :mod:`hbbacktest.config.limits`.
    """
    kind = "JSON" if as_json else "YAML"
    try:
        data = json.loads(text) if as_json else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: not valid {kind}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: {kind} nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise ConfigError(f"{source}: not valid {kind}: {exc}") from None
    try:
        check_data_size(data, source=source)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return data


def read_config_file(source: str | os.PathLike[str]) -> Any:
    """Read a YAML or JSON config file (``.json`` is read as JSON, anything else as YAML).

    Raises:
        ConfigError: the file is missing, unreadable, too large, not UTF-8 or not valid.
    """
    path = Path(source)
    text = _read_text(path)
    return parse_config_text(text, source=str(path), as_json=path.suffix.lower() == ".json")
