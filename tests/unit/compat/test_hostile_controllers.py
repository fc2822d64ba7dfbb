"""Controller code tried as a hostile user would, through the service layer.

Every failure of user code must be a ControllerError (exit 4) naming the file and line and what
was expected, never a raw exception, an InternalError, a hang or a silent exit. The files are in
tests/fixtures/hostile_controllers; most take a ``mode`` config field saying how to misbehave.
Nothing there is imported unless a test names it: that is part of what is tested.
"""

from __future__ import annotations

import operator
import shutil
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hbbacktest.compat import api
from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError, ControllerError, InternalError
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.service import (
    build_registry,
    load_controller_config,
    request_from_dict,
    run_backtest,
)
from tests.kit.threads import in_thread

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HOSTILE = FIXTURES / "hostile_controllers"
MM_DIR = HOSTILE / "market_making"
BAD_MM = MM_DIR / "bad_features_mm.py"
HB_HOSTILE = MM_DIR / "hb_hostile.py"
NO_SIGNAL = HOSTILE / "directional_trading" / "no_signal.py"
LIMIT_S = 1.0

MM: dict[str, Any] = {
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "buy_spreads": "0.002",
    "sell_spreads": "0.002",
    "skip_rebalance": True,
}
TIMEOUT_HINT = "raise HBBACKTEST_CONTROLLER_TIMEOUT if it really needs longer"


def line_of(path: Path, text: str, after: str | None = None) -> int:
    """The number of the first line of ``path`` containing ``text`` (after the line ``after``)."""
    lines = path.read_text().splitlines()
    start = 0 if after is None else next(i for i, x in enumerate(lines) if after in x) + 1
    return next(i for i, x in enumerate(lines) if i >= start and text in x) + 1


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, controllers_dirs=(HOSTILE,), controller_timeout_s=LIMIT_S)


@pytest.fixture(autouse=True)
def _no_alarm_left() -> Iterator[None]:
    before = signal.getsignal(signal.SIGALRM)
    yield
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def run(settings: Settings, config: dict[str, Any]) -> BacktestResult:
    registry = build_registry(settings)
    request = BacktestRequest(
        config=registry.load_config(config), start="2024-01-08", end="2024-01-09"
    )
    return run_backtest(request, settings=settings, registry=registry)


def controller_error(fn: Callable[[], object]) -> ControllerError:
    with pytest.raises(ControllerError) as info:
        fn()
    assert info.value.exit_code == 4
    return info.value


# --- what compute_features returns ----------------------------------------------------------

DEF_LINE = line_of(BAD_MM, "def compute_features")


@pytest.mark.parametrize(
    ("mode", "fragments"),
    [
        ("none", ["returned None; expected a FeatureTable("]),
        (
            "no_reference_price",
            ["returned no 'reference_price' column (columns: 'spread_multiplier')"],
        ),
        ("strings", ["column 'reference_price' = ndarray", "not numeric; expected numbers"]),
        ("wrong_length", ["column 'reference_price' with 1440 values for 1441 timestamps"]),
        ("unsorted", ["an unsorted timestamp: ts[1] =", "expected candle open times sorted"]),
        ("duplicate", ["a duplicate timestamp: ts[5] =", "without duplicates"]),
    ],
)
def test_bad_features(settings: Settings, mode: str, fragments: list[str]) -> None:
    error = controller_error(
        lambda: run(settings, {**MM, "controller_name": "bad_features_mm", "mode": mode})
    )
    assert (error.file, error.line) == (str(BAD_MM), DEF_LINE)
    assert str(error).startswith(
        f"controller 'bad_features_mm': compute_features (defined at {BAD_MM}:{DEF_LINE}) "
    )
    for fragment in fragments:
        assert fragment in str(error)


def test_a_directional_controller_without_a_signal(settings: Settings) -> None:
    config = {k: v for k, v in MM.items() if "spread" not in k and k != "skip_rebalance"}
    error = controller_error(lambda: run(settings, {**config, "controller_name": "no_signal"}))
    line = line_of(NO_SIGNAL, "def compute_features")
    assert f"compute_features (defined at {NO_SIGNAL}:{line}) returned no 'signal' column" in str(
        error
    )


def test_the_fixture_runs_when_it_behaves(settings: Settings) -> None:
    result = run(settings, {**MM, "controller_name": "bad_features_mm"})
    assert result.results["total_executors"] > 0


# --- sys.exit anywhere ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "during", "after"),
    [
        ("exit", "compute_features", 'if mode == "exit":'),
        ("exit_in_candles_configs", "candles_configs", 'if self.config.mode == "exit_in_'),
    ],
)
def test_sys_exit_in_a_native_controller(
    settings: Settings, mode: str, during: str, after: str
) -> None:
    error = controller_error(
        lambda: run(settings, {**MM, "controller_name": "bad_features_mm", "mode": mode})
    )
    line = line_of(BAD_MM, "sys.exit(0)", after=after)
    assert (error.file, error.line) == (str(BAD_MM), line)
    assert (
        f"controller 'bad_features_mm' failed in {during} at {BAD_MM}:{line}: SystemExit(0)"
        in str(error)
    )


def test_a_hook_returning_garbage_to_the_service(settings: Settings) -> None:
    config = {**MM, "controller_name": "bad_features_mm", "mode": "bad_candles_configs"}
    error = controller_error(lambda: run(settings, config))
    line = line_of(BAD_MM, "def candles_configs")
    assert (
        f"candles_configs (defined at {BAD_MM}:{line}) returned list [5]; expected a list of CandlesConfig"
        in str(error)
    )


def test_sys_exit_in_determine_executor_actions(settings: Settings) -> None:
    error = controller_error(
        lambda: run(settings, {**MM, "controller_name": "hb_hostile", "mode": "exit"})
    )
    line = line_of(HB_HOSTILE, "sys.exit(0)")
    assert (error.file, error.line) == (str(HB_HOSTILE), line)
    assert f"failed in determine_executor_actions at {HB_HOSTILE}:{line}: SystemExit(0)" in str(
        error
    )


def test_sys_exit_at_import(settings: Settings) -> None:
    path = MM_DIR / "exits_at_import.py"
    registry = build_registry(settings)
    for _ in range(2):  # each time the controller is named
        error = controller_error(
            lambda: registry.load_config({**MM, "controller_name": "exits_at_import"})
        )
        assert (error.file, error.line) == (str(path), 5)
        assert f"failed in import of {path} at {path}:5: SystemExit(0)" in str(error)


# --- Hummingbot files: what update_processed_data / determine_executor_actions leave --------


@pytest.mark.parametrize(
    ("mode", "hook", "fragment"),
    [
        (
            "unsorted",
            "update_processed_data",
            "left an unsorted timestamp in processed_data['features']: row 1",
        ),
        (
            "text_timestamp",
            "update_processed_data",
            "left processed_data['features']['timestamp'] with 'yesterday' at row 0; expected "
            "candle open times",
        ),
        ("processed_none", "update_processed_data", "left processed_data = None; expected a dict"),
        ("bad_candles", "get_candles_config", "returned int 5; expected a list of CandlesConfig"),
        (
            "returns_int",
            "determine_executor_actions",
            "returned int 5; expected a list of executor actions",
        ),
    ],
)
def test_bad_hummingbot_outputs(settings: Settings, mode: str, hook: str, fragment: str) -> None:
    error = controller_error(
        lambda: run(settings, {**MM, "controller_name": "hb_hostile", "mode": mode})
    )
    line = line_of(HB_HOSTILE, f"def {hook}")
    assert (error.file, error.line) == (str(HB_HOSTILE), line)
    assert f"controller 'hb_hostile': {hook} (defined at {HB_HOSTILE}:{line}) {fragment}" in str(
        error
    )


def test_a_text_column_in_hummingbot_features_is_a_warning(settings: Settings) -> None:
    result = run(settings, {**MM, "controller_name": "hb_hostile", "mode": "text_column"})
    assert result.results["total_executors"] > 0
    assert any("['regime']" in w and "not numbers" in w for w in result.warnings)


# --- prices <= 0 and errors inside the compat layer -----------------------------------------


@pytest.mark.parametrize("name", ["pmm_simple_hb", "dman_maker_v2_hb"])
def test_a_buy_spread_of_one_is_skipped_with_one_warning(tmp_path: Path, name: str) -> None:
    settings = Settings(data_dir=tmp_path, controllers_dirs=(FIXTURES / "hummingbot_controllers",))
    extra = {"dca_spreads": "0.001,0.003", "dca_amounts": "1,2"} if name.startswith("dman") else {}
    config = {**MM, **extra, "controller_name": name, "buy_spreads": "1.0,0.002"}
    result = run(settings, config)
    assert "buy_0" not in result.level_ids
    assert {"buy_1", "sell_0"} <= set(result.level_ids)
    notes = [w for w in result.warnings if w.startswith("level buy_0:")]
    assert len(notes) == 1
    assert "priced at 0 (<= 0) was not created" in notes[0]
    assert "buy spread × spread_multiplier of 1 (100 %) or more" in notes[0]
    builtin = run(settings, {**config, "controller_name": name.removesuffix("_hb")})
    assert builtin.results["total_executors"] == result.results["total_executors"]


def test_an_error_inside_the_compat_layer_is_not_blamed_on_the_controller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A C function called with the wrong arity: the exception comes from api.py's own frame.
    monkeypatch.setattr(api, "_dec", operator.truediv)
    settings = Settings(data_dir=tmp_path, controllers_dirs=(FIXTURES / "hummingbot_controllers",))
    with pytest.raises(InternalError) as info:
        run(settings, {**MM, "controller_name": "pmm_simple_hb"})
    message = str(info.value)
    assert info.value.exit_code == 1
    assert (
        "hbbacktest failed while running controller 'pmm_simple_hb' in determine_executor_actions, at compat/api.py:"
        in message
    )
    assert "bug in hbbacktest, not in the controller" in message


# --- time limits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "text", "after"),
    [
        ("hang", "pass", 'if mode == "hang":'),
        ("sleep", "time.sleep(10**9)", None),
        ("swallow", "pass", 'if mode == "swallow":'),
    ],
)
def test_compute_features_that_never_ends(
    settings: Settings, mode: str, text: str, after: str | None
) -> None:
    config = {**MM, "controller_name": "bad_features_mm", "mode": mode}
    error = controller_error(lambda: run(settings, config))
    line = line_of(BAD_MM, text, after=after)
    assert error.file == str(BAD_MM)
    assert error.line in (line - 1, line)  # a busy loop is seen on its `while` or its body
    assert str(error) == (
        f"controller 'bad_features_mm' took longer than 1 s in compute_features (at "
        f"{BAD_MM}:{error.line} where it was when stopped); {TIMEOUT_HINT}"
    )
    # the process is fine afterwards: the next run works
    assert run(settings, {**MM, "controller_name": "pmm_simple"}).results["total_executors"] > 0


def test_determine_executor_actions_that_never_ends(settings: Settings) -> None:
    error = controller_error(
        lambda: run(settings, {**MM, "controller_name": "hb_hostile", "mode": "hang"})
    )
    line = line_of(HB_HOSTILE, "pass", after='if mode == "hang":')
    assert error.line in (line - 1, line)
    assert f"took longer than 1 s in the bar loop (at {HB_HOSTILE}:{error.line} " in str(error)
    assert TIMEOUT_HINT in str(error)


@pytest.mark.parametrize(("name", "line"), [("hangs_at_import", 3), ("sleeps_at_import", 5)])
def test_an_import_that_never_ends(settings: Settings, name: str, line: int) -> None:
    path = MM_DIR / f"{name}.py"
    registry = build_registry(settings)
    error = controller_error(lambda: registry.get(name))
    assert (error.file, error.line) == (str(path), line)
    assert str(error) == (
        f"controller {name!r} took longer than 1 s in import of {path} (at {path}:{line} where "
        f"it was when stopped); {TIMEOUT_HINT}"
    )


def test_time_limits_work_in_a_worker_thread(settings: Settings) -> None:
    config = {**MM, "controller_name": "bad_features_mm", "mode": "swallow"}
    error = in_thread(lambda: run(settings, config))
    assert isinstance(error, ControllerError)
    assert "took longer than 1 s in compute_features" in str(error)
    error = in_thread(
        lambda: run(settings, {**MM, "controller_name": "hb_hostile", "mode": "hang"})
    )
    assert isinstance(error, ControllerError)
    assert "took longer than 1 s in the bar loop" in str(error)
    error = in_thread(lambda: build_registry(settings).get("hangs_at_import"))
    assert isinstance(error, ControllerError)
    assert "took longer than 1 s in import of" in str(error)
    assert in_thread(lambda: run(settings, {**MM, "controller_name": "pmm_simple"})) is None


# --- a bad file never affects other controllers ---------------------------------------------


def test_builtins_run_with_a_hostile_directory_configured(settings: Settings) -> None:
    result = run(settings, {**MM, "controller_name": "pmm_simple"})
    assert result.results["total_executors"] > 0
    assert "hangs_at_import" in build_registry(settings).names()
    assert not any(
        name.startswith("hbbacktest_user_controllers.market_making.")
        and name.endswith(("hangs_at_import", "sleeps_at_import", "exits_at_import"))
        for name in sys.modules
    )


def test_listing_reports_broken_files_with_file_line_and_exception(tmp_path: Path) -> None:
    directory = tmp_path / "controllers" / "market_making"
    directory.mkdir(parents=True)
    for name in ("exits_at_import", "hangs_at_import"):
        shutil.copy(MM_DIR / f"{name}.py", directory)
    shutil.copy(
        FIXTURES / "hummingbot_controllers" / "market_making" / "pmm_simple_hb.py", directory
    )
    settings = Settings(
        data_dir=tmp_path,
        controllers_dirs=(tmp_path / "controllers",),
        controller_timeout_s=LIMIT_S,
    )
    registry = build_registry(settings)
    described = registry.describe()
    assert ("market_making", "pmm_simple_hb") in described
    assert ("market_making", "pmm_simple") in described
    assert registry.source("pmm_simple_hb") == str(directory / "pmm_simple_hb.py")
    broken = registry.broken
    assert set(broken) == {"exits_at_import", "hangs_at_import"}
    assert f"{directory / 'exits_at_import.py'}:5: SystemExit(0)" in broken["exits_at_import"]
    assert (
        f"(at {directory / 'hangs_at_import.py'}:3 where it was when stopped)"
        in broken["hangs_at_import"]
    )


def test_a_broken_file_shadowing_a_builtin_never_falls_back(tmp_path: Path) -> None:
    directory = tmp_path / "controllers" / "market_making"
    directory.mkdir(parents=True)
    shadow = directory / "pmm_simple.py"
    shadow.write_text("import sys\n\nsys.exit(0)\n")
    settings = Settings(data_dir=tmp_path, controllers_dirs=(tmp_path / "controllers",))
    registry = build_registry(settings)
    for _ in range(2):
        error = controller_error(
            lambda: registry.load_config({**MM, "controller_name": "pmm_simple"})
        )
        assert (error.file, error.line) == (str(shadow), 3)
    assert registry.source("pmm_simple") == str(shadow)
    assert "pmm_simple" in registry.broken
    assert all(name != "pmm_simple" for _, name in registry.describe())


# --- settings and the Python API ------------------------------------------------------------


def test_the_time_limit_comes_from_the_environment() -> None:
    assert Settings.from_env({}).controller_timeout_s == 300.0
    assert Settings().controller_timeout_s == 300.0
    assert Settings.from_env({"HBBACKTEST_CONTROLLER_TIMEOUT": "2.5"}).controller_timeout_s == 2.5
    assert Settings.from_env({"HBBACKTEST_CONTROLLER_TIMEOUT": "0"}).controller_timeout_s is None
    assert Settings.from_env({"HBBACKTEST_CONTROLLER_TIMEOUT": ""}).controller_timeout_s == 300.0
    for bad in ("abc", "-1", "nan"):
        with pytest.raises(ConfigError, match=r"HBBACKTEST_CONTROLLER_TIMEOUT = .*>= 0") as info:
            Settings.from_env({"HBBACKTEST_CONTROLLER_TIMEOUT": bad})
        assert info.value.exit_code == 2


def test_the_python_api_honours_the_controllers_dir_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HBBACKTEST_CONTROLLERS_DIR", str(FIXTURES / "native_controllers"))
    monkeypatch.setenv("HBBACKTEST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HBBACKTEST_CONTROLLER_TIMEOUT", "1")
    config = load_controller_config({**MM, "controller_name": "pmm_shifted", "price_shift": 0.001})
    assert config.controller_name == "pmm_shifted"
    request = request_from_dict(
        {
            "config": {**MM, "controller_name": "pmm_shifted"},
            "start": "2024-01-08",
            "end": "2024-01-09",
        }
    )
    assert run_backtest(request).results["total_executors"] > 0
    monkeypatch.setenv("HBBACKTEST_CONTROLLERS_DIR", str(HOSTILE))
    error = controller_error(
        lambda: load_controller_config({**MM, "controller_name": "hangs_at_import"})
    )
    assert "took longer than 1 s in import of" in str(error)
