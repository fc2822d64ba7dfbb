"""ValidationError → one ConfigError naming every bad field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field

from hbbacktest.config.validation import validate_model
from hbbacktest.core.errors import ConfigError


class Model(BaseModel):
    name: str
    size: int = Field(gt=0)
    tags: list[float] = Field(default_factory=list)


def test_valid_data_returns_the_model() -> None:
    assert validate_model(Model, {"name": "a", "size": "3"}, source="x") == Model(name="a", size=3)


def test_one_error_lists_each_problem_with_path_value_and_expectation() -> None:
    with pytest.raises(ConfigError) as info:
        validate_model(Model, {"size": -1, "tags": [1, "x"]}, source="my file")
    assert str(info.value).splitlines() == [
        "invalid my file (3 problems):",
        "  - name: required field is missing",
        "  - size = -1: Input should be greater than 0",
        "  - tags.1 = 'x': Input should be a valid number, unable to parse string as a number",
    ]


def test_single_problem_header_is_singular() -> None:
    with pytest.raises(ConfigError, match=r"^invalid src \(1 problem\):"):
        validate_model(Model, {"name": "a", "size": 0}, source="src")


def test_long_values_are_truncated() -> None:
    with pytest.raises(ConfigError) as info:
        validate_model(Model, {"name": "a", "size": "y" * 1000}, source="src")
    line = str(info.value).splitlines()[1]
    assert line.startswith("  - size = 'yyyy")
    assert "…:" in line
    assert len(line) < 400


def test_non_mapping_input_is_a_top_level_problem() -> None:
    with pytest.raises(ConfigError) as info:
        validate_model(Model, [1, 2], source="src")
    assert "(top level) = [1, 2]" in str(info.value)


def test_config_error_is_a_value_error_and_not_chained() -> None:
    with pytest.raises(ValueError) as info:
        validate_model(Model, {}, source="src")
    assert isinstance(info.value, ConfigError)
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
