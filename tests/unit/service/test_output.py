"""Writing results: atomic files, stdout streaming, Parquet, and honest errors."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest

from hbbacktest.config.request import BacktestRequest
from hbbacktest.core.errors import ConfigError, OutputError
from hbbacktest.metrics.encode import summary_dict
from hbbacktest.metrics.result import BacktestResult
from hbbacktest.service import DEFAULT_CONFIG, load_controller_config, run_backtest
from hbbacktest.service import output as output_module
from hbbacktest.service.output import (
    check_output_target,
    os_reason,
    output_paths,
    write_result,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture(scope="module")
def result() -> BacktestResult:
    # spot pmm_simple with the rebalancer: position and order executors, and a position hold
    config = load_controller_config({**DEFAULT_CONFIG, "skip_rebalance": False})
    return run_backtest(BacktestRequest(config=config, start="2024-01-08", end="2024-01-09"))


@pytest.fixture(scope="module")
def expected(result: BacktestResult) -> bytes:
    return orjson.dumps(result.to_dict()) + b"\n"


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# --- JSON files ---------------------------------------------------------------------------------


def test_json_file_is_the_document(result: BacktestResult, expected: bytes, tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "run.json"
    assert write_result(result, target) == [target]
    assert target.read_bytes() == expected
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()
    assert _leftovers(target.parent) == []


def test_small_blocks_write_the_same_bytes(
    result: BacktestResult, expected: bytes, tmp_path: Path
) -> None:
    target = tmp_path / "run.json"
    write_result(result, target, block_rows=5)
    assert target.read_bytes() == expected


def test_replaces_an_existing_file(result: BacktestResult, expected: bytes, tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    target.write_text("old")
    target.chmod(0o600)
    write_result(result, target)
    assert target.read_bytes() == expected
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~_umask()


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no posix_fadvise here")
def test_writeback_is_started_as_the_file_grows(
    result: BacktestResult, expected: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[int, int, int]] = []
    real = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        calls.append((offset, length, advice))
        real(fd, offset, length, advice)

    monkeypatch.setattr(output_module, "_BUFFER", 10_000)
    monkeypatch.setattr(output_module, "_WRITEBACK_BYTES", 100_000)
    monkeypatch.setattr(os, "posix_fadvise", spy)
    target = tmp_path / "run.json"
    write_result(result, target, block_rows=50)
    assert target.read_bytes() == expected
    assert len(calls) >= len(expected) // 200_000
    assert all(advice == os.POSIX_FADV_DONTNEED for _, _, advice in calls)


def test_summary_only(result: BacktestResult, tmp_path: Path) -> None:
    target = tmp_path / "summary.json"
    write_result(result, target, summary_only=True)
    assert target.read_bytes() == orjson.dumps(summary_dict(result)) + b"\n"
    document = json.loads(target.read_text())
    assert "executors" not in document
    assert "processed_data" not in document
    assert "pnl_timeseries" not in document
    assert document["results"] == json.loads(result.to_json())["results"]


def test_a_symlink_target_writes_through(
    result: BacktestResult, expected: bytes, tmp_path: Path
) -> None:
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_result(result, link)
    assert link.is_symlink()
    assert real.read_bytes() == expected


def test_a_character_device_is_written_in_place(result: BacktestResult) -> None:
    devnull = Path(os.devnull)
    check_output_target(devnull)
    assert write_result(result, devnull) == [devnull]
    assert stat.S_ISCHR(devnull.stat().st_mode)


def test_stdout_streams_the_document(
    result: BacktestResult, expected: bytes, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert write_result(result, "-") == []
    assert capfdbinary.readouterr().out == expected


def test_stdout_summary_only(
    result: BacktestResult, capfdbinary: pytest.CaptureFixture[bytes]
) -> None:
    write_result(result, "-", summary_only=True)
    assert capfdbinary.readouterr().out == orjson.dumps(summary_dict(result)) + b"\n"


# --- failures leave targets untouched -----------------------------------------------------------


def test_failure_midway_keeps_the_old_file(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield b'{"run_id":'
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_module, "json_chunks", broken)
    target = tmp_path / "run.json"
    target.write_text("old")
    with pytest.raises(OutputError, match=r"cannot write .*run\.json: disk full") as info:
        write_result(result, target)
    assert info.value.exit_code == 5
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_any_exception_removes_the_temporary_file(
    result: BacktestResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Iterator[bytes]:
        yield b"{"
        raise KeyboardInterrupt

    monkeypatch.setattr(output_module, "json_chunks", broken)
    with pytest.raises(KeyboardInterrupt):
        write_result(result, tmp_path / "run.json")
    assert list(tmp_path.iterdir()) == []


def test_dev_full_is_a_full_disk(result: BacktestResult) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is Linux-only")
    with pytest.raises(OutputError, match=r"cannot write /dev/full: disk full"):
        write_result(result, "/dev/full")


def test_stdout_on_a_full_disk(result: BacktestResult, monkeypatch: pytest.MonkeyPatch) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is Linux-only")
    full = open("/dev/full", "w")  # closed below, where a full disk may raise
    try:
        monkeypatch.setattr(sys, "stdout", full)
        with pytest.raises(OutputError, match=r"cannot write to stdout: disk full"):
            write_result(result, "-")
    finally:
        monkeypatch.undo()
        try:
            full.close()
        except OSError:
            pass  # what stayed in the buffer cannot be written either


def _python(script: str, *, prefix: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*(prefix or []), sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=300,
    )


RUN_DEMO = """
    import resource, signal, sys
    from hbbacktest.config.request import BacktestRequest
    from hbbacktest.core.errors import HbBacktestError
    from hbbacktest.service import default_request, run_backtest
    from hbbacktest.service.output import check_output_target, write_result
    request = default_request()
    result = run_backtest(BacktestRequest(config=request.config, start="2024-01-08",
                                          end="2024-01-09"))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="file-size limits are POSIX")
def test_a_real_write_error_midway_keeps_the_old_file(tmp_path: Path) -> None:
    """A file-size limit makes the kernel refuse a write halfway (EFBIG), as a full disk would."""
    target = tmp_path / "run.json"
    target.write_text("old")
    done = _python(
        RUN_DEMO
        + f"""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, resource.RLIM_INFINITY))
    for fmt in ("json", "parquet"):
        try:
            write_result(result, {str(target)!r}, fmt=fmt, block_rows=50)
        except HbBacktestError as exc:
            print(type(exc).__name__, exc.exit_code, exc)
    """
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    for line in lines:
        assert line.startswith("OutputError 5 cannot write ")
        assert line.endswith(": file too large")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_read_only_directory(tmp_path: Path) -> None:
    """Checked before the run (ConfigError) and at write time (OutputError), for real."""
    directory = tmp_path / "ro"
    directory.mkdir()
    (directory / "run.json").write_text("old")
    directory.chmod(0o555)
    prefix: list[str] = []
    if os.geteuid() == 0:
        # root ignores file modes; drop the capabilities that let it, as a normal user has none
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a directory read-only")
        prefix = [setpriv, "--inh-caps=-all", "--bounding-set=-all", "--"]
    try:
        done = _python(
            RUN_DEMO
            + f"""
    for call in (lambda: check_output_target({str(directory / "run.json")!r}),
                 lambda: check_output_target({str(directory / "sub" / "run.json")!r}),
                 lambda: write_result(result, {str(directory / "run.json")!r})):
        try:
            call()
        except HbBacktestError as exc:
            print(type(exc).__name__, exc)
    """,
            prefix=prefix,
        )
    finally:
        directory.chmod(0o755)
    assert done.returncode == 0, done.stderr
    check, check_sub, write = done.stdout.splitlines()
    assert check.startswith("ConfigError cannot write ")
    assert check.endswith(f"directory {directory} is not writable (permission denied)")
    assert check_sub.startswith("ConfigError ") and "not writable" in check_sub
    assert write == f"OutputError cannot write {directory / 'run.json'}: permission denied"
    assert (directory / "run.json").read_text() == "old"
    assert [p.name for p in directory.iterdir()] == ["run.json"]


@pytest.mark.parametrize(
    "code, reason",
    [
        (errno.ENOSPC, "disk full"),
        (errno.EACCES, "permission denied"),
        (errno.EROFS, "read-only file system"),
        (errno.EDQUOT, "disk quota exceeded"),
        (errno.EFBIG, "file too large"),
    ],
)
def test_os_reasons(code: int, reason: str) -> None:
    assert os_reason(OSError(code, os.strerror(code))) == reason


def test_unknown_os_reason_uses_strerror() -> None:
    assert os_reason(OSError(errno.ELOOP, "Too many levels")) == "Too many levels"
    assert os_reason(OSError()) == "OSError"


# --- checks before the run ----------------------------------------------------------------------


def test_check_accepts_new_nested_paths_and_creates_nothing(tmp_path: Path) -> None:
    check_output_target(tmp_path / "a" / "b" / "run.json")
    check_output_target(tmp_path / "a" / "b" / "run.json", "parquet")
    check_output_target("-")
    assert list(tmp_path.iterdir()) == []


def test_check_rejects_a_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        check_output_target(tmp_path)


def test_check_rejects_a_path_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"file is a regular file, not a directory"):
        check_output_target(tmp_path / "file" / "sub" / "run.json")


def test_write_under_a_file_is_an_output_error(result: BacktestResult, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        write_result(result, tmp_path / "file" / "run.json")


def test_check_rejects_parquet_over_a_directory(tmp_path: Path) -> None:
    (tmp_path / "run.executors.parquet").mkdir()
    with pytest.raises(ConfigError, match=r"run\.executors\.parquet is a directory"):
        check_output_target(tmp_path / "run.json", "parquet")


def test_check_rejects_parquet_to_a_device() -> None:
    with pytest.raises(ConfigError, match="not a regular file"):
        check_output_target(os.devnull, "parquet")


@pytest.mark.parametrize(
    "path, fmt, summary_only, message",
    [
        ("run.json", "jsn", False, r"unknown output format 'jsn' \(did you mean 'json'\?\)"),
        ("-", "parquet", False, "cannot go to stdout"),
        ("run.json", "parquet", True, "summary-only output is one JSON file"),
    ],
)
def test_impossible_combinations(
    result: BacktestResult, path: str, fmt: str, summary_only: bool, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        check_output_target(path, fmt, summary_only=summary_only)
    with pytest.raises(ConfigError, match=message):
        write_result(result, path, fmt=fmt, summary_only=summary_only)


def test_block_rows_must_be_positive(result: BacktestResult, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="block_rows"):
        write_result(result, tmp_path / "x.json", block_rows=0)


def test_output_paths() -> None:
    assert output_paths("out/run.json") == [Path("out/run.json")]
    assert output_paths("-") == []
    assert [p.name for p in output_paths("out/run.JSON", "parquet")] == [
        "run.executors.parquet",
        "run.pnl_timeseries.parquet",
        "run.processed_data.parquet",
        "run.JSON",
    ]
    assert output_paths("out/run", "parquet")[0] == Path("out/run.executors.parquet")


# --- Parquet ------------------------------------------------------------------------------------


def test_parquet_files_and_summary(result: BacktestResult, tmp_path: Path) -> None:
    target = tmp_path / "pq" / "run.json"
    check_output_target(target, "parquet")
    files = write_result(result, target, fmt="parquet", block_rows=100)
    assert files == output_paths(target, "parquet")
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o666 & ~_umask() for f in files)
    assert _leftovers(target.parent) == []
    summary = json.loads(target.read_text())
    document = json.loads(result.to_json())
    assert summary == {
        **{key: document[key] for key in summary_dict(result)},
        "parquet_files": {
            "executors": "run.executors.parquet",
            "pnl_timeseries": "run.pnl_timeseries.parquet",
            "processed_data": "run.processed_data.parquet",
        },
    }
    executors = pq.read_table(files[0])
    assert executors.num_rows == len(document["executors"]) > 100  # several row groups
    assert pq.ParquetFile(files[0]).num_row_groups == -(-executors.num_rows // 100)
    rows = executors.to_pylist()
    for row, executor in zip(rows, document["executors"], strict=True):
        for key in ("id", "timestamp", "type", "level_id", "side", "close_type", "amount",
                    "entry_price", "fill_price", "exit_price", "fill_timestamp", "net_pnl_quote",
                    "held_amount", "close_timestamp"):  # fmt: skip
            assert row[key] == executor[key], key
        assert row["close_price"] == executor["custom_info"]["close_price"]
    assert {row["type"] for row in rows} == {"position_executor", "order_executor"}
    pnl = pq.read_table(files[1]).to_pydict()
    assert pnl == document["pnl_timeseries"]
    processed = pq.read_table(files[2]).to_pydict()
    assert processed == document["processed_data"]["features"]


def test_parquet_dca_lists_and_nulls(tmp_path: Path) -> None:
    config = load_controller_config(EXAMPLES / "dman_maker_v2.yml")
    dca = run_backtest(BacktestRequest(config=config, start="2024-01-08", end="2024-01-09"))
    files = write_result(dca, tmp_path / "dca.json", fmt="parquet")
    rows = pq.read_table(files[0]).to_pylist()
    executors = dca.to_dict()["executors"]
    for row, executor in zip(rows, executors, strict=True):
        if executor["type"] == "dca_executor":
            assert row["dca_prices"] == executor["config"]["prices"]
            assert row["dca_amounts_quote"] == executor["config"]["amounts_quote"]
        else:
            assert row["dca_prices"] is None
        assert row["fill_price"] == executor["fill_price"]  # None when never filled


def test_parquet_without_executors(result: BacktestResult, tmp_path: Path) -> None:
    empty = dataclasses.replace(
        result, records=result.records[:0], level_ids=[], dca_prices=None, dca_amounts_quote=None
    )
    files = write_result(empty, tmp_path / "run.json", fmt="parquet")
    table = pq.read_table(files[0])
    assert table.num_rows == 0
    assert "net_pnl_quote" in table.column_names
    assert np.isfinite(json.loads(files[-1].read_text())["results"]["net_pnl_quote"])
