"""The CLI starts fast: commands that do not simulate load no numba, pandas, TA-Lib or ccxt."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numba", "pandas", "talib", "ccxt")
PROBE = """
import sys
from hbbacktest.cli.main import app
try:
    app(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("HEAVY", sorted(m for m in {heavy!r} if m in sys.modules), code)
"""


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--version"],
        ["run", "--help"],
        ["controllers", "list"],
        ["data", "list"],
        ["data", "verify"],
        ["data", "fetch", "--help"],
    ],
    ids=" ".join,
)
def test_command_loads_no_heavy_library(args: list[str], tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            PROBE.format(heavy=HEAVY),
            *args,
            *(
                ["--data-dir", str(tmp_path)]
                if args in (["data", "list"], ["data", "verify"])
                else []
            ),
        ],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "HBBACKTEST_DATA_DIR": str(tmp_path)},
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("HEAVY"))
    assert line in ("HEAVY [] 0", "HEAVY [] None"), out
