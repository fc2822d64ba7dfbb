"""Where candles come from: exchanges, candle files, the synthetic ``demo`` connector.

Exchanges go through ccxt (``exchange``, addressed by the ``venues`` table) and files through
``importers``. Only ``demo`` is imported here; ccxt and the file readers load when used.
"""

from hbbacktest.data.sources.demo import DEMO_CONNECTOR, DEMO_END, DEMO_START, demo_candles

__all__ = ["DEMO_CONNECTOR", "DEMO_END", "DEMO_START", "demo_candles"]
