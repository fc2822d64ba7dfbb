"""Parameter sweeps: a spec (YAML) expanded into validated backtest requests.

Example:
    >>> from hbbacktest.controllers.registry import ControllerRegistry
    >>> from hbbacktest.sweep import expand, load_spec
    >>> spec = load_spec("examples/sweeps/pmm_grid.yml")
    >>> len(expand(spec, registry=ControllerRegistry()))
    6
"""

from hbbacktest.sweep.spec import (
    MAX_COMBINATIONS,
    Expansion,
    ParamValues,
    SweepItem,
    SweepSpec,
    ValueRange,
    Window,
    expand,
    items_from_json,
    items_to_json,
    load_items,
    load_spec,
)

__all__ = [
    "MAX_COMBINATIONS",
    "Expansion",
    "ParamValues",
    "SweepItem",
    "SweepSpec",
    "ValueRange",
    "Window",
    "expand",
    "items_from_json",
    "items_to_json",
    "load_items",
    "load_spec",
]
