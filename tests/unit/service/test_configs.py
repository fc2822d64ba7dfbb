"""Saved controller configs: names that stay inside the directory, atomic writes, controller info."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml

from hbbacktest.compat.loader import discover
from hbbacktest.config.limits import MAX_CONFIG_BYTES
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, ControllerError, NotFoundError, OutputError
from hbbacktest.service import configs as svc
from hbbacktest.service.configs import (
    ConfigNameError,
    ConfigNotFoundError,
    ControllerNotFoundError,
    config_schema,
    config_template,
    controller_catalogue,
    controller_source,
    delete_config,
    list_configs,
    read_config,
    resolve_config_path,
    save_config,
    validate_config,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
NATIVE_DIR = FIXTURES / "native_controllers"
HB_DIR = FIXTURES / "hummingbot_controllers"
BROKEN_DIR = FIXTURES / "broken_controllers"

PMM: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "buy_spreads": "0.01,0.02",
    "sell_spreads": [0.01, 0.02],
    "stop_loss": 0.03,
    "take_profit": "",
    "trailing_stop": "0.015,0.003",
}


@pytest.fixture(scope="module")
def registry() -> ControllerRegistry:
    return ControllerRegistry()


@pytest.fixture(scope="module")
def user_registry() -> ControllerRegistry:
    return ControllerRegistry(plugins=discover([NATIVE_DIR, HB_DIR]))


@pytest.fixture
def configs(tmp_path: Path) -> Path:
    return tmp_path / "configs"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith("."))


# --------------------------------------------------------------------------------------------
# resolve_config_path


def test_error_classes_are_config_errors() -> None:
    for cls in (ConfigNameError, ConfigNotFoundError, ControllerNotFoundError):
        assert issubclass(cls, ConfigError)
    assert not issubclass(ConfigNotFoundError, ConfigNameError)
    assert issubclass(ConfigNotFoundError, NotFoundError)
    assert issubclass(ControllerNotFoundError, NotFoundError)
    assert not issubclass(ConfigNameError, NotFoundError)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("pmm", "pmm.yml"),
        ("pmm.yml", "pmm.yml"),
        ("pmm.yaml", "pmm.yaml"),
        ("btc/pmm", "btc/pmm.yml"),
        ("btc/eth/pmm.yml", "btc/eth/pmm.yml"),
        ("conf_pmm_simple_1.2", "conf_pmm_simple_1.2.yml"),
        ("%2e%2e", "%2e%2e.yml"),  # not decoded here: a literal, harmless file name
        ("a..b", "a..b.yml"),
    ],
)
def test_resolve_accepted_names(configs: Path, name: str, expected: str) -> None:
    path = resolve_config_path(configs, name, must_exist=False)
    assert path == configs.resolve() / expected
    assert path.resolve().is_relative_to(configs.resolve())


def test_resolve_finds_existing_files(configs: Path) -> None:
    _write(configs / "only_yaml.yaml", "controller_name: pmm_simple\n")
    _write(configs / "both.yml", "a: 1\n")
    _write(configs / "both.yaml", "a: 2\n")
    root = configs.resolve()
    assert resolve_config_path(configs, "only_yaml") == root / "only_yaml.yaml"
    assert resolve_config_path(configs, "only_yaml", must_exist=False) == root / "only_yaml.yaml"
    assert resolve_config_path(configs, "both") == root / "both.yml"
    assert resolve_config_path(configs, "both.yaml") == root / "both.yaml"
    with pytest.raises(ConfigNotFoundError):
        resolve_config_path(configs, "only_yaml.yml")


TRAVERSALS = [
    "../x",
    "..",
    "../../../../etc/passwd",
    "/etc/passwd",
    "/etc/passwd.yml",
    "a/../../x",
    "a/../b",  # stays inside, but '..' is never needed: refused all the same
    "./x",
    unquote("%2e%2e%2fx"),
    unquote("%2e%2e/%2e%2e/etc/passwd"),
    unquote("a%2f%2e%2e%2f%2e%2e%2fx"),
    unquote("%2fetc%2fpasswd"),
    "..\\x",
    "a\\..\\..\\x",
    "a\x00b",
    "pmm.yml\x00.txt",
    "x\n",
    "\t",
    "",
    "   ",
    ".hidden",
    ".pmm.yml.abcd.tmp",
    "a/.git/config",
    "a//b",
    "a/",
    "x" * 300,
    "/".join(["a"] * 20),
]


@pytest.mark.parametrize("name", TRAVERSALS)
@pytest.mark.parametrize("must_exist", [True, False])
def test_resolve_refuses_unsafe_names(configs: Path, name: str, must_exist: bool) -> None:
    with pytest.raises(ConfigNameError) as info:
        resolve_config_path(configs, name, must_exist=must_exist)
    message = str(info.value)
    assert "config name" in message
    assert "\x00" not in message and "\n" not in message.replace("\\n", "")


def test_unsafe_names_are_refused_everywhere(configs: Path) -> None:
    outside = _write(configs.parent / "outside.yml", "controller_name: pmm_simple\n")
    for name in ("../outside", "../outside.yml", str(outside), "a/../../outside"):
        with pytest.raises(ConfigNameError):
            read_config(configs, name)
        with pytest.raises(ConfigNameError):
            save_config(configs, name, PMM)
        with pytest.raises(ConfigNameError):
            delete_config(configs, name)
    assert outside.read_text() == "controller_name: pmm_simple\n"
    assert not configs.exists()


def test_name_must_be_text(configs: Path) -> None:
    with pytest.raises(ConfigNameError, match="must be text"):
        resolve_config_path(configs, 3)  # type: ignore[arg-type]


def test_symlink_to_a_file_outside_is_refused(tmp_path: Path, configs: Path) -> None:
    secret = _write(tmp_path / "secret.yml", "controller_name: pmm_simple\npassword: x\n")
    configs.mkdir()
    (configs / "leak.yml").symlink_to(secret)
    with pytest.raises(ConfigNameError, match="symbolic link"):
        read_config(configs, "leak")
    with pytest.raises(ConfigNameError, match="symbolic link"):
        save_config(configs, "leak", PMM)
    with pytest.raises(ConfigNameError):
        delete_config(configs, "leak")
    assert secret.exists()
    [entry] = list_configs(configs)
    assert entry["config_name"] == "leak"
    assert "symbolic link" in entry["error"]
    assert "password" not in entry


def test_symlinked_folder_to_outside_is_refused(tmp_path: Path, configs: Path) -> None:
    _write(tmp_path / "elsewhere" / "x.yml", "controller_name: pmm_simple\n")
    configs.mkdir()
    (configs / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(ConfigNameError, match="symbolic link"):
        read_config(configs, "sub/x")
    with pytest.raises(ConfigNameError, match="symbolic link"):
        save_config(configs, "sub/new", PMM)
    assert not (tmp_path / "elsewhere" / "new.yml").exists()
    assert list_configs(configs) == []  # links to folders are not followed


def test_dangling_symlink_to_outside_is_not_written_through(tmp_path: Path, configs: Path) -> None:
    configs.mkdir()
    target = tmp_path / "created_outside.yml"
    (configs / "dangling.yml").symlink_to(target)
    with pytest.raises(ConfigNameError):
        save_config(configs, "dangling", PMM)
    assert not target.exists()


def test_symlink_loop_is_refused(configs: Path) -> None:
    configs.mkdir()
    (configs / "loop.yml").symlink_to(configs / "loop.yml")
    with pytest.raises(ConfigNameError):
        read_config(configs, "loop")


def test_symlink_inside_is_read_but_never_written_through(configs: Path) -> None:
    save_config(configs, "real", PMM)
    before = (configs / "real.yml").read_bytes()
    (configs / "alias.yml").symlink_to(configs / "real.yml")
    assert read_config(configs, "alias") == PMM
    with pytest.raises(ConfigNameError, match="never written through"):
        save_config(configs, "alias", {**PMM, "total_amount_quote": 5})
    assert (configs / "real.yml").read_bytes() == before
    delete_config(configs, "alias")  # removes the link, not the file it points to
    assert not os.path.lexists(configs / "alias.yml")
    assert read_config(configs, "real") == PMM


def test_configs_dir_may_itself_be_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real_configs"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    save_config(link, "pmm", PMM)
    assert (real / "pmm.yml").is_file()
    assert read_config(link, "pmm") == PMM


def test_folder_is_not_a_config(configs: Path) -> None:
    (configs / "btc.yml").mkdir(parents=True)
    with pytest.raises(ConfigNameError, match="folder"):
        read_config(configs, "btc")


# --------------------------------------------------------------------------------------------
# not found


def test_not_found_suggests_closest_names(configs: Path) -> None:
    save_config(configs, "pmm_btc", PMM)
    save_config(configs, "pmm_eth", PMM)
    with pytest.raises(ConfigNotFoundError) as info:
        read_config(configs, "pmm_bt")
    assert str(info.value) == "config 'pmm_bt' not found (did you mean 'pmm_btc' or 'pmm_eth'?)"
    with pytest.raises(ConfigNotFoundError, match="saved configs: pmm_btc, pmm_eth"):
        read_config(configs, "zzzz.yml")
    with pytest.raises(ConfigNotFoundError, match="'zzzz' not found"):
        delete_config(configs, "zzzz")


def test_not_found_in_missing_or_empty_dir(configs: Path) -> None:
    for _ in range(2):
        with pytest.raises(ConfigNotFoundError, match="no configs are saved yet"):
            read_config(configs, "pmm")
        configs.mkdir(exist_ok=True)
    assert list_configs(configs) == []


# --------------------------------------------------------------------------------------------
# save, read, list, delete


def test_round_trip(configs: Path, registry: ControllerRegistry) -> None:
    answer = save_config(configs, "pmm_btc", PMM, registry=registry)
    assert answer == {
        "message": "Configuration 'pmm_btc' saved successfully",
        "config_name": "pmm_btc",
        "warnings": [],
    }
    assert configs.is_dir()
    assert read_config(configs, "pmm_btc") == PMM
    assert read_config(configs, "pmm_btc.yml") == PMM
    assert read_config(configs, "pmm_btc", with_id=True) == {**PMM, "id": "pmm_btc"}
    # Kept as given, in the given order: the file is what the user wrote.
    assert list(yaml.safe_load((configs / "pmm_btc.yml").read_text())) == list(PMM)

    save_config(configs, "eth/grid.yml", {"controller_name": "grid_strike", "id": "mine"})
    listed = list_configs(configs)
    assert [entry["config_name"] for entry in listed] == ["eth/grid", "pmm_btc"]
    grid, pmm = listed
    assert grid["id"] == "eth/grid"  # as hummingbot-api: id is the config's name
    assert grid["controller_name"] == "grid_strike"
    assert pmm == {
        **PMM,
        "id": "pmm_btc",
        "config_name": "pmm_btc",
        "modified_at": pmm["modified_at"],
    }
    assert isinstance(pmm["modified_at"], int) and pmm["modified_at"] > 1_600_000_000
    json.dumps(listed, allow_nan=False)

    # Saving again replaces.
    save_config(configs, "pmm_btc", {**PMM, "total_amount_quote": 50})
    assert read_config(configs, "pmm_btc")["total_amount_quote"] == 50

    delete_config(configs, "pmm_btc")
    delete_config(configs, "eth/grid.yml")
    assert list_configs(configs) == []
    with pytest.raises(ConfigNotFoundError):
        read_config(configs, "pmm_btc")
    with pytest.raises(ConfigNotFoundError):
        delete_config(configs, "pmm_btc")
    assert _leftovers(configs) == []


def test_save_keeps_a_yaml_file_yaml(configs: Path) -> None:
    _write(configs / "old.yaml", yaml.safe_dump(PMM))
    save_config(configs, "old", {**PMM, "total_amount_quote": 7})
    assert sorted(p.name for p in configs.iterdir()) == ["old.yaml"]
    assert read_config(configs, "old")["total_amount_quote"] == 7


def test_save_reports_ignored_keys(configs: Path) -> None:
    answer = save_config(configs, "pmm", {**PMM, "candles_extra": 1})
    assert answer["warnings"] == [
        "config key 'candles_extra' is not a field of pmm_simple and was ignored"
    ]
    assert read_config(configs, "pmm")["candles_extra"] == 1


def test_save_unicode_and_nulls(configs: Path) -> None:
    config = {**PMM, "id": "überpmm ✓", "time_limit": None}
    save_config(configs, "unicode", config)
    assert read_config(configs, "unicode") == config
    assert "überpmm ✓" in (configs / "unicode.yml").read_text(encoding="utf-8")


def test_user_controller_config(configs: Path, user_registry: ControllerRegistry) -> None:
    config = {"controller_name": "pmm_shifted", "price_shift": 0.01, "connector_name": "demo"}
    with pytest.raises(ConfigError, match="unknown controller_name 'pmm_shifted'"):
        save_config(configs, "shifted", config)  # the built-ins alone do not know it
    save_config(configs, "shifted", config, registry=user_registry)
    assert read_config(configs, "shifted") == config


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({**PMM, "buy_spreads": "0.01,abc"}, r"buy_spreads\.1"),
        ({**PMM, "trading_pair": "BTCUSDT"}, "did you mean 'BTC-USDT'"),
        ({**PMM, "controller_name": "pmm_simpel"}, "did you mean 'pmm_simple'"),
        ({"connector_name": "demo"}, "controller_name is missing"),
        ({**PMM, "odd": object()}, "cannot be saved as YAML"),
        ({**PMM, "big": "x" * (MAX_CONFIG_BYTES + 1)}, "larger than"),
    ],
)
def test_invalid_config_is_refused_before_writing(
    configs: Path, config: dict[str, Any], match: str
) -> None:
    save_config(configs, "pmm", PMM)
    before = (configs / "pmm.yml").read_bytes()
    with pytest.raises(ConfigError, match=match):
        save_config(configs, "pmm", config)
    with pytest.raises(ConfigError, match=match):
        save_config(configs, "new", config)
    assert (configs / "pmm.yml").read_bytes() == before
    assert sorted(p.name for p in configs.iterdir()) == ["pmm.yml"]


@pytest.mark.parametrize("config", [["controller_name", "pmm_simple"], "pmm_simple", None])
def test_non_mapping_config_is_refused(configs: Path, config: Any) -> None:
    with pytest.raises(ConfigError, match="mapping"):
        save_config(configs, "pmm", config)
    assert not configs.exists()


def test_alias_bomb_is_refused(configs: Path) -> None:
    layer: Any = ["x"] * 10
    for _ in range(8):
        layer = [layer] * 10
    with pytest.raises(ConfigError, match="holds more than"):
        save_config(configs, "bomb", {**PMM, "extra": layer})


def test_broken_user_controller_is_reported(configs: Path) -> None:
    broken = ControllerRegistry(plugins=discover([BROKEN_DIR]))
    name = sorted(broken.broken)[0]
    with pytest.raises(ControllerError):
        save_config(configs, "broken", {"controller_name": name}, registry=broken)
    assert not (configs / "broken.yml").exists()


# --------------------------------------------------------------------------------------------
# atomic writes


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_keeps_the_old_file(
    configs: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    save_config(configs, "pmm", PMM)
    before = (configs / "pmm.yml").read_bytes()

    def boom(*args: Any, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(svc.os, failing, boom)
    with pytest.raises(OutputError, match="No space left on device") as info:
        save_config(configs, "pmm", {**PMM, "total_amount_quote": 5})
    assert "pmm" in str(info.value)
    monkeypatch.undo()
    assert (configs / "pmm.yml").read_bytes() == before
    assert _leftovers(configs) == []
    assert sorted(p.name for p in configs.iterdir()) == ["pmm.yml"]


def test_interrupted_write_leaves_no_temp_file(
    configs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(svc.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_config(configs, "pmm", PMM)
    monkeypatch.undo()
    assert list(configs.iterdir()) == []


def test_unwritable_dir_is_an_output_error(tmp_path: Path) -> None:
    blocker = _write(tmp_path / "file", "not a folder")
    with pytest.raises(OutputError, match="HBBACKTEST_CONFIGS_DIR"):
        save_config(blocker / "configs", "pmm", PMM)


def test_temp_files_are_never_listed(configs: Path) -> None:
    save_config(configs, "pmm", PMM)
    _write(configs / ".pmm.yml.x1y2.tmp", "half a fi")
    _write(configs / ".hidden.yml", "controller_name: pmm_simple\n")
    _write(configs / ".git" / "x.yml", "controller_name: pmm_simple\n")
    _write(configs / "notes.txt", "hello")
    _write(configs / "script.py", "x = 1")
    assert [entry["config_name"] for entry in list_configs(configs)] == ["pmm"]


# --------------------------------------------------------------------------------------------
# list_configs with broken files


def test_unreadable_files_are_listed_with_an_error(configs: Path) -> None:
    save_config(configs, "good", PMM)
    _write(configs / "bad_yaml.yml", "controller_name: [pmm_simple\n")
    _write(configs / "a_list.yml", "- 1\n- 2\n")
    _write(configs / "empty.yml", "")
    (configs / "latin1.yml").write_bytes(b"controller_name: caf\xe9\n")
    (configs / "huge.yml").write_bytes(b"a: " + b"x" * (MAX_CONFIG_BYTES + 10) + b"\n")
    listed = {entry["config_name"]: entry for entry in list_configs(configs)}
    assert sorted(listed) == ["a_list", "bad_yaml", "empty", "good", "huge", "latin1"]
    assert "error" not in listed["good"]
    for name, fragment in [
        ("bad_yaml", "not valid YAML"),
        ("a_list", "not a mapping"),
        ("empty", "empty"),
        ("latin1", "not UTF-8"),
        ("huge", "larger than"),
    ]:
        entry = listed[name]
        assert entry["id"] == name
        assert entry["controller_name"] == entry["controller_type"] == "error"
        assert fragment in entry["error"], (name, entry["error"])
        assert isinstance(entry["modified_at"], int)
    json.dumps(list(listed.values()), allow_nan=False)
    for name in ("bad_yaml", "a_list", "empty"):
        with pytest.raises(ConfigError) as info:
            read_config(configs, name)
        assert not isinstance(info.value, ConfigNotFoundError | ConfigNameError)


def test_yaml_twin_is_listed_under_its_full_name(configs: Path) -> None:
    _write(configs / "both.yml", "controller_name: pmm_simple\n")
    _write(configs / "both.yaml", "controller_name: dman_v3\n")
    listed = {entry["config_name"]: entry["controller_name"] for entry in list_configs(configs)}
    assert listed == {"both": "pmm_simple", "both.yaml": "dman_v3"}
    for name, controller in listed.items():
        assert read_config(configs, name)["controller_name"] == controller


# --------------------------------------------------------------------------------------------
# controllers


def test_catalogue_of_builtins(registry: ControllerRegistry) -> None:
    catalogue = controller_catalogue(registry)
    assert list(catalogue)[:3] == ["directional_trading", "market_making", "generic"]
    assert catalogue["generic"] == ["grid_strike"]
    assert "pmm_simple" in catalogue["market_making"]
    assert "dman_v3" in catalogue["directional_trading"]
    for names in catalogue.values():
        assert names == sorted(names)


def test_catalogue_with_user_controllers(user_registry: ControllerRegistry) -> None:
    catalogue = controller_catalogue(user_registry)
    assert {"pmm_shifted", "pmm_simple_hb", "dman_maker_v2_hb"} <= set(catalogue["market_making"])
    assert "bollinger_v1_hb" in catalogue["directional_trading"]


def test_catalogue_leaves_out_broken_files() -> None:
    broken = ControllerRegistry(plugins=discover([BROKEN_DIR]))
    catalogue = controller_catalogue(broken)
    listed = {name for names in catalogue.values() for name in names}
    assert not listed & set(broken.broken)
    assert "pmm_simple" in listed


def test_source_of_builtin(registry: ControllerRegistry) -> None:
    source = controller_source(registry, "market_making", "pmm_simple")
    assert "class PMMSimpleController" in source
    assert controller_source(registry, "market_making", "pmm_simple.py") == source
    assert "class GridStrikeController" in controller_source(registry, "generic", "grid_strike")


def test_source_of_user_file(user_registry: ControllerRegistry) -> None:
    path = NATIVE_DIR / "market_making" / "pmm_shifted.py"
    assert controller_source(user_registry, "market_making", "pmm_shifted") == path.read_text()
    hb = HB_DIR / "market_making" / "pmm_simple_hb.py"
    assert controller_source(user_registry, "market_making", "pmm_simple_hb") == hb.read_text()


def test_source_of_user_file_shadowing_a_builtin(tmp_path: Path) -> None:
    folder = tmp_path / "controllers" / "market_making"
    folder.mkdir(parents=True)
    shutil.copy(NATIVE_DIR / "market_making" / "pmm_shifted.py", folder / "pmm_simple.py")
    text = (folder / "pmm_simple.py").read_text().replace('"pmm_shifted"', '"pmm_simple"')
    (folder / "pmm_simple.py").write_text(text)
    shadowing = ControllerRegistry(plugins=discover([tmp_path / "controllers"]))
    assert controller_source(shadowing, "market_making", "pmm_simple") == text


UNKNOWN = [
    lambda r: controller_source(r, "market_making", "pmm_simpel"),
    lambda r: config_template(r, "market_making", "pmm_simpel"),
    lambda r: config_schema(r, "market_making", "pmm_simpel"),
    lambda r: validate_config(r, "market_making", "pmm_simpel", {}),
]


@pytest.mark.parametrize("call", UNKNOWN)
def test_unknown_controller_lists_closest_first(registry: ControllerRegistry, call: Any) -> None:
    with pytest.raises(ControllerNotFoundError) as info:
        call(registry)
    message = str(info.value)
    assert message.startswith(
        "no controller 'pmm_simpel' of type 'market_making' (did you mean 'pmm_simple'"
    )
    available = message.split("available: ")[1].split(", ")
    assert available[0] == "pmm_simple"
    assert sorted(available) == registry.names()


def test_wrong_type_is_not_found(registry: ControllerRegistry) -> None:
    with pytest.raises(ControllerNotFoundError, match="pmm_simple' is a market_making controller"):
        config_template(registry, "generic", "pmm_simple")
    with pytest.raises(ControllerNotFoundError, match="ask for generic/grid_strike"):
        controller_source(registry, "nonsense", "grid_strike")


def test_broken_user_controller_template_raises_controller_error() -> None:
    broken = ControllerRegistry(plugins=discover([BROKEN_DIR]))
    name = sorted(broken.broken)[0]
    with pytest.raises(ControllerError):
        config_template(broken, "market_making", name)


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        ("market_making", "pmm_simple"),
        ("market_making", "pmm_dynamic"),
        ("market_making", "dman_maker_v2"),
        ("directional_trading", "dman_v3"),
        ("directional_trading", "bollinger_v1"),
        ("generic", "grid_strike"),
    ],
)
def test_template_of_builtins(registry: ControllerRegistry, kind: str, name: str) -> None:
    template = config_template(registry, kind, name)
    fields = registry.get(name).config_class.model_fields
    assert list(template) == list(fields)
    for entry in template.values():
        assert {"default", "type", "required"} <= set(entry)
        assert isinstance(entry["type"], str) and "typing." not in entry["type"]
        assert "<class" not in entry["type"]
        assert isinstance(entry["required"], bool)
    assert template["controller_name"]["default"] == name
    assert template["controller_type"]["default"] == kind
    assert template["id"] == {
        "default": None,
        "type": "str | None",
        "required": False,
        "description": template["id"]["description"],
    }
    json.dumps(template, allow_nan=False)
    # The defaults make a valid config of that controller.
    defaults = {key: entry["default"] for key, entry in template.items()}
    assert validate_config(registry, kind, name, defaults)["message"] == "Configuration is valid"


def test_template_values(registry: ControllerRegistry) -> None:
    pmm = config_template(registry, "market_making", "pmm_simple")
    assert pmm["buy_spreads"]["default"] == [0.01, 0.02]
    assert pmm["buy_spreads"]["type"] == "list[float]"
    assert pmm["take_profit_order_type"] == {
        "default": "LIMIT",
        "type": "OrderType",
        "required": False,
        "description": pmm["take_profit_order_type"]["description"],
    }
    assert pmm["position_mode"]["default"] == "HEDGE"
    assert pmm["initial_positions"]["default"] == []
    assert pmm["initial_positions"]["type"] == "list[dict[str, Any]]"
    assert pmm["stop_loss"]["type"] == "float | None"
    dman = config_template(registry, "directional_trading", "dman_v3")
    assert dman["candles_connector"]["type"] == "str | None"
    trailing = registry.get("dman_v3").config_class.model_fields["trailing_stop"].default
    assert dman["trailing_stop"]["default"] == {
        "activation_price": trailing.activation_price,
        "trailing_delta": trailing.trailing_delta,
    }
    grid = config_template(registry, "generic", "grid_strike")
    assert grid["side"]["default"] == "BUY"
    barrier = grid["triple_barrier_config"]["default"]
    assert barrier["open_order_type"] in {"LIMIT", "LIMIT_MAKER", "MARKET"}


def test_template_of_user_controllers(user_registry: ControllerRegistry) -> None:
    shifted = config_template(user_registry, "market_making", "pmm_shifted")
    assert shifted["price_shift"] == {
        "default": 0.0,
        "type": "float",
        "required": False,
        "description": "Fraction added to the close.",
    }
    assert shifted["controller_name"]["default"] == "pmm_shifted"
    hb = config_template(user_registry, "market_making", "pmm_simple_hb")
    assert hb["controller_name"]["default"] == "pmm_simple_hb"
    json.dumps(hb, allow_nan=False)


def test_schema_of_builtins_and_user(
    registry: ControllerRegistry, user_registry: ControllerRegistry
) -> None:
    schema = config_schema(registry, "generic", "grid_strike")
    assert schema["type"] == "object"
    assert "start_price" in schema["properties"]
    pmm = config_schema(registry, "market_making", "pmm_simple")
    assert "description" in pmm["properties"]["buy_spreads"]
    shifted = config_schema(user_registry, "market_making", "pmm_shifted")
    assert shifted["properties"]["price_shift"]["description"] == "Fraction added to the close."
    json.dumps(shifted, allow_nan=False)


def test_validate(registry: ControllerRegistry, user_registry: ControllerRegistry) -> None:
    ok = validate_config(registry, "market_making", "pmm_simple", PMM)
    assert ok == {"message": "Configuration is valid", "warnings": []}
    without_name = {k: v for k, v in PMM.items() if k != "controller_name"}
    assert validate_config(registry, "market_making", "pmm_simple", without_name) == ok
    noted = validate_config(registry, "market_making", "pmm_simple", {**PMM, "zzz": 1})
    assert noted["warnings"] == ["config key 'zzz' is not a field of pmm_simple and was ignored"]
    shifted = validate_config(user_registry, "market_making", "pmm_shifted", {"price_shift": 0.1})
    assert shifted["message"] == "Configuration is valid"


def test_validate_refuses_invalid(registry: ControllerRegistry) -> None:
    with pytest.raises(ConfigError) as info:
        validate_config(
            registry,
            "market_making",
            "pmm_simple",
            {**PMM, "buy_spreads": "0.01,-1", "total_amount_quote": -5},
        )
    message = str(info.value)
    assert "invalid config for pmm_simple" in message
    assert "total_amount_quote" in message and "buy_spreads" in message
    with pytest.raises(ConfigError, match="set controller_name to 'pmm_simple' or leave it out"):
        validate_config(registry, "market_making", "pmm_simple", {**PMM, "controller_name": "x"})
    with pytest.raises(ConfigError, match="mapping"):
        validate_config(registry, "market_making", "pmm_simple", [1, 2])  # type: ignore[arg-type]
