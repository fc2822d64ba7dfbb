"""The error hierarchy, exit codes and suggestions."""

from __future__ import annotations

import pytest

from hbbacktest.core.errors import (
    ConfigError,
    ControllerError,
    DataError,
    DataMissingError,
    HbBacktestError,
    InternalError,
    did_you_mean,
)


@pytest.mark.parametrize(
    "error, code",
    [
        (HbBacktestError, 1),
        (ConfigError, 2),
        (DataError, 3),
        (DataMissingError, 3),
        (ControllerError, 4),
        (InternalError, 1),
    ],
)
def test_exit_codes(error: type[HbBacktestError], code: int) -> None:
    assert error.exit_code == code
    assert issubclass(error, HbBacktestError)


def test_hierarchy() -> None:
    assert issubclass(ConfigError, ValueError)
    assert issubclass(DataMissingError, DataError)
    assert not issubclass(DataError, ValueError)


def test_controller_error_carries_the_name() -> None:
    error = ControllerError("boom", controller_name="pmm_simple")
    assert str(error) == "boom"
    assert error.controller_name == "pmm_simple"
    assert ControllerError("x").controller_name is None


def test_did_you_mean() -> None:
    names = ["pmm_simple", "pmm_dynamic", "pmm_dynamic_2"]
    assert did_you_mean("pmm_simpel", names) == " (did you mean 'pmm_simple'?)"
    assert did_you_mean("zzz", names) == ""
    assert did_you_mean("pmm_dinamic", names) == " (did you mean 'pmm_dynamic' or 'pmm_dynamic_2'?)"
    assert did_you_mean("x", []) == ""
