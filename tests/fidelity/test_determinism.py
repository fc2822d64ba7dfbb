"""Determinism: the same request and candles give byte-identical JSON, across processes too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_byte_identical_across_processes(tmp_path: Path) -> None:
    """Two fresh interpreters running the embedded demo job write the same bytes."""
    outputs = []
    for index in range(2):
        target = tmp_path / f"run{index}.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "hbbacktest",
                "run",
                "--start",
                "2024-01-08",
                "--end",
                "2024-01-09",
                "--output",
                str(target),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
