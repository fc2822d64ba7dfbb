"""Trading pair, interval and market read off the names Binance and freqtrade give files."""

from __future__ import annotations

import re
from dataclasses import dataclass

from hbbacktest.core.errors import ConfigError
from hbbacktest.core.time import interval_to_seconds

# Quote currencies to split a Binance symbol (BTCUSDT → BTC-USDT). Longest first, so that a
# quote ending in another (FDUSD, TUSD, BUSD → USD; AEUR → EUR) wins over it.
_QUOTES = tuple(
    sorted(
        (
            "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USD", "DAI", "AEUR", "EURI",
            "EUR", "GBP", "TRY", "BRL", "JPY", "AUD", "RUB", "UAH", "BIDR", "IDRT", "ZAR",
            "PLN", "RON", "ARS", "MXN", "COP", "CZK", "BTC", "ETH", "BNB", "XRP", "TRX",
            "DOGE", "DOT",
        ),
        key=len,
        reverse=True,
    )
)  # fmt: skip

# BTCUSDT-1m-2024-01 (monthly) / BTCUSDT-1m-2024-01-05 (daily); COIN-M: BTCUSD_PERP-1m-…
_BDV_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<interval>\d+(?:s|m|h|d|w|mo))"
    r"-(?P<date>\d{4}-\d{2}(?:-\d{2})?)$"
)
# freqtrade: PAIR-TF[-CANDLE_TYPE], the pair with / : . etc. turned into _ (BTC_USDT_USDT).
_FREQTRADE_NAME = re.compile(
    r"^(?P<pair>[A-Za-z0-9_]+?)-(?P<interval>\d+[a-zA-Z]{1,2})(?:-(?P<kind>[A-Za-z_]+))?$"
)
_FREQTRADE_NOT_CANDLES = {
    "mark": "mark prices",
    "index": "index prices",
    "premiumindex": "premium index values",
    "funding_rate": "funding rates",
}
_DELIVERY = re.compile(r"^\d{6}$")  # BTCUSDT_240628: a dated futures contract


@dataclass(frozen=True)
class NameGuess:
    """What a file name says about its candles; each field None when it does not say.

    Attributes:
        trading_pair: ``BASE-QUOTE``.
        interval: e.g. ``1m``, in hbbacktest's spelling.
        market: ``spot`` or ``futures``.
        not_candles: for a freqtrade file of another kind (``-funding_rate``, ``-mark``,
            ``-trades``), what it holds instead.
    """

    trading_pair: str | None = None
    interval: str | None = None
    market: str | None = None
    not_candles: str | None = None


def _interval(text: str) -> str | None:
    text = "1M" if text == "1mo" else text  # Binance's month; hbbacktest's is 1M
    try:
        interval_to_seconds(text)
    except ConfigError:
        return None
    return text


def split_symbol(symbol: str) -> str | None:
    """``BASE-QUOTE`` for a Binance symbol written without separator, or None.

    Example:
        >>> split_symbol("BTCUSDT"), split_symbol("1000PEPEUSDT"), split_symbol("XYZ")
        ('BTC-USDT', '1000PEPE-USDT', None)
    """
    quote = next((q for q in _QUOTES if symbol.endswith(q) and len(symbol) > len(q)), None)
    return f"{symbol[: -len(quote)]}-{quote}" if quote else None


def strip_suffixes(name: str) -> str:
    """The file name without its format suffixes (``.zip``, ``.csv``, ``.json.gz`` …)."""
    lower = name.lower()
    for suffix in (".json.gz", ".csv.zip", ".zip", ".csv", ".json", ".feather", ".gz"):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def binance_vision_name(name: str) -> NameGuess:
    """Pair, interval and market from a Binance Data Vision klines file name.

    Args:
        name: e.g. ``BTCUSDT-1m-2024-01.zip`` or ``BTCUSDT-1m-2024-01-05.csv``.

    Returns:
        A :class:`NameGuess`; ``market`` is ``futures`` only for COIN-M (``BTCUSD_PERP``) and
        dated (``BTCUSDT_240628``) contracts, whose names alone say so.

    Example:
        >>> binance_vision_name("BTCUSDT-1m-2024-01.zip")
        NameGuess(trading_pair='BTC-USDT', interval='1m', market=None, not_candles=None)
    """
    match = _BDV_NAME.match(strip_suffixes(name))
    if match is None:
        return NameGuess()
    symbol, _, contract = match.group("symbol").partition("_")
    market = None
    if contract == "PERP":
        market = "futures"
    elif contract:
        # A dated contract (BTCUSDT_240628) has no Hummingbot pair of its own.
        return NameGuess(interval=_interval(match.group("interval")), market="futures")
    return NameGuess(
        trading_pair=split_symbol(symbol),
        interval=_interval(match.group("interval")),
        market=market,
    )


def freqtrade_name(name: str) -> NameGuess:
    """Pair, interval and market from a freqtrade data file name.

    Args:
        name: e.g. ``BTC_USDT-1m.json`` (spot), ``BTC_USDT_USDT-1m-futures.feather`` (the
            pair ``BTC/USDT:USDT``, futures).

    Returns:
        A :class:`NameGuess`; ``not_candles`` is set for freqtrade's other files
        (``-trades``, ``-mark``, ``-index``, ``-premiumIndex``, ``-funding_rate``).

    Example:
        >>> freqtrade_name("BTC_USDT_USDT-1m-futures.feather").trading_pair
        'BTC-USDT'
    """
    stem = strip_suffixes(name)
    if stem.lower().endswith("-trades"):
        return NameGuess(not_candles="trades")
    match = _FREQTRADE_NAME.match(stem)
    if match is None:
        return NameGuess()
    kind = (match.group("kind") or "").lower()
    parts = match.group("pair").upper().split("_")
    pair = f"{parts[0]}-{parts[1]}" if len(parts) in (2, 3) and all(parts) else None
    if kind in ("", "spot"):
        market = "futures" if len(parts) == 3 else "spot"
    elif kind == "futures":
        market = "futures"
    else:
        market = None
    return NameGuess(
        trading_pair=pair,
        interval=_interval(match.group("interval")),
        market=market,
        not_candles=_FREQTRADE_NOT_CANDLES.get(kind),
    )
