"""The error hierarchy, exit codes and suggestions."""

from __future__ import annotations

import functools

import pytest

from hbbacktest.core.errors import (
    ConfigError,
    ControllerError,
    DataError,
    DataMissingError,
    HbBacktestError,
    InternalError,
    call_controller,
    code_location,
    did_you_mean,
    where,
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


# --- call_controller: the one wrapper around controller code --------------------------------


def _raises_here(exc: BaseException) -> None:
    raise exc


def _line_of(fn: object) -> int:
    return fn.__code__.co_firstlineno + 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("exc", "described"),
    [
        (ValueError("bad"), "ValueError: bad"),
        (SystemExit(0), "SystemExit(0): the controller called sys.exit()"),
        (GeneratorExit(), "GeneratorExit"),
    ],
)
def test_call_controller_turns_any_exception_into_a_controller_error(
    exc: BaseException, described: str
) -> None:
    with pytest.raises(ControllerError) as info:
        call_controller(lambda: _raises_here(exc), controller_name="c", during="on_bar")
    error = info.value
    assert error.exit_code == 4
    assert error.controller_name == "c"
    assert (error.file, error.line) == (__file__, _line_of(_raises_here))
    assert str(error).startswith(f"controller 'c' failed in on_bar at {__file__}:{error.line}: ")
    assert described in str(error)
    assert error.__cause__ is exc


def test_call_controller_lets_ctrl_c_and_our_own_errors_through() -> None:
    for exc in (KeyboardInterrupt(), ConfigError("x"), ControllerError("y"), InternalError("z")):
        with pytest.raises(type(exc)) as info:
            call_controller(lambda e=exc: _raises_here(e), controller_name="c", during="x")
        assert info.value is exc


def test_call_controller_returns_the_result() -> None:
    assert call_controller(lambda: 42, controller_name="c", during="x", time_limit_s=5.0) == 42


def test_an_error_with_no_user_frame_is_an_internal_error() -> None:
    """Raised by hbbacktest's own code only: a bug, never blamed on the controller."""
    with pytest.raises(InternalError) as info:
        call_controller(functools.partial(where, None), controller_name="c", during="on_bar")  # type: ignore[arg-type]
    message = str(info.value)
    assert info.value.exit_code == 1
    assert "hbbacktest failed while running controller 'c' in on_bar, at core/errors.py:" in message
    assert "AttributeError" in message
    assert "bug in hbbacktest" in message


def test_an_error_raised_inside_hbbacktest_on_behalf_of_user_code_names_both() -> None:
    def user_code() -> None:
        where(None)  # type: ignore[arg-type]

    with pytest.raises(ControllerError) as info:
        call_controller(user_code, controller_name="c", during="on_bar")
    assert info.value.line == _line_of(user_code)
    assert "(raised inside hbbacktest, core/errors.py:" in str(info.value)


def test_call_controller_time_limit() -> None:
    def spin() -> None:
        while True:
            pass

    with pytest.raises(ControllerError) as info:
        call_controller(spin, controller_name="c", during="compute_features", time_limit_s=0.2)
    error = info.value
    assert error.exit_code == 4
    assert error.file == __file__
    assert error.line in (_line_of(spin), _line_of(spin) + 1)  # in the loop, where it was
    assert str(error) == (
        f"controller 'c' took longer than 0.2 s in compute_features (at {__file__}:{error.line} "
        "where it was when stopped); raise HBBACKTEST_CONTROLLER_TIMEOUT if it really needs longer"
    )


def test_an_import_error_without_user_frames_is_the_file_s() -> None:
    with pytest.raises(ControllerError) as info:
        call_controller(
            functools.partial(compile, "x = 1\0", "<bytes>", "exec"),  # no frame of its own
            controller_name="c",
            during="import",
            source_file="/x/c.py",
        )
    assert info.value.file == "/x/c.py"
    assert "ValueError" in str(info.value) or "SyntaxError" in str(info.value)


def test_code_location() -> None:
    assert code_location(_raises_here) == (__file__, _line_of(_raises_here) - 1)
    assert code_location(None) == (None, None)
    assert code_location(len) == (None, None)
