"""Which controllers can run: the built-ins plus the user directories in the settings."""

from __future__ import annotations

from hbbacktest.compat.loader import discover
from hbbacktest.config.settings import Settings
from hbbacktest.controllers.registry import ControllerRegistry


def build_registry(settings: Settings | None = None) -> ControllerRegistry:
    """The built-in controllers plus those in ``settings.controllers_dirs``.

    User controllers override built-ins of the same name. Their files are only listed here:
    each is imported (under ``settings.controller_timeout_s``) when a config first names it, or
    when every controller is listed (``describe()``, ``broken``). A file that fails to load
    raises its error whenever a config names it, so one bad file does not affect the others.

    Raises:
        ConfigError: a configured controllers directory does not exist.

    Example:
        >>> build_registry(Settings()).get("pmm_simple").__name__
        'PMMSimpleController'
    """
    settings = settings or Settings.from_env()
    return ControllerRegistry(
        plugins=discover(settings.controllers_dirs, time_limit_s=settings.controller_timeout_s),
        time_limit_s=settings.controller_timeout_s,
    )
