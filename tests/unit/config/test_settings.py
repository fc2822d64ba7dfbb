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


def test_api_settings_defaults() -> None:
    settings = Settings.from_env({"HBBACKTEST_DATA_DIR": "/srv/hb"})
    assert settings.configs_path == Path("/srv/hb/configs")
    assert not settings.auth_enabled
    assert (settings.task_timeout_s, settings.max_queue) == (1800.0, 64)
    assert settings.result_retention_days is None


def test_api_settings_from_variables() -> None:
    settings = Settings.from_env(
        {
            "HBBACKTEST_CONFIGS_DIR": "/etc/hb/configs",
            "HBBACKTEST_API_USERNAME": "me",
            "HBBACKTEST_API_PASSWORD": "s3cret",
            "HBBACKTEST_TASK_TIMEOUT": "0",
            "HBBACKTEST_MAX_QUEUE": "5",
            "HBBACKTEST_RESULT_RETENTION_DAYS": "7.5",
        }
    )
    assert settings.configs_path == Path("/etc/hb/configs") and settings.auth_enabled
    assert settings.task_timeout_s is None and settings.max_queue == 5
    assert settings.result_retention_days == 7.5
    assert "s3cret" not in repr(settings)  # secrets stay out of logs and tracebacks


def test_api_settings_from_the_file_are_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "hb.yml"
    path.parent.mkdir()
    path.write_text("configs_dir: saved\napi_username: me\napi_password: pw\nmax_queue: 3\n")
    settings = Settings.from_env({"HBBACKTEST_SETTINGS": str(path)})
    assert settings.configs_path == tmp_path / "conf" / "saved"
    assert (settings.api_username, settings.max_queue) == ("me", 3)


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("HBBACKTEST_MAX_QUEUE", "0", "integer >= 1"),
        ("HBBACKTEST_MAX_QUEUE", "many", "integer >= 1"),
        ("HBBACKTEST_TASK_TIMEOUT", "-1", "0 for no limit"),
        ("HBBACKTEST_TASK_TIMEOUT", "nan", "0 for no limit"),
        ("HBBACKTEST_RESULT_RETENTION_DAYS", "0", "days > 0"),
        ("HBBACKTEST_RESULT_RETENTION_DAYS", "inf", "days > 0"),
    ],
)
def test_bad_api_settings_name_the_variable(variable: str, raw: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(variable)) as caught:
        Settings.from_env({variable: raw})
    assert message in str(caught.value)
