"""Bounds on everything a user can send, checked before any work starts.

Each bound is far beyond any real configuration and well inside what the engine, the JSON
encoder (64-bit integers, finite floats) and memory can take: a config that passes them can run
and its result can always be written.
"""

from __future__ import annotations

import math
import types
import typing
from decimal import Decimal
from functools import cache
from typing import Any

MAX_CONFIG_BYTES = 1_048_576  # a config file (1 MiB); Hummingbot's are a few hundred bytes
MAX_CONFIG_NODES = 100_000  # values in a config once YAML aliases are expanded
MAX_CONFIG_DEPTH = 50  # nesting of mappings and lists
MAX_LIST_ITEMS = 1_000  # any list field
MAX_LEVELS_PER_SIDE = 100  # spreads per side, DCA levels: each level is one kernel pass
MAX_NAME_CHARS = 64  # connector, controller and interval names
MAX_PAIR_PART_CHARS = 32  # each side of BASE-QUOTE
MAX_TEXT_CHARS = 256  # free text such as a config id
MAX_INT = 2**53  # integers JSON readers (and float64) represent exactly
MAX_DURATION_S = 10 * 365 * 86_400  # time limits, cooldowns, refresh times: ten years
MAX_LEVERAGE = 1_000
MAX_LOOKBACK = 100_000  # indicator lengths and candle max_records


def _number_parts(annotation: Any) -> tuple[bool, bool]:
    """(accepts numbers, accepts bool) for a field annotation, looking inside lists/unions."""
    if annotation is bool:
        return False, True
    if annotation in (int, float, Decimal):
        return True, False
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _number_parts(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset, typing.Union, types.UnionType):
        parts = [_number_parts(arg) for arg in typing.get_args(annotation)]
        return any(p[0] for p in parts), any(p[1] for p in parts)
    return False, annotation is Any


@cache
def numeric_field(model: type, field_name: str) -> bool:
    """True when ``model.field_name`` holds numbers and not booleans (a bool there is a typo)."""
    field = getattr(model, "model_fields", {}).get(field_name)
    if field is None:
        return False
    numbers, booleans = _number_parts(field.annotation)
    return numbers and not booleans


def check_number_input(value: Any) -> None:
    """Reject booleans and integers past ``MAX_INT`` given for a number (or inside a list of them).

    Raises:
        ValueError: saying what was given and what a number field takes.
    """
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if isinstance(item, bool):
            raise ValueError(f"expected a number, got the boolean {str(item).lower()}")
        if isinstance(item, int) and abs(item) > MAX_INT:
            raise ValueError(f"{item} is out of range: numbers must lie within ±{MAX_INT:.3g}")


def check_list_length(value: Any, limit: int = MAX_LIST_ITEMS) -> None:
    """Reject a list longer than ``limit`` before it is parsed item by item."""
    if isinstance(value, list | tuple) and len(value) > limit:
        raise ValueError(f"has {len(value)} items; at most {limit} are allowed")
    if isinstance(value, str) and value.count(",") >= limit:
        raise ValueError(f"has {value.count(',') + 1} items; at most {limit} are allowed")


def json_safe(value: Any, *, depth: int = 0) -> Any:
    """A plain-JSON copy of free-form data (unknown config keys, ``initial_positions``).

    Non-finite floats and integers past 64 bits become strings, dates become ISO text, bytes and
    other YAML oddities become their ``repr``: such values are only echoed back in the result,
    and must never stop it from being written.
    """
    if depth > MAX_CONFIG_DEPTH:
        raise ValueError(f"nested more than {MAX_CONFIG_DEPTH} levels deep")
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= MAX_INT else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() and abs(value) < MAX_INT else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [json_safe(v, depth=depth + 1) for v in items]
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):
        return str(isoformat())
    return repr(value)


def check_data_size(data: Any, *, source: str) -> None:
    """Bound the size and depth of parsed config data, counting shared (aliased) parts each time.

    A YAML "billion laughs" document is small on disk and enormous once expanded; a
    self-referencing alias never ends. Both are refused here, before anything walks the data.

    Raises:
        ValueError: naming ``source`` and the bound exceeded.
    """
    sizes: dict[int, int] = {}
    open_ids: set[int] = set()

    def size(node: Any, depth: int) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_ids:
            raise ValueError(f"{source}: a YAML alias refers to itself (an endless structure)")
        if depth > MAX_CONFIG_DEPTH:
            raise ValueError(f"{source}: nested more than {MAX_CONFIG_DEPTH} levels deep")
        open_ids.add(key)
        children = list(node.items()) if isinstance(node, dict) else [(None, v) for v in node]
        total = 1
        for _, child in children:
            total += size(child, depth + 1)
            if total > MAX_CONFIG_NODES:
                raise ValueError(
                    f"{source}: holds more than {MAX_CONFIG_NODES:,} values (each use of a YAML "
                    "alias counted); a controller config is a few dozen fields"
                )
        open_ids.discard(key)
        sizes[key] = total
        return total

    size(data, 0)
