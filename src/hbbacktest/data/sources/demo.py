"""The ``demo`` connector: deterministic, seeded **synthetic** 1m candles for offline runs.

The series is synthetic — not market data — and everything that shows it says so. It has the
features that make market-making and directional backtests non-trivial: volatility clustering
(an AR(1) log-volatility), trend regimes that switch every few days, and occasional jumps.
Every trading pair gets its own series, seeded from its name; the same pair always gives the
same candles, on any machine. Coverage is fixed (``DEMO_START`` to ``DEMO_END``) so a window's
candles never depend on the window asked for.
"""

from __future__ import annotations

import hashlib

import numpy as np

from hbbacktest.core.errors import DataMissingError
from hbbacktest.core.time import format_time, interval_to_seconds
from hbbacktest.data.candles import Candles
from hbbacktest.data.convert import resample

DEMO_CONNECTOR = "demo"
DEMO_START = 1_704_067_200  # 2024-01-01 00:00 UTC
DEMO_DAYS = 120
DEMO_END = DEMO_START + DEMO_DAYS * 86_400 - 60  # open time of the last 1m candle

_BASE_PRICES = {"BTC": 42_000.0, "ETH": 2_300.0, "SOL": 100.0, "DOGE": 0.08}


def _seed(trading_pair: str) -> int:
    digest = hashlib.sha256(f"hbbacktest-demo:{trading_pair.upper()}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _one_minute(trading_pair: str) -> Candles:
    rng = np.random.default_rng(_seed(trading_pair))
    n = DEMO_DAYS * 1440
    hours = n // 60
    # Volatility clustering: hourly log-volatility follows an AR(1) around a 1m vol of ~0.08 %.
    log_vol = np.empty(hours)
    level = 0.0
    shocks = rng.normal(0.0, 0.25, hours)
    for h in range(hours):
        level = 0.97 * level + shocks[h]
        log_vol[h] = level
    sigma = 0.0008 * np.exp(np.repeat(log_vol, 60) - 0.5 * 0.25**2 / (1 - 0.97**2))
    # Trend regimes: a drift held for 1–5 days, then redrawn.
    drift = np.empty(n)
    i = 0
    while i < n:
        length = int(rng.integers(1440, 7 * 1440))
        drift[i : i + length] = rng.normal(0.0, 0.000006)
        i += length
    # Jumps: about one a day, ±0.5–3 %.
    jumps = np.where(
        rng.random(n) < 1 / 1440, rng.choice([-1.0, 1.0], n) * rng.uniform(0.005, 0.03, n), 0.0
    )
    returns = drift + sigma * rng.standard_t(5, n) * np.sqrt(3 / 5) + jumps
    base = trading_pair.upper().split("-")[0]
    start_price = _BASE_PRICES.get(base, 100.0) * float(np.exp(rng.normal(0, 0.05)))
    close = start_price * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[start_price], close[:-1]])
    wick = np.abs(rng.normal(0.0, 0.6, (2, n))) * sigma
    high = np.maximum(open_, close) * np.exp(wick[0])
    low = np.minimum(open_, close) * np.exp(-wick[1])
    tick = 10.0 ** (np.floor(np.log10(start_price)) - 5)
    open_, high, low, close = (np.round(a / tick) * tick for a in (open_, high, low, close))
    high = np.maximum.reduce([high, open_, close])
    low = np.minimum.reduce([low, open_, close])
    volume = np.round(rng.gamma(2.0, 1.0, n) * (1 + 4 * sigma / 0.0008) * 10.0, 4)
    ts = DEMO_START + 60 * np.arange(n, dtype=np.int64)
    return Candles(ts, open_, high, low, close, volume, 60)


def demo_candles(
    trading_pair: str, interval: str, start: int | None = None, end: int | None = None
) -> Candles:
    """Synthetic candles of the ``demo`` connector with open time in ``[start, end]``.

    Raises:
        DataMissingError: when the window lies outside the demo coverage.
    """
    step = interval_to_seconds(interval)
    lo = DEMO_START if start is None else start
    hi = DEMO_END if end is None else end
    if hi < DEMO_START or lo > DEMO_END:
        raise DataMissingError(
            f"the demo connector covers {format_time(DEMO_START)} – {format_time(DEMO_END)} UTC; "
            f"the window {format_time(lo)} – {format_time(hi)} lies outside it"
        )
    candles = _one_minute(trading_pair)
    if step % 60:
        raise DataMissingError(
            f"the demo connector has 1m candles; {interval} is not a multiple of 1m"
        )
    return resample(candles, step).between(lo, hi)
