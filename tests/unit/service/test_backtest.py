"""run_backtest on cached candles: warm-up shortfalls and feed gaps are warnings, offline wins.

Candles are written to a temporary store with ``CandleStore.write``; the one online run reads
the local replay server (``tests/kit/exchange_server.py``) through real ccxt.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hbbacktest import BacktestRequest, load_controller_config, run_backtest
from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import DataMissingError
from hbbacktest.data.candles import Candles
from hbbacktest.data.sources import exchange
from hbbacktest.data.store import CandleStore
from tests.kit.exchange_server import ExchangeServer, built_candles

T0 = 1_704_067_200  # 2024-01-01 00:00 UTC
STEP = 60
N = 600  # 00:00 … 09:59
WARMUP = 142  # pmm_dynamic's max_records with its default lengths
SOURCE = built_candles(N, start_ts=T0, seed=31)


def frame(first: int = 0, last: int = N - 1, skip: slice | None = None) -> Any:
    """Source rows ``first`` … ``last`` as a frame for ``CandleStore.write``."""
    ts, o, h, low, c, v = (column[first : last + 1] for column in SOURCE)
    candles = Candles(ts=ts, open=o, high=h, low=low, close=c, volume=v, interval_s=STEP).to_frame()
    if skip is not None:
        candles = candles.drop(candles.index[skip]).reset_index(drop=True)
    return candles


def pmm_dynamic(**overrides: Any) -> Any:
    return load_controller_config(
        {
            "controller_name": "pmm_dynamic",
            "connector_name": "binance",
            "trading_pair": "BTC-USDT",
            "interval": "1m",
            "buy_spreads": "0.5,1",
            "sell_spreads": "0.5,1",
            **overrides,
        }
    )


def request(start_row: int, end_row: int = N - 1, **overrides: Any) -> BacktestRequest:
    return BacktestRequest(
        config=pmm_dynamic(**overrides), start=T0 + start_row * STEP, end=T0 + end_row * STEP
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def no_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Building an exchange client fails the test: nothing may be fetched."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("no exchange client may be built")

    monkeypatch.setattr(exchange, "client_for", refuse)


def test_missing_feed_warm_up_offline_is_a_warning(data_dir: Path, no_client: None) -> None:
    CandleStore(data_dir).write("binance", "BTC-USDT", "1m", frame())
    result = run_backtest(request(50), settings=Settings(data_dir=data_dir, offline=True))
    shortfall = [w for w in result.warnings if "warm-up candles" in w]
    assert shortfall == [
        f"only 50 of {WARMUP} warm-up candles (1m) before the start for binance BTC-USDT; "
        "early indicator values may be missing or differ from live"
    ]
    assert not [w for w in result.warnings if "later than asked" in w]
    assert result.results["total_executors"] >= 0


def test_a_gap_in_a_feed_reaches_the_result_warnings(data_dir: Path, no_client: None) -> None:
    store = CandleStore(data_dir)
    store.write("binance", "BTC-USDT", "1m", frame())
    store.write("binance", "ETH-USDT", "1m", frame(skip=slice(300, 305)))  # 5 candles missing
    run = request(200, candles_connector="binance", candles_trading_pair="ETH-USDT")
    result = run_backtest(run, settings=Settings(data_dir=data_dir, offline=True))
    gaps = [w for w in result.warnings if "gap(s)" in w]
    assert len(gaps) == 1
    assert gaps[0].startswith(
        "binance ETH-USDT 1m candles have 1 gap(s) in the window, 5 candle(s) missing"
    )
    assert not [w for w in result.warnings if "warm-up candles" in w]  # 200 ≥ 142 stored


@pytest.fixture
def server() -> Iterator[ExchangeServer]:
    srv = ExchangeServer()
    srv.add_market("binance", "BTC-USDT", *SOURCE)
    with srv:
        yield srv
    assert srv.errors == []


def test_the_offline_argument_overrides_the_settings(
    data_dir: Path, server: ExchangeServer
) -> None:
    urls = {"binance": server.base_url}
    run = request(WARMUP, 300)
    with pytest.raises(DataMissingError, match=r"^offline: the cache lacks binance BTC-USDT 1m"):
        run_backtest(run, settings=Settings(data_dir=data_dir, exchange_urls=urls), offline=True)
    assert server.requests == []
    online = Settings(data_dir=data_dir, exchange_urls=urls, offline=True)
    result = run_backtest(run, settings=online, offline=False)  # fetches from the server
    assert server.kline_requests("binance")
    assert not [w for w in result.warnings if "warm-up" in w]
    assert result.data_source == f"candle store {data_dir.absolute()}"


def test_missing_warm_up_of_a_resampled_feed_offline_is_a_warning(
    data_dir: Path, no_client: None
) -> None:
    CandleStore(data_dir).write("binance", "BTC-USDT", "1m", frame())
    result = run_backtest(
        request(60, interval="3m"), settings=Settings(data_dir=data_dir, offline=True)
    )
    assert [w for w in result.warnings if "warm-up candles (3m)" in w]
