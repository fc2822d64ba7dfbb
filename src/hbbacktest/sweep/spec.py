"""Sweep specs: a base controller config and the parameters to vary, expanded into requests.

A spec (YAML or JSON) names a base config, the parameters to combine (``grid``: every
combination; ``zip``: paired row by row), fixed overrides and one or more backtest windows.
:func:`expand` turns it into one :class:`~hbbacktest.config.request.BacktestRequest` per
combination and window, **all validated before anything runs**: every invalid combination is
listed in one :class:`~hbbacktest.core.errors.ConfigError`.

Example spec (``examples/sweeps/pmm_grid.yml``)::

    name: pmm_grid
    base:
      controller_name: pmm_simple
      connector_name: demo
      trading_pair: BTC-USDT
      total_amount_quote: 1000
    grid:
      buy_spreads: ["0.001", "0.002", "0.004"]
      take_profit: {start: 0.002, stop: 0.004, step: 0.002}
    start: 2024-01-08
    end: 2024-01-15

Expansion order: windows slowest, then the ``grid`` keys in spec order (the last fastest),
then the ``zip`` rows. Each item's :attr:`SweepItem.key` is its request's ``config_id``: the
results store's resume key, the same in every process for the same spec.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, overload
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from hbbacktest.config.controller import ConnectorName, TradingPair
from hbbacktest.config.limits import check_number_input, json_safe
from hbbacktest.config.loading import read_config_file
from hbbacktest.config.request import MAX_BARS, BacktestRequest, FillModelName
from hbbacktest.config.validation import describe_validation_error, validate_model
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, did_you_mean
from hbbacktest.core.time import format_time, interval_to_seconds, parse_time
from hbbacktest.service.backtest import request_from_dict

__all__ = [
    "MAX_COMBINATIONS",
    "MAX_ITEMS_FILE_BYTES",
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

MAX_COMBINATIONS = 100_000  # items in one sweep (combinations × windows)
MAX_ITEMS_FILE_BYTES = 256 * 1_048_576  # an items file (``sweep expand -o``): ~2 KiB per item
_MAX_LISTED = 20  # invalid combinations shown in one error
_MAX_URL_CHARS = 2_048
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_LINEAR = Context(prec=28)
_SIGNIFICANT = Context(prec=12)


def _check_keys(data: Any, allowed: Sequence[str], *, what: str) -> None:
    """Reject keys that are not fields, each with a did-you-mean."""
    if not isinstance(data, Mapping):
        return
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        notes = [f"unknown key {key!r}{did_you_mean(key, allowed)}" for key in unknown]
        raise ValueError(f"{'; '.join(notes)}; {what} takes: {', '.join(allowed)}")


def _check_sweep_name(value: str) -> str:
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value[:80]!r} is no sweep name: use 1 to 64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit, like 'pmm_grid'"
        )
    return value


def _parse_time_value(value: Any, field_name: str) -> int:
    # YAML reads an unquoted 2024-01-08 as a date: its text is what parse_time reads.
    if value is not None and not isinstance(value, str | int | float):
        value = str(value)
    return parse_time(value, field=field_name)


def _decimal(value: int | float) -> Decimal:
    # The shortest text of a float is what the user wrote: 0.1 is Decimal("0.1"), not its binary.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


class ValueRange(BaseModel):
    """Evenly spaced numbers, ``stop`` included.

    ``{start, stop, step}`` gives ``start, start + step, …`` up to ``stop``, computed as exact
    decimal multiples (``{start: 0.1, stop: 0.3, step: 0.1}`` is ``[0.1, 0.2, 0.3]``, never
    ``0.30000000000000004``). ``{start, stop, num}`` gives ``num`` evenly spaced points and
    ``{start, stop, num, scale: log}`` ``num`` geometrically spaced ones (both rounded to 12
    significant digits; ``start`` and ``stop`` exactly). Integers in give integers out
    wherever the values are whole.

    Attributes:
        start: first value.
        stop: last value (included when a whole number of steps away), ``>= start``.
        step: the spacing, ``> 0`` (linear ranges only; give ``step`` or ``num``).
        num: how many points, ``>= 1``.
        scale: ``"linear"`` (default) or ``"log"`` (needs ``num`` and ``start > 0``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    start: int | float
    stop: int | float
    step: int | float | None = None
    num: int | None = None
    scale: Literal["linear", "log"] = "linear"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        _check_keys(data, list(cls.model_fields), what="a range")
        return data

    @field_validator("start", "stop", "step", "num", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        check_number_input(value)
        return value

    @model_validator(mode="after")
    def _check_range(self) -> ValueRange:
        if self.stop < self.start:
            raise ValueError(
                f"stop ({self.stop}) is below start ({self.start}); ranges go upwards: swap "
                "them, or list descending values"
            )
        if self.num is not None and self.num < 1:
            raise ValueError(f"num = {self.num}: a range needs at least 1 point")
        if self.scale == "log":
            if self.num is None or self.step is not None:
                raise ValueError("a log range takes num (how many points), not step")
            if self.start <= 0:
                raise ValueError(f"a log range needs start > 0, got {self.start}")
        elif (self.step is None) == (self.num is None):
            raise ValueError("give either step (the spacing) or num (how many points), not both")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step = {self.step}: the step must be > 0")
        if self.num is not None and self.num > 1 and self.start == self.stop:
            raise ValueError(f"start equals stop ({self.start}): num must be 1")
        if self.count > MAX_COMBINATIONS:
            raise ValueError(
                f"this range has {self.count:,} values; at most {MAX_COMBINATIONS:,} fit in a "
                "sweep: use a larger step or a smaller num"
            )
        return self

    @property
    def count(self) -> int:
        """How many values the range holds (computed without listing them)."""
        if self.num is not None:
            return self.num
        assert self.step is not None
        try:
            span = _LINEAR.subtract(_decimal(self.stop), _decimal(self.start))
            steps = _LINEAR.divide(span, _decimal(self.step))
            return int(steps.to_integral_value(rounding="ROUND_FLOOR")) + 1
        except (InvalidOperation, OverflowError):
            return MAX_COMBINATIONS + 1

    def values(self) -> list[int | float]:
        """The range's values, in increasing order."""
        whole = all(isinstance(v, int) for v in (self.start, self.stop, self.step or 1))
        if self.step is not None:
            start, step = _decimal(self.start), _decimal(self.step)
            exact = [_LINEAR.add(start, _LINEAR.multiply(step, i)) for i in range(self.count)]
            return [int(v) if whole else float(v) for v in exact]
        num = self.num or 1
        if num == 1:
            return [self.start]
        out: list[int | float] = []
        for i in range(num):
            if i in (0, num - 1):
                out.append(self.start if i == 0 else self.stop)
                continue
            if self.scale == "log":
                # In log space: stop / start may overflow a float where the points do not.
                low, high = math.log(self.start), math.log(self.stop)
                point = Decimal(repr(math.exp(low + (high - low) * i / (num - 1))))
            else:
                span = _LINEAR.subtract(_decimal(self.stop), _decimal(self.start))
                # Multiply before dividing: a point that is exactly 0 comes out exactly 0.
                offset = _LINEAR.divide(_LINEAR.multiply(span, i), num - 1)
                point = _LINEAR.add(_decimal(self.start), offset)
            value = float(_SIGNIFICANT.plus(point))
            out.append(int(value) if whole and value.is_integer() else value)
        return out


def _param_values(value: Any) -> Any:
    """A list of values (kept as given) or a range mapping (validated into a ValueRange)."""
    if isinstance(value, ValueRange):
        return value
    if isinstance(value, Mapping):
        try:
            return ValueRange.model_validate(value)
        except ValidationError as exc:
            problems = [
                str(error["msg"]).removeprefix("Value error, ")
                if not error["loc"]
                else f"{'.'.join(map(str, error['loc']))}: {error['msg']}"
                for error in exc.errors(include_url=False)
            ]
            raise ValueError(f"invalid range: {'; '.join(problems)}") from None
    if isinstance(value, list | tuple):
        if not value:
            raise ValueError("the list of values is empty; give at least one value")
        return json_safe(list(value))
    raise ValueError(
        f"expected a list of values like [{value!r}] or a range like "
        "{start: 0.01, stop: 0.03, step: 0.01}; to set one value for every config, put it "
        "under fixed"
    )


# What a parameter takes in ``grid`` and ``zip``: a non-empty list of values (any JSON value:
# numbers, strings such as "0.001,0.002", lists for list fields …) or a ValueRange.
ParamValues = Annotated[list[Any] | ValueRange, BeforeValidator(_param_values)]


def _values(param: list[Any] | ValueRange) -> list[Any]:
    return param.values() if isinstance(param, ValueRange) else param


def _count(param: list[Any] | ValueRange) -> int:
    return param.count if isinstance(param, ValueRange) else len(param)


class Window(BaseModel):
    """One backtest window: first and last bar, UTC epoch seconds (dates accepted)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: int
    end: int

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        _check_keys(data, list(cls.model_fields), what="a window")
        return data

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse(cls, value: Any, info: ValidationInfo) -> int:
        return _parse_time_value(value, str(info.field_name))

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.start >= self.end:
            raise ValueError(
                f"start ({format_time(self.start)}) must be before end ({format_time(self.end)})"
            )
        return self

    @property
    def label(self) -> str:
        """``<start>/<end>`` in ISO 8601 (dates when at midnight), e.g. ``2024-01-08/2024-01-10``."""
        return f"{_iso(self.start)}/{_iso(self.end)}"


def _iso(ts: int) -> str:
    moment = datetime.fromtimestamp(ts, tz=UTC)
    return moment.strftime("%Y-%m-%d" if ts % 86_400 == 0 else "%Y-%m-%dT%H:%M:%SZ")


class SweepSpec(BaseModel):
    """A parameter sweep: a base controller config, what to vary, and where to backtest it.

    Attributes:
        name: the sweep's name in the results store: letters, digits, ``_``, ``.``, ``-``
            (starting with a letter or digit), at most 64 characters.
        base: a controller config mapping, or the path of a YAML/JSON config file (relative
            to the spec file; :func:`load_spec` reads it in).
        grid: parameters combined as a product (every combination).
        zip: parameters paired row by row (all the same length), combined with ``grid``.
        fixed: overrides applied to every config (after ``base``).
        start: first bar of the single window (date, ISO datetime or epoch; stored as epoch s).
        end: last bar of the single window, inclusive.
        windows: several windows ``[{start, end}, …]`` instead of ``start``/``end``.
        resolution: the bar interval the engine steps through, default ``"1m"``.
        trade_cost: fee per side as a fraction of notional, default 0.0006.
        fill_model: ``"hummingbot"`` (default) or ``"touch"``.
        candles_connector: take prices from this connector (see ``BacktestRequest``).
        candles_trading_pair: take prices from this pair (see ``BacktestRequest``).
        webhook: an http(s) URL called with a summary when the sweep ends (checked here only).

    Every ``grid``/``zip``/``fixed`` name must be a field of the controller's config (checked
    by :func:`expand`, which knows the controller), and appear in only one of them.

    Example:
        >>> spec = SweepSpec(name="demo", base={"controller_name": "pmm_simple",
        ...     "connector_name": "demo"}, grid={"take_profit": [0.01, 0.02]},
        ...     start="2024-01-08", end="2024-01-09")
        >>> spec.total
        2
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    base: dict[str, Any] | str
    grid: dict[str, ParamValues] = Field(default_factory=dict)
    zip: dict[str, ParamValues] = Field(default_factory=dict)
    fixed: dict[str, Any] = Field(default_factory=dict)
    start: int | None = None
    end: int | None = None
    windows: list[Window] | None = Field(default=None, min_length=1)
    resolution: str = "1m"
    trade_cost: float = Field(default=0.0006, ge=0, lt=0.1)
    fill_model: FillModelName = "hummingbot"
    candles_connector: ConnectorName | None = None
    candles_trading_pair: TradingPair | None = None
    webhook: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "items" in data and "grid" not in data:
            raise ValueError(
                "this looks like an items file written by `hbbacktest sweep expand`, not a "
                "sweep spec: run it as it is (`hbbacktest sweep run FILE`)"
            )
        _check_keys(data, list(cls.model_fields), what="a sweep spec")
        return data

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_sweep_name(value)

    @field_validator("base")
    @classmethod
    def _check_base(cls, value: dict[str, Any] | str) -> dict[str, Any] | str:
        if isinstance(value, str) and not value.strip():
            raise ValueError("give a controller config mapping or the path of a config file")
        return value

    @field_validator("grid", "zip", "fixed")
    @classmethod
    def _check_names(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "controller_name" in value and info.field_name != "fixed":
            raise ValueError(
                "controller_name cannot vary: a sweep runs one controller; write one spec "
                "per controller"
            )
        for other in ("grid", "zip"):
            if other == info.field_name:
                break
            twice = sorted(set(value) & set(info.data.get(other) or {}))
            if twice:
                raise ValueError(
                    f"{', '.join(twice)} also in {other}: give each parameter in only one of "
                    "grid, zip and fixed"
                )
        return value

    @field_validator("zip")
    @classmethod
    def _same_lengths(cls, value: dict[str, list[Any] | ValueRange]) -> Any:
        lengths = {name: _count(param) for name, param in value.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
            raise ValueError(
                f"zip pairs values row by row, so every list needs the same length: {shown}; "
                "make them equal, or move independent parameters to grid"
            )
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_times(cls, value: Any, info: ValidationInfo) -> int | None:
        return None if value is None else _parse_time_value(value, str(info.field_name))

    @field_validator("resolution")
    @classmethod
    def _check_resolution(cls, value: str) -> str:
        interval_to_seconds(value)
        return value

    @field_validator("webhook")
    @classmethod
    def _check_webhook(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if (
            parts.scheme not in ("http", "https")
            or not parts.hostname
            or len(value) > _MAX_URL_CHARS
            or any(c.isspace() for c in value)
        ):
            raise ValueError(
                "expected an http(s) URL like 'https://hooks.example.com/sweep' (at most "
                f"{_MAX_URL_CHARS} characters, no spaces)"
            )
        return value

    @model_validator(mode="after")
    def _check_windows_and_size(self) -> SweepSpec:
        has_single = self.start is not None or self.end is not None
        if has_single and self.windows is not None:
            raise ValueError("give either start and end, or windows, not both")
        if self.windows is None:
            if self.start is None or self.end is None:
                missing = "end" if self.start is not None else "start"
                raise ValueError(
                    f"{missing} is missing: give start and end (dates like 2024-01-08 or "
                    "epoch seconds), or windows: [{start: …, end: …}, …]"
                )
            Window(start=self.start, end=self.end)  # start before end, same message
        step = interval_to_seconds(self.resolution)
        for window in self.window_list:
            bars = (window.end - window.start) // step + 1
            if bars > MAX_BARS:
                raise ValueError(
                    f"the window {window.label} holds {bars:,} {self.resolution} bars; at most "
                    f"{MAX_BARS:,} run at once: use a coarser resolution or shorter windows"
                )
        if self.total > MAX_COMBINATIONS:
            parts = [f"{name} {_count(param)}" for name, param in self.grid.items()]
            if self.zip:
                parts.append(f"zip {self.zip_rows}")
            if len(self.window_list) > 1:
                parts.append(f"windows {len(self.window_list)}")
            raise ValueError(
                f"the sweep has {self.total:,} items ({' × '.join(parts)}); at most "
                f"{MAX_COMBINATIONS:,} run in one sweep: use fewer values or coarser steps, "
                "pair parameters in zip instead of grid, or split it into several specs"
            )
        return self

    @property
    def window_list(self) -> list[Window]:
        """The windows to backtest, in order (one when ``start``/``end`` are given)."""
        if self.windows is not None:
            return list(self.windows)
        assert self.start is not None and self.end is not None
        return [Window(start=self.start, end=self.end)]

    @property
    def zip_rows(self) -> int:
        """Rows of ``zip`` (1 when empty)."""
        return next((_count(param) for param in self.zip.values()), 1)

    @property
    def combinations(self) -> int:
        """Parameter combinations: the product of the grid's sizes times the zip's rows."""
        return math.prod(_count(param) for param in self.grid.values()) * self.zip_rows

    @property
    def total(self) -> int:
        """Items before duplicates are dropped: combinations times windows."""
        return self.combinations * len(self.window_list)

    @property
    def varied(self) -> list[str]:
        """The varied parameter names, as in the spec (``window`` last with several windows)."""
        names = [*self.grid, *self.zip]
        return [*names, "window"] if len(self.window_list) > 1 else names


@dataclass(frozen=True)
class SweepItem:
    """One backtest of a sweep.

    Attributes:
        index: its position in the expansion (0, 1, …; duplicates are not counted).
        params: the varied values by spec name, as written in the spec (range values as
            computed); with several windows also ``"window": "<start>/<end>"`` in ISO 8601.
        request: the validated request.
    """

    index: int
    params: dict[str, Any]
    request: BacktestRequest

    @property
    def key(self) -> str:
        """The request's ``config_id``: the results store's resume key."""
        return self.request.config_id


@dataclass(frozen=True)
class Expansion(Sequence[SweepItem]):
    """What :func:`expand` returns: the unique items, and how many duplicates were dropped.

    A sequence of its ``items`` (``len``, iteration, indexes and slices act on them).

    Attributes:
        items: one item per distinct request, in expansion order.
        duplicates: combinations whose request equals an earlier one (same key), dropped.
        notes: human-readable notes about the expansion (which duplicates were dropped).
    """

    items: tuple[SweepItem, ...]
    duplicates: int = 0
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[SweepItem]:
        return iter(self.items)

    @overload
    def __getitem__(self, index: int) -> SweepItem: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[SweepItem, ...]: ...

    def __getitem__(self, index: int | slice) -> SweepItem | tuple[SweepItem, ...]:
        return self.items[index]


def _read_base(path: Path) -> dict[str, Any]:
    data = read_config_file(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"base config {path}: expected a mapping of controller config fields, got "
            f"{type(data).__name__}"
        )
    return data


def _base_path(base: str, base_dir: Path | None) -> Path:
    path = Path(base).expanduser()
    return path if path.is_absolute() else (base_dir or Path.cwd()) / path


def load_spec(path: str | os.PathLike[str]) -> SweepSpec:
    """Read and validate a sweep spec file (YAML, or JSON for ``.json``).

    A ``base`` given as a path is resolved against the spec file's folder and read in: the
    returned spec holds the base config itself and needs no file any more.

    Args:
        path: the spec file.

    Raises:
        ConfigError: the file or its base cannot be read, or the spec is invalid (every
            problem named with its field and the fix).

    Example:
        >>> spec = load_spec("examples/sweeps/pmm_grid.yml")
        >>> spec.name, spec.total
        ('pmm_grid', 6)
    """
    spec_path = Path(path)
    data = read_config_file(spec_path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"sweep spec {spec_path}: expected a mapping with name, base, grid …, got "
            f"{type(data).__name__}"
        )
    spec = validate_model(SweepSpec, data, source=f"sweep spec {spec_path}")
    if isinstance(spec.base, str):
        base = _read_base(_base_path(spec.base, spec_path.parent))
        spec = spec.model_copy(update={"base": base})
    return spec


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:60] + "…"


def _describe(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={_shown(value)}" for name, value in params.items()) or "the base"


def _problems_error(header: str, problems: list[str]) -> ConfigError:
    shown = [problem.replace("\n", "\n  ") for problem in problems[:_MAX_LISTED]]
    lines = [header, *(f"- {problem}" for problem in shown)]
    if len(problems) > _MAX_LISTED:
        lines.append(f"… and {len(problems) - _MAX_LISTED} more")
    return ConfigError("\n".join(lines))


def _check_controller_fields(
    spec: SweepSpec, merged: Mapping[str, Any], registry: ControllerRegistry
) -> str:
    """The controller's name, once every grid, zip and fixed name is one of its config fields."""
    name = merged.get("controller_name")
    if not isinstance(name, str) or not name:
        raise ConfigError(
            f"sweep {spec.name!r}: the base config has no controller_name; set it (in base or "
            f"fixed) to one of: {', '.join(registry.names())}"
        )
    fields = list(registry.get(name).config_class.model_fields)
    unknown = [
        f"{section}.{param} is not a field of {name}'s config{did_you_mean(param, fields)}"
        for section, params in (("grid", spec.grid), ("zip", spec.zip), ("fixed", spec.fixed))
        for param in params
        if param not in fields
    ]
    if unknown:
        raise ConfigError(
            f"sweep {spec.name!r}: {'; '.join(unknown)}. {name}'s fields: {', '.join(fields)}"
        )
    return name


def expand(
    spec: SweepSpec, *, registry: ControllerRegistry, base_dir: Path | None = None
) -> Expansion:
    """Every backtest request of a sweep, each validated, duplicates dropped.

    Each combination's config is ``base``, then ``fixed``, then the combination's values,
    validated by the controller's config model once and paired with every window.

    Args:
        spec: the validated spec.
        registry: the controllers that may run (e.g. ``build_registry(settings)``).
        base_dir: the folder a ``base`` path is relative to (default: the working directory;
            :func:`load_spec` has already read a spec file's base in).

    Returns:
        The items (indexes 0, 1, … in expansion order: windows slowest, then the grid keys in
        spec order, last fastest, then the zip rows) and the number of dropped duplicates.

    Raises:
        ConfigError: the base cannot be read or names no known controller; a grid, zip or
            fixed name is no field of the controller's config (with a did-you-mean); or any
            combination is invalid: one error lists every invalid combination with its values
            and problems (the first 20, then how many more).
        ControllerError: a user controller's file fails to load, or its config code crashes.

    Example:
        >>> from hbbacktest.controllers.registry import ControllerRegistry
        >>> items = expand(load_spec("examples/sweeps/pmm_grid.yml"), registry=ControllerRegistry())
        >>> len(items), items[0].params
        (6, {'buy_spreads': '0.001', 'take_profit': 0.002})
    """
    base = spec.base if isinstance(spec.base, dict) else _read_base(_base_path(spec.base, base_dir))
    merged = {**base, **spec.fixed}
    controller = _check_controller_fields(spec, merged, registry)

    grid_names = list(spec.grid)
    zip_names = list(spec.zip)
    grid_values = [_values(param) for param in spec.grid.values()]
    zip_rows = list(zip(*(_values(param) for param in spec.zip.values()), strict=True)) or [()]
    combos = [
        {**dict(zip(grid_names, point, strict=True)), **dict(zip(zip_names, row, strict=True))}
        for point in itertools.product(*grid_values)
        for row in zip_rows
    ]

    configs = []
    problems = []
    for params in combos:
        try:
            config = registry.load_config({**merged, **params}, source="combination")
        except ConfigError as exc:
            # "invalid combination (pmm_simple) (2 problems):\n  - …": the values instead.
            head, _, rest = str(exc).partition("\n")
            detail = rest if head.startswith("invalid combination") and rest else str(exc)
            problems.append(f"{_describe(params)}:\n{detail}")
        else:
            configs.append(config)
    if problems:
        raise _problems_error(
            f"sweep {spec.name!r}: {len(problems)} of {len(combos)} combinations of {controller} "
            "are invalid (nothing was run); fix or remove these values:",
            problems,
        )

    windows = spec.window_list
    several = len(windows) > 1
    items: list[SweepItem] = []
    first_of: dict[str, int] = {}
    dropped: list[str] = []
    for window in windows:
        for params, config in zip(combos, configs, strict=True):
            try:
                request = BacktestRequest(
                    config=config,
                    start=window.start,
                    end=window.end,
                    backtesting_resolution=spec.resolution,
                    trade_cost=spec.trade_cost,
                    fill_model=spec.fill_model,
                    candles_connector=spec.candles_connector,
                    candles_trading_pair=spec.candles_trading_pair,
                )
            except ValidationError as exc:  # the spec checked these already
                raise ConfigError(
                    describe_validation_error(exc, source=f"sweep {spec.name!r} request")
                ) from None
            shown = {**params, "window": window.label} if several else params
            key = request.config_id
            if key in first_of:
                dropped.append(f"{_describe(shown)} (same as item {first_of[key]})")
                continue
            first_of[key] = len(items)
            items.append(SweepItem(index=len(items), params=shown, request=request))
    notes: tuple[str, ...] = ()
    if dropped:
        listed = "; ".join(dropped[:3]) + (
            f"; … and {len(dropped) - 3} more" if len(dropped) > 3 else ""
        )
        notes = (
            f"{len(dropped)} combination{'s' if len(dropped) != 1 else ''} gave a backtest "
            f"identical to an earlier one and {'were' if len(dropped) != 1 else 'was'} "
            f"dropped: {listed}",
        )
    return Expansion(items=tuple(items), duplicates=len(dropped), notes=notes)


def items_to_json(spec_name: str, items: Sequence[SweepItem] | Expansion) -> dict[str, Any]:
    """The items as plain JSON data: what ``hbbacktest sweep expand -o configs.json`` writes.

    Returns:
        ``{"name": spec_name, "items": [{"index", "params", "request"}, …]}`` where
        ``request`` is the request's own JSON (``request.model_dump(mode="json")``).

    Raises:
        ConfigError: ``spec_name`` is no valid sweep name.
    """
    try:
        _check_sweep_name(spec_name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return {
        "name": spec_name,
        "items": [
            {
                "index": item.index,
                "params": json_safe(item.params),
                "request": item.request.model_dump(mode="json"),
            }
            for item in items
        ],
    }


class _ItemRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    index: int = Field(ge=0)
    params: dict[str, Any] = Field(default_factory=dict)
    request: dict[str, Any]


class _ItemsDocument(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    items: list[_ItemRecord] = Field(min_length=1, max_length=MAX_COMBINATIONS)

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _check_sweep_name(value)


def items_from_json(data: Any, *, registry: ControllerRegistry) -> tuple[str, list[SweepItem]]:
    """Read items written by :func:`items_to_json` back, validating every request.

    Args:
        data: the parsed JSON (``{"name", "items": [{"index", "params", "request"}, …]}``).
        registry: the controllers that may run.

    Returns:
        The sweep's name and its items, in file order, with the same keys as when written.

    Raises:
        ConfigError: the document is malformed, indexes or requests repeat, or any request is
            invalid: one error lists every bad item (the first 20, then how many more).
    """
    document = validate_model(_ItemsDocument, data, source="sweep items")
    items: list[SweepItem] = []
    problems: list[str] = []
    first_of: dict[str, int] = {}
    indexes: set[int] = set()
    for record in document.items:
        if record.index in indexes:
            problems.append(f"item {record.index}: index {record.index} appears twice")
            continue
        indexes.add(record.index)
        try:
            request = request_from_dict(record.request, registry=registry)
        except ConfigError as exc:
            problems.append(f"item {record.index} ({_describe(record.params)}): {exc}")
            continue
        key = request.config_id
        if key in first_of:
            problems.append(
                f"item {record.index}: the same backtest as item {first_of[key]}; remove one"
            )
            continue
        first_of[key] = record.index
        items.append(SweepItem(index=record.index, params=record.params, request=request))
    if problems:
        raise _problems_error(
            f"sweep items {document.name!r}: {len(problems)} of {len(document.items)} items are "
            "invalid (nothing was run):",
            problems,
        )
    return document.name, items


def load_items(
    path: str | os.PathLike[str], *, registry: ControllerRegistry
) -> tuple[str, list[SweepItem]]:
    """Read an items file (``hbbacktest sweep expand -o configs.json``) and validate it.

    Raises:
        ConfigError: the file is unreadable, larger than 256 MiB, not JSON, or invalid (see
            :func:`items_from_json`).
    """
    file = Path(path)
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_ITEMS_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read items file {file}: {exc.strerror or exc}") from None
    if len(raw) > MAX_ITEMS_FILE_BYTES:
        raise ConfigError(
            f"items file {file} is larger than {MAX_ITEMS_FILE_BYTES // 1_048_576} MiB; split "
            "the sweep"
        )
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"items file {file} is not UTF-8 text; save it as UTF-8") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ConfigError(f"items file {file}: not valid JSON: {exc}") from None
    return items_from_json(data, registry=registry)
