"""Filter and sort conditions on JSON columns, evaluated in SQL on SQLite and PostgreSQL alike.

A sweep stores each item's varied parameters (``params``) and its metrics (``metrics``) as JSON
objects. :class:`Condition` (``take_profit>0.002``) and sorting act on one key of either, by
name, through SQLAlchemy's JSON path extraction:

* numerically when the value is a number: a JSON number, or a string that reads as one
  (Hummingbot writes decimals as strings: ``"0.002"``). Anything else (a comma list, a dict,
  ``true``) counts as SQL ``NULL``: such a row never matches a numeric condition and sorts last.
  The test is a regular expression, so a bad value never makes the query fail (PostgreSQL would
  refuse to cast ``'0.1,0.2'``, SQLite would silently read it as 0.1);
* as text when the condition's value is not a number (``connector_name==binance``,
  ``use_natr==true``), with ``==`` and ``!=`` only.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Select, case, func, select, true
from sqlalchemy.sql.elements import KeyedColumnElement

from hbbacktest.core.errors import ConfigError

__all__ = ["OPERATORS", "Condition", "Operator", "parse_condition"]

Operator = Literal["<", "<=", ">", ">=", "==", "!="]
OPERATORS: tuple[Operator, ...] = ("<=", ">=", "==", "!=", "<", ">")

# A number as text (JSON numbers and Python's float() agree on these); no nan, no inf.
_NUMBER = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
_CONDITION = re.compile(
    r"^\s*(?P<name>[^\s<>=!]+)\s*(?P<op><=|>=|==|!=|<|>|=)\s*(?P<value>[^<>=!\s].*?)?\s*$"
)
_EXAMPLE = "e.g. 'take_profit>0.002', 'sharpe_ratio>=1' or 'trading_pair==BTC-USDT'"


@dataclass(frozen=True)
class Condition:
    """One comparison of a parameter or metric with a value: ``take_profit > 0.002``.

    Args:
        name: a parameter (as named in the sweep spec) or a metric (as named in ``results``).
        op: one of ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``.
        value: a number (compared numerically) or a text (``==`` and ``!=`` only).

    Raises:
        ConfigError: an unknown operator, a non-finite number, or a text compared with ``<``.

    Example:
        >>> Condition("take_profit", ">", 0.002)
        Condition(name='take_profit', op='>', value=0.002)
    """

    name: str
    op: Operator
    value: float | str

    def __post_init__(self) -> None:
        if self.op not in OPERATORS:
            raise ConfigError(
                f"unknown operator {self.op!r} in a condition on {self.name!r}: use one of "
                + " ".join(OPERATORS)
            )
        if not self.name:
            raise ConfigError(f"a condition needs a parameter or metric name ({_EXAMPLE})")
        if isinstance(self.value, str):
            if self.op not in ("==", "!="):
                raise ConfigError(
                    f"{self.name}{self.op}{self.value}: {self.value!r} is not a number, and a "
                    "text can only be compared with == or !="
                )
        elif isinstance(self.value, bool) or not math.isfinite(self.value):
            raise ConfigError(
                f"{self.name}{self.op}{self.value}: the value must be a finite number"
            )

    def __str__(self) -> str:
        value = self.value if isinstance(self.value, str) else repr(float(self.value))
        return f"{self.name}{self.op}{value.removesuffix('.0')}"

    def clause(self, column: KeyedColumnElement[Any], dialect: str) -> ColumnElement[bool]:
        """This condition on the JSON column that holds :attr:`name` (a SQL boolean)."""
        if isinstance(self.value, str):
            text = json_text(column, self.name, dialect)
            return text == self.value if self.op == "==" else text != self.value
        number = json_number(column, self.name)
        value = float(self.value)
        comparisons = {
            "<": number < value,
            "<=": number <= value,
            ">": number > value,
            ">=": number >= value,
            "==": number == value,
            "!=": number != value,
        }
        return comparisons[self.op]


def parse_condition(text: str) -> Condition:
    """Read ``NAME OP VALUE`` (``take_profit>0.002``; ``=`` is taken for ``==``).

    The value is a number when it reads as one, otherwise a text (quotes around it are
    dropped).

    Raises:
        ConfigError: the text is not a condition; the message shows examples.

    Example:
        >>> parse_condition("take_profit>0.002")
        Condition(name='take_profit', op='>', value=0.002)
        >>> parse_condition("trading_pair == 'BTC-USDT'")
        Condition(name='trading_pair', op='==', value='BTC-USDT')
    """
    match = _CONDITION.match(text)
    if match is None or match["value"] is None:
        raise ConfigError(
            f"cannot read the condition {text!r}: write NAME OP VALUE with OP one of "
            f"{' '.join(sorted(OPERATORS))} ({_EXAMPLE})"
        )
    op = "==" if match["op"] == "=" else match["op"]
    raw = match["value"]
    value: float | str
    if re.match(_NUMBER, raw):
        value = float(raw)
    else:
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
            raw = raw[1:-1]
        value = raw
        if raw.lower() in ("nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
            raise ConfigError(f"cannot read the condition {text!r}: the value is not finite")
    return Condition(match["name"], cast(Operator, op), value)


def json_text(
    column: KeyedColumnElement[Any], name: str, dialect: str = "postgresql"
) -> ColumnElement[str]:
    """The value of key ``name`` of a JSON object column, as text (SQL ``NULL`` if absent).

    JSON booleans read ``true`` and ``false`` on both databases (SQLite's ``json_extract``
    gives 1 and 0, PostgreSQL's ``->>`` gives ``true`` and ``false``).
    """
    text = column[name].as_string()
    if dialect != "sqlite" or '"' in name:
        return text
    kind = func.json_type(column, f'$."{name}"')
    return case((kind == "true", "true"), (kind == "false", "false"), else_=text)


def json_number(column: KeyedColumnElement[Any], name: str) -> ColumnElement[float]:
    """The value of key ``name`` as a float, or SQL ``NULL`` when it is not a number."""
    return case(
        (column[name].as_string().regexp_match(_NUMBER), column[name].as_float()),
        else_=None,
    )


def json_keys(
    column: KeyedColumnElement[Any], dialect: str, *where: ColumnElement[bool]
) -> Select[Any]:
    """The distinct keys of the JSON objects in ``column``, over the rows that match ``where``."""
    if dialect == "sqlite":
        each = func.json_each(column).table_valued("key", joins_implicitly=True)
        return (
            select(each.c.key).select_from(column.table).join(each, true()).where(*where).distinct()
        )
    keys = func.json_object_keys(column).label("key")
    return select(keys).where(func.json_typeof(column) == "object", *where).distinct()
