"""Process settings from HBBACKTEST_* variables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError


def test_default_data_dir() -> None:
    assert Settings.from_env({}).data_dir == Path("data")
    assert Settings().data_dir == Path("data")


def test_data_dir_from_mapping() -> None:
    assert Settings.from_env({"HBBACKTEST_DATA_DIR": "/tmp/x"}).data_dir == Path("/tmp/x")


def test_empty_variable_means_default() -> None:
    assert Settings.from_env({"HBBACKTEST_DATA_DIR": ""}).data_dir == Path("data")


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HBBACKTEST_DATA_DIR", str(tmp_path))
    assert Settings.from_env().data_dir == tmp_path


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Settings().data_dir = Path("x")  # type: ignore[misc]


# --- exchange URLs, offline, the settings file -------------------------------------------------


def test_exchange_urls_from_json() -> None:
    env = {"HBBACKTEST_EXCHANGE_URLS": '{"binance": "http://127.0.0.1:8080/"}'}
    assert Settings.from_env(env).exchange_urls == {"binance": "http://127.0.0.1:8080"}
    assert Settings.from_env({}).exchange_urls == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{binance", "is not valid JSON"),
        ('["http://x"]', "expected an object"),
        ('{"binance": "ftp://x"}', "is not an http(s) base URL"),
        ('{"binance": 5}', "is not an http(s) base URL"),
    ],
)
def test_bad_exchange_urls_are_config_errors(raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Settings.from_env({"HBBACKTEST_EXCHANGE_URLS": raw})


@pytest.mark.parametrize(
    ("raw", "expected"), [("1", True), ("yes", True), ("ON", True), ("0", False), ("", False)]
)
def test_offline_flag(raw: str, expected: bool) -> None:
    assert Settings.from_env({"HBBACKTEST_OFFLINE": raw}).offline is expected


def test_offline_flag_must_be_a_boolean() -> None:
    with pytest.raises(ConfigError, match="HBBACKTEST_OFFLINE = 'maybe'"):
        Settings.from_env({"HBBACKTEST_OFFLINE": "maybe"})


def test_settings_file_values_and_overrides(tmp_path: Path) -> None:
    file = tmp_path / "conf" / "hb.yml"
    file.parent.mkdir()
    file.write_text(
        "data_dir: cache\n"
        "controllers_dirs: [mine]\n"
        "controller_timeout: 5\n"
        "offline: true\n"
        "exchange_urls: {okx: 'http://127.0.0.1:9'}\n"
    )
    settings = Settings.from_env({"HBBACKTEST_SETTINGS": str(file)})
    # relative paths are relative to the file
    assert settings.data_dir == file.parent / "cache"
    assert settings.controllers_dirs == (file.parent / "mine",)
    assert settings.controller_timeout_s == 5.0
    assert settings.offline is True
    assert settings.exchange_urls == {"okx": "http://127.0.0.1:9"}
    # a variable that is set wins over the file
    overridden = Settings.from_env(
        {"HBBACKTEST_SETTINGS": str(file), "HBBACKTEST_OFFLINE": "0", "HBBACKTEST_DATA_DIR": "x"}
    )
    assert overridden.offline is False and overridden.data_dir == Path("x")


def test_settings_file_with_an_unknown_key(tmp_path: Path) -> None:
    file = tmp_path / "hb.yml"
    file.write_text("ofline: true\n")
    with pytest.raises(ConfigError, match=r"unknown key 'ofline'.*did you mean 'offline'"):
        Settings.from_env({"HBBACKTEST_SETTINGS": str(file)})


def test_settings_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    file = tmp_path / "hb.yml"
    file.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        Settings.from_env({"HBBACKTEST_SETTINGS": str(file)})
