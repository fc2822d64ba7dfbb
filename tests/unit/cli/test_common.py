"""One place maps what a command raises to a message line and an exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hbbacktest.cli._common import handle_errors
from hbbacktest.core.errors import ConfigError, DataError, OutputError

HOSTILE = Path(__file__).resolve().parents[2] / "fixtures" / "hostile_controllers"


def app_raising(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @handle_errors
    def boom() -> None:
        raise exc

    return app


@pytest.mark.parametrize(
    ("exc", "code", "fragment"),
    [
        (ConfigError("bad field"), 2, "error: bad field"),
        (DataError("bad candles"), 3, "error: bad candles"),
        (OutputError("disk full"), 5, "error: disk full"),
        (
            RuntimeError("oops"),
            1,
            "internal error (a bug in hbbacktest, please report it): RuntimeError: oops",
        ),
        (KeyboardInterrupt(), 130, "interrupted"),
    ],
)
def test_errors_become_one_line_and_one_code(exc: BaseException, code: int, fragment: str) -> None:
    result = CliRunner().invoke(app_raising(exc), [])
    assert result.exit_code == code
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_of_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HBBACKTEST_DEBUG", "1")
    result = CliRunner().invoke(app_raising(RuntimeError("oops")), [])
    assert result.exit_code == 1
    assert "Traceback" in result.output


def test_ctrl_c_during_a_run_exits_130(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(
        "controller_name: bad_features_mm\nmode: hang\nconnector_name: demo\n"
        "trading_pair: BTC-USDT\nbuy_spreads: 0.01\nsell_spreads: 0.01\nskip_rebalance: true\n"
    )
    env = {**os.environ, "HBBACKTEST_CONTROLLER_TIMEOUT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hbbacktest", "run", str(config), "--controllers-dir", str(HOSTILE),
         "--start", "2024-01-08", "--end", "2024-01-09", "--output", str(tmp_path / "r.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        # A suite started in the background (`cmd &` without job control) ignores SIGINT,
        # and children inherit that: give this one the default a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        # Wait until the controller's code is spinning, then press Ctrl-C.
        assert proc.stderr is not None
        assert proc.stderr.readline().strip() == "spinning"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    assert "interrupted" in err
    assert "Traceback" not in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["controllers", "list"]])
def test_stdout_on_a_full_disk_is_an_output_error(args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "hbbacktest", *args],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert proc.returncode == 5, proc.stderr
    assert "cannot write the output" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    # `hbbacktest run --output - | head -c 10`: the reader leaves early, megabytes unread.
    proc = subprocess.run(
        f"{sys.executable} -m hbbacktest run --output - | head -c 10; exit ${{PIPESTATUS[0]}}",
        shell=True, executable="/bin/bash", capture_output=True, text=True, check=False,
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.stdout == '{"run_id":'
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "error" not in proc.stderr
