"""Process settings read from the environment (``HBBACKTEST_*``), built once and passed in."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from hbbacktest.core.deadline import DEFAULT_CONTROLLER_TIMEOUT_S
from hbbacktest.core.errors import ConfigError


@dataclass(frozen=True)
class Settings:
    """Settings of a CLI or service process.

    Attributes:
        data_dir: root of the candle store; ``HBBACKTEST_DATA_DIR``, default ``./data``.
        controllers_dirs: directories of user controllers (``<controller_type>/<name>.py``);
            ``HBBACKTEST_CONTROLLERS_DIR``, several separated by ``os.pathsep``; default none.
        controller_timeout_s: time limit of each phase of controller code: importing one
            controller file, computing one run's features, one run's bar loop; ``None``: no
            limit. ``HBBACKTEST_CONTROLLER_TIMEOUT`` (seconds, ``0`` for no limit); default 300.
    """

    data_dir: Path = Path("data")
    controllers_dirs: tuple[Path, ...] = ()
    controller_timeout_s: float | None = DEFAULT_CONTROLLER_TIMEOUT_S

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``HBBACKTEST_*`` variables (``os.environ`` by default).

        Raises:
            ConfigError: ``HBBACKTEST_CONTROLLER_TIMEOUT`` is not a number of seconds >= 0.
        """
        env = os.environ if environ is None else environ
        dirs = tuple(
            Path(part)
            for part in (env.get("HBBACKTEST_CONTROLLERS_DIR") or "").split(os.pathsep)
            if part
        )
        return cls(
            data_dir=Path(env.get("HBBACKTEST_DATA_DIR") or "data"),
            controllers_dirs=dirs,
            controller_timeout_s=_timeout_s(env.get("HBBACKTEST_CONTROLLER_TIMEOUT")),
        )


def _timeout_s(raw: str | None) -> float | None:
    if raw is None or not raw.strip():
        return DEFAULT_CONTROLLER_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value >= 0:  # also NaN
        raise ConfigError(
            f"HBBACKTEST_CONTROLLER_TIMEOUT = {raw!r}: expected the time limit of controller code "
            f"in seconds, a number >= 0 (0 for no limit; default {DEFAULT_CONTROLLER_TIMEOUT_S:g})"
        )
    return None if value in (0.0, math.inf) else value
