"""The ``talib`` module, imported without dragging in pandas or polars.

Import it from here (``from hbbacktest.indicators._talib import talib``), never with a bare
``import talib``.

Why: ``talib/__init__.py`` (and the ``talib.abstract`` part of its extension) tries
``from pandas import Series`` and ``from polars import Series`` at import time, only so that its
functions can also take and return pandas/polars Series. We always pass NumPy arrays, yet that
import alone costs about 0.35 s of a ~1.2 s CLI process for a built-in backtest, which otherwise
never needs pandas. talib treats a ``ModuleNotFoundError`` for those names as "not installed" and
skips the wrappers, so while talib is imported we make ``import pandas`` fail that way by putting
``None`` in ``sys.modules`` (the documented way to block an import), and take the blockers out
again right after. The interpreter's import lock is held meanwhile so that no other thread can
observe the blockers and fail to import pandas itself.

Consequence: when talib is loaded this way it stays loaded without its pandas/polars wrappers for
the whole process, so ``talib.RSI(series)`` with a pandas Series raises ``TypeError`` here.
User controller files never see that: their ``import talib`` gets ``hbbacktest.compat.talib``,
which accepts and returns Series as TA-Lib's own wrapper does. If pandas is already imported,
talib is imported normally and keeps its wrappers.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = ["talib"]

# Optional dependencies of talib that only add pandas/polars Series support.
_SERIES_LIBRARIES = ("pandas", "polars")


def _import_talib() -> ModuleType:
    """Import ``talib``; block pandas/polars during the import if they are not imported yet."""
    import _imp

    _imp.acquire_lock()
    try:
        if not _loaded("talib", *_SERIES_LIBRARIES):
            for name in _SERIES_LIBRARIES:
                sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail
            try:
                return importlib.import_module("talib")
            finally:
                for name in _SERIES_LIBRARIES:
                    if name in sys.modules and sys.modules[name] is None:
                        del sys.modules[name]
    finally:
        _imp.release_lock()
    # talib is already loaded, or pandas/polars is (perhaps still being, by another thread)
    # imported, so the wrappers cost nothing more. Import outside the import lock: holding it
    # while talib waits for a half-imported pandas in another thread would deadlock.
    return importlib.import_module("talib")


def _loaded(*names: str) -> bool:
    return any(name in sys.modules for name in names)


if TYPE_CHECKING:
    import talib
else:
    talib = _import_talib()
