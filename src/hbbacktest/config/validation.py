"""Turn pydantic's ValidationError into one ConfigError that names every bad field."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hbbacktest.core.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

_MAX_SHOWN = 200


def describe_validation_error(exc: ValidationError, *, source: str) -> str:
    """One line per problem: ``source: field.path = value: what was expected``."""
    lines = []
    for error in exc.errors(include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = str(error["msg"]).removeprefix("Value error, ")
        given = error.get("input")
        shown = repr(given)
        if len(shown) > _MAX_SHOWN:
            shown = shown[:_MAX_SHOWN] + "…"
        if error["type"] == "missing":
            lines.append(f"{path}: required field is missing")
        elif isinstance(given, dict) and error["type"].startswith("value_error"):
            lines.append(f"{path}: {message}")
        else:
            lines.append(f"{path} = {shown}: {message}")
    header = f"invalid {source} ({len(lines)} problem{'s' if len(lines) != 1 else ''}):"
    return "\n".join([header, *("  - " + line for line in lines)])


def validate_model(model: type[M], data: Any, *, source: str) -> M:
    """Validate ``data`` as ``model`` or raise a :class:`ConfigError` naming each bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source=source)) from None
