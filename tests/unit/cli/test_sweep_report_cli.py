"""``hbbacktest sweep report``: the example sweep (demo connector, 1-day window), then its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from hbbacktest.cli.main import app

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"


def invoke(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


@pytest.fixture
def ran(runner: CliRunner, tmp_path: Path) -> Path:
    """The example sweep (pmm_grid, 6 configs) on a 1-day window, run once."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["end"] = "2024-01-09"
    spec = tmp_path / "spec.yml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    result = invoke(runner, "sweep", "run", spec, "--workers", "1")
    assert result.exit_code == 0, result.output
    return spec


def test_report_writes_index_and_run_pages(runner: CliRunner, ran: Path, tmp_path: Path) -> None:
    result = invoke(
        runner, "sweep", "report", "pmm_grid", "-o", "out", "--top", "2", "--metric",
        "sharpe_ratio", "--x", "take_profit", "--aggregate", "mean",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert str(out / "index.html") in result.stdout
    assert "2 config report(s)" in result.stdout
    html = (out / "index.html").read_text(encoding="utf-8")
    assert "Heatmap over take_profit and buy_spreads" in html
    assert "Top 2 by sharpe_ratio (highest first)" in html
    pages = sorted((out / "runs").glob("*.html"))
    assert len(pages) == 2
    for page in pages:
        assert f'href="runs/{page.name}"' in html


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "sharpe_ration"], "did you mean 'sharpe_ratio'"),
        (["--y", "take_profits"], "did you mean 'take_profit'"),
        (["--aggregate", "max"], "--aggregate 'max'"),
        (["--top", "0"], "--top 0"),
    ],
)
def test_bad_options_exit_2_with_a_hint(
    runner: CliRunner, ran: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = invoke(runner, "sweep", "report", "pmm_grid", "-o", "out", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_sweep_exits_2(runner: CliRunner, ran: Path) -> None:
    result = invoke(runner, "sweep", "report", "pmm_gird", "-o", "out")
    assert result.exit_code == 2
    assert "did you mean 'pmm_grid'" in result.stderr
