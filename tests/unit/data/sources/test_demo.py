"""The synthetic demo connector."""

from __future__ import annotations

import numpy as np
import pytest

from hbbacktest.core.errors import DataMissingError
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import validate_frame
from hbbacktest.data.sources import DEMO_CONNECTOR, DEMO_END, DEMO_START, demo_candles

DAY = 86_400


def same(a: Candles, b: Candles) -> None:
    assert a.interval_s == b.interval_s
    for name in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


def test_constants() -> None:
    assert DEMO_CONNECTOR == "demo"
    assert DEMO_START == 1_704_067_200
    assert DEMO_END == DEMO_START + 120 * DAY - 60


def test_deterministic() -> None:
    window = (DEMO_START + 3 * DAY, DEMO_START + 4 * DAY)
    same(demo_candles("BTC-USDT", "1m", *window), demo_candles("BTC-USDT", "1m", *window))
    # the pair name is case-insensitive
    same(demo_candles("btc-usdt", "1m", *window), demo_candles("BTC-USDT", "1m", *window))


def test_different_pairs_differ() -> None:
    window = (DEMO_START, DEMO_START + DAY)
    a = demo_candles("BTC-USDT", "1m", *window)
    b = demo_candles("BTC-USDC", "1m", *window)
    np.testing.assert_array_equal(a.ts, b.ts)
    assert not np.array_equal(a.close, b.close)


def test_price_levels_follow_the_base_asset() -> None:
    btc = demo_candles("BTC-USDT", "1m", DEMO_START, DEMO_START)
    doge = demo_candles("DOGE-USDT", "1m", DEMO_START, DEMO_START)
    assert 30_000 < btc.open[0] < 60_000
    assert 0.05 < doge.open[0] < 0.12


@pytest.mark.parametrize("interval, step", [("1m", 60), ("5m", 300), ("1h", 3600)])
def test_windows_are_slices_of_one_series(interval: str, step: int) -> None:
    long = demo_candles("ETH-USDT", interval, DEMO_START + DAY, DEMO_START + 3 * DAY)
    lo, hi = DEMO_START + DAY + 10 * step, DEMO_START + DAY + 20 * step
    short = demo_candles("ETH-USDT", interval, lo, hi)
    assert len(short) == 11
    same(short, long.take(slice(10, 21)))


def test_resampled_candles_aggregate_the_1m_series() -> None:
    one = demo_candles("SOL-USDT", "1m", DEMO_START, DEMO_START + 299)
    five = demo_candles("SOL-USDT", "5m", DEMO_START, DEMO_START)
    assert five.ts.tolist() == [DEMO_START]
    assert five.open[0] == one.open[0]
    assert five.close[0] == one.close[-1]
    assert five.high[0] == one.high.max()
    assert five.low[0] == one.low.min()
    assert five.volume[0] == pytest.approx(one.volume.sum())


def test_valid_contiguous_ohlc() -> None:
    candles = demo_candles("BTC-USDT", "1m", DEMO_START, DEMO_START + 2 * DAY)
    assert len(candles) == 2 * 1440 + 1
    assert (np.diff(candles.ts) == 60).all()
    validate_frame(candles.to_frame(), source="demo")
    assert (candles.high >= np.maximum(candles.open, candles.close)).all()
    assert (candles.low <= np.minimum(candles.open, candles.close)).all()
    assert (candles.low > 0).all()
    assert (candles.volume >= 0).all()
    # each candle opens at the previous close
    np.testing.assert_array_equal(candles.open[1:], candles.close[:-1])


def test_whole_coverage_by_default() -> None:
    candles = demo_candles("BTC-USDT", "1d")
    assert len(candles) == 120
    assert candles.first_ts == DEMO_START
    assert candles.last_ts == DEMO_END - DEMO_END % DAY


def test_window_partly_outside_is_clipped() -> None:
    candles = demo_candles("BTC-USDT", "1m", DEMO_START - DAY, DEMO_START + 120)
    assert candles.ts.tolist() == [DEMO_START, DEMO_START + 60, DEMO_START + 120]
    tail = demo_candles("BTC-USDT", "1m", DEMO_END - 60, DEMO_END + DAY)
    assert tail.ts.tolist() == [DEMO_END - 60, DEMO_END]


@pytest.mark.parametrize(
    "start, end",
    [(DEMO_START - 2 * DAY, DEMO_START - DAY), (DEMO_END + 60, DEMO_END + DAY)],
)
def test_outside_coverage_raises(start: int, end: int) -> None:
    with pytest.raises(DataMissingError) as info:
        demo_candles("BTC-USDT", "1m", start, end)
    message = str(info.value)
    assert "the demo connector covers 2024-01-01 00:00:00 – 2024-04-29 23:59:00 UTC" in message
    assert "lies outside it" in message


def test_sub_minute_interval_raises() -> None:
    with pytest.raises(DataMissingError, match="30s is not a multiple of 1m"):
        demo_candles("BTC-USDT", "30s", DEMO_START, DEMO_START + DAY)
