"""Process settings read from a settings file and the environment, built once and passed in.

``HBBACKTEST_SETTINGS`` may name a YAML or JSON file holding any of the keys in ``_FILE_KEYS``
(``data_dir``, ``controllers_dirs``, ``controller_timeout``, ``exchange_urls``, ``offline``,
``database_url`` and the API's ``configs_dir``, ``api_username``, ``api_password``,
``task_timeout``, ``max_queue``, ``result_retention_days``); each ``HBBACKTEST_*`` variable that
is set overrides the file's value. Relative paths in the file are relative to the file.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hbbacktest.core.deadline import DEFAULT_CONTROLLER_TIMEOUT_S
from hbbacktest.core.errors import ConfigError, did_you_mean

_URL = re.compile(r"^https?://[^/\s?#]+(/[^\s?#]*)?$")
_FILE_KEYS = (
    "data_dir",
    "controllers_dirs",
    "controller_timeout",
    "exchange_urls",
    "offline",
    "database_url",
    "configs_dir",
    "api_username",
    "api_password",
    "task_timeout",
    "max_queue",
    "result_retention_days",
)
DEFAULT_TASK_TIMEOUT_S = 1800.0
DEFAULT_MAX_QUEUE = 64
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


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
        exchange_urls: connector name → base URL to send its candle requests to instead of
            the exchange (a proxy, a testnet, a local replay server); paths are kept.
            ``HBBACKTEST_EXCHANGE_URLS``, a JSON object, e.g.
            ``{"binance": "http://127.0.0.1:8080"}``.
        offline: never touch the network; candles missing from the cache are an error naming
            the command that fetches them. ``HBBACKTEST_OFFLINE=1``; default off.
        database_url: the results database (sweeps, API tasks), a SQLAlchemy URL such as
            ``postgresql+psycopg://user:pass@host/db``; ``HBBACKTEST_DATABASE_URL``; default
            None: a SQLite file ``hbbacktest.db`` in ``data_dir``.
        configs_dir: saved controller configs (YAML) of the API; ``HBBACKTEST_CONFIGS_DIR``;
            default ``<data_dir>/configs`` (see :attr:`configs_path`).
        api_username: HTTP Basic user of the API (``HBBACKTEST_API_USERNAME``); auth is on
            whenever a username or password is set.
        api_password: its password (``HBBACKTEST_API_PASSWORD``).
        task_timeout_s: wall-clock limit of one API backtest, queue time excluded; past it the
            worker is killed and the task failed. ``HBBACKTEST_TASK_TIMEOUT`` (seconds, ``0``
            for none); default 1800.
        max_queue: backtests the API accepts beyond those running before answering 429;
            ``HBBACKTEST_MAX_QUEUE``, default 64.
        result_retention_days: finished API tasks and results older than this are deleted at
            start-up and hourly; ``HBBACKTEST_RESULT_RETENTION_DAYS``; default None: kept.
    """

    data_dir: Path = Path("data")
    controllers_dirs: tuple[Path, ...] = ()
    controller_timeout_s: float | None = DEFAULT_CONTROLLER_TIMEOUT_S
    exchange_urls: Mapping[str, str] = field(default_factory=dict, hash=False)
    offline: bool = False
    database_url: str | None = field(default=None, repr=False)  # may hold a password
    configs_dir: Path | None = None
    api_username: str | None = field(default=None, repr=False)
    api_password: str | None = field(default=None, repr=False)
    task_timeout_s: float | None = DEFAULT_TASK_TIMEOUT_S
    max_queue: int = DEFAULT_MAX_QUEUE
    result_retention_days: float | None = None

    @property
    def configs_path(self) -> Path:
        """Where saved controller configs live: ``configs_dir`` or ``<data_dir>/configs``."""
        return self.configs_dir if self.configs_dir is not None else self.data_dir / "configs"

    @property
    def auth_enabled(self) -> bool:
        """Whether the API asks for HTTP Basic credentials."""
        return bool(self.api_username or self.api_password)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings file (``HBBACKTEST_SETTINGS``) and ``HBBACKTEST_*`` variables.

        Args:
            environ: the variables (``os.environ`` by default).

        Raises:
            ConfigError: a value is invalid (a timeout that is not seconds >= 0, exchange URLs
                that are not a JSON object of http(s) URLs, an unknown key in the file …);
                the message names the variable or file.
        """
        env = os.environ if environ is None else environ
        settings_path = env.get("HBBACKTEST_SETTINGS")
        file = _read_settings_file(settings_path)
        # Relative paths in the file are relative to the file, not to where a command runs.
        base = Path(settings_path).parent if settings_path else Path()
        for key in ("data_dir", "configs_dir"):
            if isinstance(file.get(key), str):
                file[key] = str(base / file[key])
        if isinstance(file.get("controllers_dirs"), list):
            file["controllers_dirs"] = [str(base / str(d)) for d in file["controllers_dirs"]]

        def pick(variable: str, key: str) -> Any:
            value = env.get(variable)
            return value if value not in (None, "") else file.get(key)

        dirs_raw = pick("HBBACKTEST_CONTROLLERS_DIR", "controllers_dirs")
        if isinstance(dirs_raw, list):
            dirs = tuple(Path(str(part)) for part in dirs_raw if part)
        else:
            dirs = tuple(Path(part) for part in str(dirs_raw or "").split(os.pathsep) if part)
        urls_raw = env.get("HBBACKTEST_EXCHANGE_URLS")
        urls = (
            _urls_from_json(urls_raw)
            if urls_raw
            else _check_urls(file.get("exchange_urls"), "exchange_urls in HBBACKTEST_SETTINGS")
        )
        timeout = pick("HBBACKTEST_CONTROLLER_TIMEOUT", "controller_timeout")
        return cls(
            data_dir=Path(str(pick("HBBACKTEST_DATA_DIR", "data_dir") or "data")),
            controllers_dirs=dirs,
            controller_timeout_s=_timeout_s(None if timeout is None else str(timeout)),
            exchange_urls=urls,
            offline=_flag(pick("HBBACKTEST_OFFLINE", "offline"), "HBBACKTEST_OFFLINE"),
            database_url=str(pick("HBBACKTEST_DATABASE_URL", "database_url") or "") or None,
            configs_dir=_optional_path(pick("HBBACKTEST_CONFIGS_DIR", "configs_dir")),
            api_username=_optional_text(pick("HBBACKTEST_API_USERNAME", "api_username")),
            api_password=_optional_text(pick("HBBACKTEST_API_PASSWORD", "api_password")),
            task_timeout_s=_seconds(
                pick("HBBACKTEST_TASK_TIMEOUT", "task_timeout"),
                "HBBACKTEST_TASK_TIMEOUT",
                DEFAULT_TASK_TIMEOUT_S,
                "the wall-clock limit of one API backtest",
            ),
            max_queue=_count(pick("HBBACKTEST_MAX_QUEUE", "max_queue"), "HBBACKTEST_MAX_QUEUE"),
            result_retention_days=_retention(
                pick("HBBACKTEST_RESULT_RETENTION_DAYS", "result_retention_days")
            ),
        )


def _read_settings_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    from hbbacktest.config.loading import read_config_file

    data = read_config_file(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"settings file {path} (HBBACKTEST_SETTINGS): expected a mapping")
    unknown = [key for key in data if key not in _FILE_KEYS]
    if unknown:
        hint = did_you_mean(str(unknown[0]), _FILE_KEYS)
        raise ConfigError(
            f"settings file {path} (HBBACKTEST_SETTINGS): unknown key {unknown[0]!r}{hint}; "
            f"known keys: {', '.join(_FILE_KEYS)}"
        )
    return data


def _urls_from_json(raw: str) -> dict[str, str]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError(
            f"HBBACKTEST_EXCHANGE_URLS is not valid JSON ({exc}); expected an object such as "
            '{"binance": "http://127.0.0.1:8080"}'
        ) from None
    return _check_urls(data, "HBBACKTEST_EXCHANGE_URLS")


def _check_urls(data: Any, where: str) -> dict[str, str]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{where}: expected an object mapping connector names to base URLs, such as "
            '{"binance": "http://127.0.0.1:8080"}'
        )
    urls = {}
    for name, url in data.items():
        if not isinstance(url, str) or not _URL.match(url):
            raise ConfigError(
                f"{where}: {name!r} → {url!r} is not an http(s) base URL such as "
                "'http://127.0.0.1:8080' or 'https://proxy.example.com/binance'"
            )
        urls[str(name)] = url.rstrip("/")
    return urls


def _flag(raw: Any, variable: str) -> bool:
    if isinstance(raw, bool):
        return raw
    text = "" if raw is None else str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{variable} = {raw!r}: expected 1/0, true/false, yes/no or on/off")


def _optional_path(raw: Any) -> Path | None:
    return Path(str(raw)) if raw not in (None, "") else None


def _optional_text(raw: Any) -> str | None:
    return str(raw) if raw not in (None, "") else None


def _seconds(raw: Any, variable: str, default: float, what: str) -> float | None:
    if raw is None or not str(raw).strip():
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not value >= 0:  # also NaN
        raise ConfigError(
            f"{variable} = {raw!r}: expected {what} in seconds, a number >= 0 (0 for no limit; "
            f"default {default:g})"
        )
    return None if value in (0.0, math.inf) else value


def _count(raw: Any, variable: str) -> int:
    if raw is None or not str(raw).strip():
        return DEFAULT_MAX_QUEUE
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = -1
    if value < 1:
        raise ConfigError(
            f"{variable} = {raw!r}: expected how many backtests may wait, an integer >= 1 "
            f"(default {DEFAULT_MAX_QUEUE})"
        )
    return value


def _retention(raw: Any) -> float | None:
    if raw is None or not str(raw).strip():
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = math.nan
    if not value > 0 or value == math.inf:
        raise ConfigError(
            f"HBBACKTEST_RESULT_RETENTION_DAYS = {raw!r}: expected a number of days > 0 (unset "
            "to keep results forever)"
        )
    return value


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
