"""Where candles come from: the built-in synthetic ``demo`` connector (exchange sources follow)."""

from hbbacktest.data.sources.demo import DEMO_CONNECTOR, DEMO_END, DEMO_START, demo_candles

__all__ = ["DEMO_CONNECTOR", "DEMO_END", "DEMO_START", "demo_candles"]
