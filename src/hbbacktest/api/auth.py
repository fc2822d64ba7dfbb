"""HTTP Basic auth, as hummingbot-api does it: constant-time compare, 401 with a challenge."""

from __future__ import annotations

import ipaddress
import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError

__all__ = ["check_bind", "require_auth"]

INSECURE = ("admin", "admin")


class _OptionalBasic(HTTPBasic):
    """HTTP Basic that never answers by itself: a malformed header counts as no credentials.

    FastAPI's ``HTTPBasic`` answers 401 for an undecodable header even with
    ``auto_error=False``; a server without credentials must ignore the header instead, and
    one with credentials refuses it in :func:`require_auth` like any wrong ones.
    """

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        """The credentials, or None when absent or unreadable."""
        try:
            return await super().__call__(request)
        except HTTPException:
            return None


_basic = _OptionalBasic(auto_error=False, description="HBBACKTEST_API_USERNAME / _PASSWORD")


def require_auth(
    request: Request,
    credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> str | None:
    """The authenticated user name; a no-op when the server has no credentials set.

    Raises:
        HTTPException: 401 with ``WWW-Authenticate: Basic`` for missing or wrong credentials.
    """
    settings: Settings = request.app.state.settings
    if not settings.auth_enabled:
        return None
    expected_user = (settings.api_username or "").encode()
    expected_password = (settings.api_password or "").encode()
    given_user = credentials.username.encode() if credentials else b""
    given_password = credentials.password.encode() if credentials else b""
    # Both compared every time, so timing says nothing about which one was wrong.
    user_ok = secrets.compare_digest(given_user, expected_user)
    password_ok = secrets.compare_digest(given_password, expected_password)
    if credentials is None or not (user_ok and password_ok):
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Incorrect username or password",
            headers={"WWW-Authenticate": "Basic"},
        )
    return credentials.username


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server reachable from this machine only."""
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: Settings, *, insecure: bool = False) -> list[str]:
    """Refuse to serve a non-loopback address without real credentials.

    Returns:
        Warnings to print (an insecure bind that was allowed with ``insecure``).

    Raises:
        ConfigError: only one of username and password is set; or the address is public and
            there are no credentials, or they are ``admin``/``admin``, without ``insecure``.
    """
    if bool(settings.api_username) != bool(settings.api_password):
        missing = "HBBACKTEST_API_PASSWORD" if settings.api_username else "HBBACKTEST_API_USERNAME"
        raise ConfigError(f"{missing} is not set: set both the API username and password")
    if is_loopback(host):
        return []
    if not settings.auth_enabled:
        problem = "without credentials"
    elif (settings.api_username, settings.api_password) == INSECURE:
        problem = "with the well-known credentials admin/admin"
    else:
        return []
    message = (
        f"serving {host} (reachable from other machines) {problem}: anyone who can reach it "
        "could run backtests and read results. Set HBBACKTEST_API_USERNAME and "
        "HBBACKTEST_API_PASSWORD to a real secret, bind 127.0.0.1"
    )
    if not insecure:
        raise ConfigError(message + ", or pass --insecure if this network is trusted")
    return [message.split(":")[0] + ": allowed by --insecure"]
