"""Fixtures over the real exchange candles in ../shared/data/candles (skipped when absent)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hbbacktest.data.store import CandleStore

_DEFAULT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "candles"
SHARED_CANDLES = Path(os.environ.get("HBBACKTEST_SHARED_CANDLES", _DEFAULT))

# (connector, pair, interval) → file in ../shared/data/candles
FILES = {
    ("binance", "BTC-USDT", "1m"): "binance_BTC-USDT_1m_20240726_20240825.parquet",
    ("binance", "ETH-USDT", "1m"): "binance_ETH-USDT_1m_20240726_20240825.parquet",
    ("binance_perpetual", "SOL-USDT", "1m"): "binanceusdm_SOL-USDT_1m_20250504_20250603.parquet",
    ("kraken", "BTC-USDC", "1m"): "kraken_BTC-USDC_1m_20230101_20230331.parquet",
}


@pytest.fixture(scope="session")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> CandleStore:
    """A candle store holding the shared files we test on."""
    if not SHARED_CANDLES.is_dir():
        pytest.skip(f"real candles not found at {SHARED_CANDLES} (../shared is absent)")
    store = CandleStore(tmp_path_factory.mktemp("store"))
    for (connector, pair, interval), name in FILES.items():
        store.import_file(SHARED_CANDLES / name, connector, pair, interval)
    return store
