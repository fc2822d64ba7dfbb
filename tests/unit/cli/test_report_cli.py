"""``hbbacktest report`` and ``hbbacktest run --report``: files written, bad inputs, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hbbacktest.cli.main import app
from hbbacktest.report.png import find_browser

WINDOW = ["--start", "2024-01-08", "--end", "2024-01-08T06:00:00"]


@pytest.fixture(scope="module")
def result_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo run's result and, beside it, its --report."""
    folder = tmp_path_factory.mktemp("report-cli")
    target = folder / "demo.json"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HBBACKTEST_DATA_DIR", str(folder / "data"))
        done = CliRunner().invoke(
            app, ["run", *WINDOW, "-o", str(target), "--report", str(folder / "run.html")]
        )
    assert done.exit_code == 0, done.output
    assert f"report written to {folder / 'run.html'}" in done.output
    return target


def test_run_report_writes_the_report_of_the_run(result_json: Path) -> None:
    html = (result_json.parent / "run.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and 'id="main-chart"' in html
    assert '"candlestick"' in html


def test_report_writes_next_to_the_result_by_default(
    runner: CliRunner, result_json: Path, tmp_path: Path
) -> None:
    source = tmp_path / "mine.json"
    source.write_bytes(result_json.read_bytes())
    done = runner.invoke(app, ["report", str(source)])
    assert done.exit_code == 0, done.output
    written = tmp_path / "mine.html"
    assert f"report written to {written}" in done.output
    assert "note: candles: 1m demo BTC-USDT" in done.output
    html = written.read_text()
    document = json.loads(source.read_text())
    assert html.count('<tr><td data-v="') >= len(document["executors"])


def test_report_of_several_results_compares_them(
    runner: CliRunner, result_json: Path, tmp_path: Path
) -> None:
    target = tmp_path / "cmp.html"
    done = runner.invoke(
        app, ["report", str(result_json), str(result_json), "-o", str(target), "--title", "A/B"]
    )
    assert done.exit_code == 0, done.output
    html = target.read_text()
    assert "<title>A/B</title>" in html and 'id="equity-chart"' in html


@pytest.mark.parametrize(
    ("make", "code", "fragment"),
    [
        (None, 2, "not found"),
        ("{broken", 2, "is not a JSON result file"),
        ('{"name": "grid", "items": [{"config": {}}]}', 2, "is a sweep file"),
        ('{"results": {}}', 2, "is not a backtest result"),
    ],
    ids=["missing", "not-json", "sweep-file", "missing-keys"],
)
def test_bad_result_files(
    runner: CliRunner, tmp_path: Path, make: str | None, code: int, fragment: str
) -> None:
    source = tmp_path / "in.json"
    if make is not None:
        source.write_text(make)
    done = runner.invoke(app, ["report", str(source), "-o", str(tmp_path / "r.html")])
    assert done.exit_code == code, done.output
    assert "error: " in done.output and fragment in done.output
    assert "Traceback" not in done.output
    assert not (tmp_path / "r.html").exists()


def test_an_unwritable_output_is_exit_5(
    runner: CliRunner, result_json: Path, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    done = runner.invoke(app, ["report", str(result_json), "-o", str(tmp_path / "file" / "r.html")])
    assert done.exit_code == 5, done.output
    assert "cannot write" in done.output


def test_run_report_to_an_unwritable_path_fails_before_the_run(
    runner: CliRunner, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    done = runner.invoke(
        app,
        [
            "run",
            *WINDOW,
            "-o",
            str(tmp_path / "r.json"),
            "--report",
            str(tmp_path / "file" / "x.html"),
        ],
    )
    assert done.exit_code == 2, done.output
    assert "cannot write" in done.output
    assert not (tmp_path / "r.json").exists()


@pytest.mark.skipif(
    find_browser() is None,
    reason="no Chromium found (apt-get install chromium, or set $BROWSER_PATH)",
)
def test_png_exports_the_main_chart(runner: CliRunner, result_json: Path, tmp_path: Path) -> None:
    png = tmp_path / "chart.png"
    done = runner.invoke(
        app, ["report", str(result_json), "-o", str(tmp_path / "r.html"), "--png", str(png)]
    )
    assert done.exit_code == 0, done.output
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert f"chart written to {png}" in done.output


def test_png_without_a_browser_is_a_clear_error(
    runner: CliRunner, result_json: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "none"))
    done = runner.invoke(
        app,
        [
            "report",
            str(result_json),
            "-o",
            str(tmp_path / "r.html"),
            "--png",
            str(tmp_path / "c.png"),
        ],
    )
    assert done.exit_code == 5, done.output
    assert "apt-get install chromium" in done.output
    assert not (tmp_path / "c.png").exists()
    assert not (tmp_path / "r.html").exists()  # refused before any work


def test_run_report_onto_the_result_itself_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    target = str(tmp_path / "r.json")
    done = runner.invoke(app, ["run", *WINDOW, "-o", target, "--report", target])
    assert done.exit_code == 2, done.output
    assert "the result's own file" in done.output
    assert not (tmp_path / "r.json").exists()
