"""Every config in examples/ loads and runs on the demo connector through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hbbacktest.cli.main import app

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "examples").glob("*.yml"))


def test_there_is_an_example_per_builtin_controller() -> None:
    from hbbacktest.controllers.registry import default_registry

    names = {path.stem for path in EXAMPLES}
    assert set(default_registry().names()) <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_runs(path: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = CliRunner().invoke(
        app,
        ["run", str(path), "--start", "2024-01-08", "--end", "2024-01-10", "--output", str(out)],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert document["results"]["total_executors"] > 0
    assert document["data_source"].startswith("demo connector (synthetic")
