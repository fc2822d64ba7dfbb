"""Process settings read from the environment (``HBBACKTEST_*``), built once and passed in."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Settings of a CLI or service process.

    Attributes:
        data_dir: root of the candle store; ``HBBACKTEST_DATA_DIR``, default ``./data``.
        controllers_dirs: directories of user controllers (``<controller_type>/<name>.py``);
            ``HBBACKTEST_CONTROLLERS_DIR``, several separated by ``os.pathsep``; default none.
    """

    data_dir: Path = Path("data")
    controllers_dirs: tuple[Path, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``HBBACKTEST_*`` variables (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        dirs = tuple(
            Path(part)
            for part in (env.get("HBBACKTEST_CONTROLLERS_DIR") or "").split(os.pathsep)
            if part
        )
        return cls(data_dir=Path(env.get("HBBACKTEST_DATA_DIR") or "data"), controllers_dirs=dirs)
