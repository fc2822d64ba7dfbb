"""Suite-wide guards: no test reaches the internet.

Every test runs with ``HBBACKTEST_OFFLINE=1`` (child processes inherit it), and sockets may
only connect to loopback addresses: exchange access is tested against local servers the tests
start (``tests/kit/exchange_server.py``). A test that means to fetch sets
``HBBACKTEST_OFFLINE=0`` or passes ``offline=False`` with a local base URL.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

_real_connect = socket.socket.connect
_real_getaddrinfo = socket.getaddrinfo


def _loopback(host: object) -> bool:
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
        raise ConnectionRefusedError(f"tests may not reach the internet (connect to {address})")
    return _real_connect(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if isinstance(host, bytes):
        host = host.decode()
    if not _loopback(host):
        raise socket.gaierror(f"tests may not reach the internet (lookup of {host!r})")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("HBBACKTEST_OFFLINE", "1")
    monkeypatch.delenv("HBBACKTEST_EXCHANGE_URLS", raising=False)
    monkeypatch.delenv("HBBACKTEST_SETTINGS", raising=False)
    monkeypatch.delenv("HBBACKTEST_DATABASE_URL", raising=False)
    for name in (
        "HBBACKTEST_CONFIGS_DIR",
        "HBBACKTEST_API_USERNAME",
        "HBBACKTEST_API_PASSWORD",
        "HBBACKTEST_TASK_TIMEOUT",
        "HBBACKTEST_MAX_QUEUE",
        "HBBACKTEST_RESULT_RETENTION_DAYS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)
    yield
