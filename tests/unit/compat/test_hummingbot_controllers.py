"""Controller files from a controllers directory: Hummingbot V2 files unchanged, and native ones.

Each Hummingbot-style file in tests/fixtures/hummingbot_controllers is a twin of a built-in
controller; run through the compatibility layer it must give the built-in's executors. The demo
connector's synthetic candles make these tests independent of ../shared.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hbbacktest.compat.loader import discover
from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError, ControllerError
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.service import build_registry, run_backtest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
HB_DIR = FIXTURES / "hummingbot_controllers"
NATIVE_DIR = FIXTURES / "native_controllers"
BROKEN_DIR = FIXTURES / "broken_controllers"

BASE: dict[str, Any] = {
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "stop_loss": 0.01,
    "take_profit": 0.004,
    "time_limit": 3600,
    "trailing_stop": "0.003,0.001",
    "cooldown_time": 60,
}
MM = {"buy_spreads": "0.002,0.004", "sell_spreads": "0.002,0.004", "executor_refresh_time": 300}
TWINS = [
    ("pmm_simple", "pmm_simple_hb", MM),
    (
        "dman_maker_v2",
        "dman_maker_v2_hb",
        {**MM, "dca_spreads": "0.001,0.003", "dca_amounts": "1,2"},
    ),
    (
        "bollinger_v1",
        "bollinger_v1_hb",
        {"interval": "3m", "bb_length": 50, "bb_long_threshold": 0.1, "bb_short_threshold": 0.9},
    ),
]


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(data_dir=tmp_path_factory.mktemp("data"), controllers_dirs=(HB_DIR, NATIVE_DIR))


def _run(
    settings: Settings, config: dict[str, Any], fill_model: str = "hummingbot"
) -> BacktestResult:
    registry = build_registry(settings)
    request = BacktestRequest(
        config=registry.load_config(config),
        start="2024-01-08",
        end="2024-01-10",
        fill_model=fill_model,
    )
    return run_backtest(request, settings=settings, registry=registry)


def _by_bar_and_level(result: BacktestResult) -> list[tuple[Any, ...]]:
    rec = result.records
    rows = []
    for i in range(rec.shape[0]):
        rows.append(
            (
                int(rec["created_row"][i]),
                int(rec["side"][i]),
                # directional executors have no level id in Hummingbot; built-ins say long/short
                "" if result.level_ids[i] in ("long", "short") else result.level_ids[i],
                int(rec["close_row"][i]),
                int(rec["close_type"][i]),
                int(rec["fill_row"][i]),
                float(rec["net_pnl_quote"][i]),
                float(rec["filled_amount_quote"][i]),
            )
        )
    return sorted(rows)


@pytest.mark.parametrize("fill_model", ["hummingbot", "touch"])
@pytest.mark.parametrize(("builtin", "file", "extra"), TWINS, ids=[t[1] for t in TWINS])
def test_hummingbot_file_equals_its_builtin_twin(
    settings: Settings, builtin: str, file: str, extra: dict[str, Any], fill_model: str
) -> None:
    ours = _run(settings, {**BASE, **extra, "controller_name": builtin}, fill_model)
    theirs = _run(settings, {**BASE, **extra, "controller_name": file}, fill_model)
    assert ours.records.shape[0] > 20
    a, b = _by_bar_and_level(ours), _by_bar_and_level(theirs)
    assert len(a) == len(b)
    for left, right in zip(a, b, strict=True):
        assert left[:6] == right[:6]
        np.testing.assert_allclose(left[6:], right[6:], rtol=1e-9, atol=1e-9)
    for key in ("net_pnl_quote", "total_executors", "close_types", "total_positions"):
        assert ours.results[key] == pytest.approx(theirs.results[key], rel=1e-9)


def test_loading_installs_no_hummingbot_package(settings: Settings) -> None:
    build_registry(settings)
    assert "hummingbot" not in sys.modules
    assert "pandas_ta" not in sys.modules


def test_native_plugin_with_a_new_field(settings: Settings) -> None:
    plain = _run(settings, {**BASE, **MM, "controller_name": "pmm_simple"})
    shifted = _run(settings, {**BASE, **MM, "controller_name": "pmm_shifted", "price_shift": 0.0})
    assert _by_bar_and_level(plain) == _by_bar_and_level(shifted)
    moved = _run(settings, {**BASE, **MM, "controller_name": "pmm_shifted", "price_shift": 0.001})
    assert _by_bar_and_level(moved) != _by_bar_and_level(plain)


def test_registry_lists_user_controllers_with_their_source(settings: Settings) -> None:
    registry = build_registry(settings)
    assert ("market_making", "pmm_simple_hb") in registry.describe()
    assert registry.source("pmm_simple_hb").endswith("pmm_simple_hb.py")
    assert registry.source("pmm_simple") == "builtin"
    schema = registry.get("pmm_shifted").config_class.model_json_schema()
    assert "price_shift" in schema["properties"]


def test_unknown_controller_lists_the_available_ones(settings: Settings) -> None:
    registry = build_registry(settings)
    with pytest.raises(Exception, match=r"available: .*pmm_simple_hb"):
        registry.get("pmm_simple_hbx")


def test_broken_files_are_reported_and_others_still_load(tmp_path: Path) -> None:
    found = discover([BROKEN_DIR, HB_DIR])
    assert {item.name for item in found} >= {"pmm_simple_hb", "raises_in_logic", "import_fails"}
    registry = build_registry(Settings(data_dir=tmp_path, controllers_dirs=(BROKEN_DIR, HB_DIR)))
    loaded = {name for _, name in registry.describe()}
    assert loaded >= {"pmm_simple_hb", "raises_in_logic", "pmm_simple"}
    messages = registry.broken
    assert set(messages) == {"import_fails", "no_config", "unknown_import"}
    assert not loaded & set(messages)
    assert "import_fails.py:5" in messages["import_fails"]
    assert "RuntimeError: boom at import" in messages["import_fails"]
    assert "no controller config class" in messages["no_config"]
    assert "hummingbot.connector" in messages["unknown_import"]


def test_a_broken_controller_named_by_a_config_raises_its_load_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, controllers_dirs=(BROKEN_DIR,))
    registry = build_registry(settings)
    with pytest.raises(ControllerError, match=r"import_fails\.py:5: RuntimeError: boom"):
        registry.load_config({**BASE, "controller_name": "import_fails"})


def test_an_exception_in_controller_logic_names_file_and_line(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, controllers_dirs=(BROKEN_DIR,))
    with pytest.raises(ControllerError) as info:
        _run(settings, {**BASE, **MM, "controller_name": "raises_in_logic"})
    message = str(info.value)
    assert "raises_in_logic.py:15" in message
    assert "ZeroDivisionError" in message
    # the service keeps working: the next backtest runs
    assert _run(settings, {**BASE, **MM, "controller_name": "pmm_simple"}).records.shape[0] > 0


def test_missing_controllers_dir_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        build_registry(Settings(data_dir=tmp_path, controllers_dirs=(tmp_path / "nope",)))
    assert info.value.exit_code == 2
    assert "HBBACKTEST_CONTROLLERS_DIR" in str(info.value)
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        build_registry(Settings(data_dir=tmp_path, controllers_dirs=(tmp_path / "file",)))


def test_an_exception_in_native_compute_features_names_file_and_line(tmp_path: Path) -> None:
    """Native plug-ins go through the same wrapper as Hummingbot files."""
    directory = tmp_path / "controllers" / "market_making"
    directory.mkdir(parents=True)
    (directory / "bad_features.py").write_text(
        "from hbbacktest.config.controller import MarketMakingControllerConfigBase\n"
        "from hbbacktest.controllers.base import MarketMakingControllerBase\n"
        "\n"
        "class BadConfig(MarketMakingControllerConfigBase):\n"
        "    controller_name: str = 'bad_features'\n"
        "\n"
        "class Bad(MarketMakingControllerBase[BadConfig]):\n"
        "    def compute_features(self, data):\n"
        "        raise ValueError('no features today')\n"
    )
    settings = Settings(data_dir=tmp_path, controllers_dirs=(tmp_path / "controllers",))
    with pytest.raises(ControllerError) as info:
        _run(settings, {**BASE, **MM, "controller_name": "bad_features"})
    message = str(info.value)
    assert "failed in compute_features" in message
    assert "bad_features.py:9: ValueError: no features today" in message
