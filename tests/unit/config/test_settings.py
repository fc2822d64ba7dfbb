"""Process settings from HBBACKTEST_* variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbbacktest.config.settings import Settings


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
