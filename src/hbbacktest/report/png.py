"""Charts as PNG, through kaleido and a Chromium found on this machine.

kaleido 1.x drives a headless Chromium (via choreographer). :func:`find_browser` looks for one:
``$BROWSER_PATH`` first (what kaleido itself reads), then ``chromium``, ``chromium-browser``,
``google-chrome`` and ``google-chrome-stable`` on ``PATH``. The page kaleido renders uses the
plotly.js shipped with plotly and no MathJax, so nothing is fetched from the network.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path
from typing import Any

from hbbacktest.core.errors import OutputError

__all__ = ["BROWSER_NAMES", "find_browser", "png_bytes", "require_browser", "write_png"]

BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
"""Executables tried, in order, when ``$BROWSER_PATH`` is not set."""

_INSTALL_HINT = (
    "install one (Debian/Ubuntu: `apt-get install chromium`) or point $BROWSER_PATH at a "
    "Chrome/Chromium executable"
)


def find_browser() -> str | None:
    """The Chromium to render with, or ``None`` when there is none.

    ``$BROWSER_PATH`` if set (``None`` if it names no file), else the first of
    :data:`BROWSER_NAMES` on ``PATH``.

    Example:
        >>> find_browser() is None or os.path.isfile(find_browser())
        True
    """
    explicit = os.environ.get("BROWSER_PATH")
    if explicit:
        return explicit if os.path.isfile(explicit) else None
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def require_browser() -> str:
    """The Chromium :func:`find_browser` finds, or an error saying how to get one.

    Raises:
        OutputError: none found (names ``apt-get install chromium`` and ``$BROWSER_PATH``).
    """
    browser = find_browser()
    if browser is None:
        where = os.environ.get("BROWSER_PATH")
        found = f"$BROWSER_PATH={where!r} is not a file" if where else "no Chromium or Chrome found"
        raise OutputError(f"cannot export PNG: {found}; {_INSTALL_HINT}")
    return browser


def png_bytes(figure: Any, *, width: int = 1400, height: int = 700) -> bytes:
    """Render a Plotly figure to PNG bytes.

    Args:
        figure: a ``plotly.graph_objects.Figure`` (or its dict).
        width: image width, pixels.
        height: image height, pixels.

    Raises:
        OutputError: no Chromium was found (the message says how to install one), kaleido is
            missing, or rendering failed.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}×{height}")
    browser = require_browser()
    try:
        import kaleido
    except ImportError as exc:  # pragma: no cover - kaleido is a dependency
        raise OutputError(
            "cannot export PNG: kaleido is not installed (pip install kaleido)"
        ) from exc
    try:
        data = kaleido.calc_fig_sync(
            figure,
            opts={"format": "png", "width": int(width), "height": int(height)},
            kopts={"path": browser, "mathjax": False},
        )
    except Exception as exc:  # kaleido/choreographer raise many kinds: all mean "no image"
        raise OutputError(
            f"cannot export PNG: rendering with {browser} failed ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(data, bytes | bytearray) or not bytes(data[:8]) == b"\x89PNG\r\n\x1a\n":
        raise OutputError(f"cannot export PNG: {browser} returned no PNG image")
    return bytes(data)


def write_png(
    figure: Any, path: str | os.PathLike[str], *, width: int = 1400, height: int = 700
) -> Path:
    """Render ``figure`` and write it to ``path`` atomically (temporary file, then rename).

    Args:
        figure: a ``plotly.graph_objects.Figure``.
        path: the PNG file; missing directories are created.
        width: image width, pixels (default 1400).
        height: image height, pixels (default 700).

    Returns:
        The path written.

    Raises:
        OutputError: no Chromium (install one: ``apt-get install chromium``), rendering
            failed, or the file cannot be written; nothing is left behind.

    Example:
        >>> from hbbacktest.report import main_figure
        >>> write_png(main_figure({"results": {}}), "out/chart.png")  # doctest: +SKIP
        PosixPath('out/chart.png')
    """
    data = png_bytes(figure, width=width, height=height)
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"cannot write {target}: it is a directory; give a file name")
    real = Path(os.path.realpath(target))
    temp = real.with_name(f".{real.name}.{secrets.token_hex(6)}.tmp")
    try:
        real.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(temp, flags, 0o666)
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, real)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    return target
