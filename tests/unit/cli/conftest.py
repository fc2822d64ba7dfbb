"""The CLI tests' runner: its own data directory and working directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> CliRunner:
    monkeypatch.setenv("HBBACKTEST_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.chdir(tmp_path)
    return CliRunner()
