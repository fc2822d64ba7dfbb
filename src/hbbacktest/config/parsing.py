"""Readers for the shapes Hummingbot configs take in the wild (comma lists, numeric strings)."""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar

E = TypeVar("E", bound=Enum)


def comma_list(value: Any) -> Any:
    """Turn ``"0.01,0.02"``, a scalar, or a list into a list; leave anything else for pydantic.

    Empty strings become an empty list. Items are left as they are (pydantic converts numeric
    strings), so a bad item is reported by pydantic with its position.
    """
    if value is None:
        return value
    if isinstance(value, str):
        text = value.strip().strip("[]")
        if not text:
            return []
        return [item.strip() for item in text.split(",")]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [value]
    return value


def enum_by_name(enum_class: type[E], value: Any) -> Any:
    """Accept an enum member, its name in any case (``"limit"``), ``"OrderType.LIMIT"`` or its code."""
    if isinstance(value, enum_class):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, str):
        name = value.strip().split(".")[-1].upper()
        try:
            return enum_class[name]
        except KeyError:
            names = ", ".join(member.name for member in enum_class)
            raise ValueError(f"expected one of {names}, got {value!r}") from None
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return enum_class(value)
        except ValueError:
            pass
    names = ", ".join(member.name for member in enum_class)
    raise ValueError(f"expected one of {names}, got {value!r}")


def blank_to_none(value: Any) -> Any:
    """Hummingbot writes an unset optional number as an empty string; read it as None."""
    if isinstance(value, str) and not value.strip():
        return None
    return value
