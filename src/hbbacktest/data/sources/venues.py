"""Hummingbot connector names → ccxt exchanges: one table of data, no code per exchange.

Each row says which ccxt exchange serves a Hummingbot connector's candles, which market type
to load (so ``load_markets`` asks for one kind of market only), how Hummingbot's ``BASE-QUOTE``
pair becomes the ccxt symbol, and the quirks the fetcher needs. Importing this module is cheap
(no ccxt): names can be checked, listed and suggested without the network stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hbbacktest.core.errors import ConfigError, did_you_mean

MarketKind = Literal["spot", "perpetual"]


@dataclass(frozen=True)
class Venue:
    """Where one Hummingbot connector's candles come from.

    Attributes:
        connector: Hummingbot's connector name, e.g. ``binance_perpetual``.
        ccxt_id: the ccxt exchange class, e.g. ``binanceusdm``.
        kind: ``spot`` (``BTC-USDT`` → ``BTC/USDT``) or ``perpetual`` (linear, settled in the
            quote: ``BTC-USDT`` → ``BTC/USDT:USDT``).
        options: ccxt constructor options, chiefly ``fetchMarkets`` restricted to the one
            market type we read (fewer, smaller requests at start-up).
        quote_aliases: Hummingbot quote → exchange quote where they differ (Hyperliquid's
            perpetuals are ``BTC-USD`` in Hummingbot, ``BTC/USDC:USDC`` in ccxt).
        page_limit: candles per request; None takes ccxt's ``features`` figure.
        forward_paging: the exchange answers ``since`` without ``until`` with the first candles
            at or after ``since`` (Binance does): one probe then skips a long empty stretch
            (before listing, a halt) instead of walking it page by page.
        history_limit: the exchange serves only about this many most recent candles per
            interval (Kraken 720, Hyperliquid 5000), or None; used to explain short answers.
    """

    connector: str
    ccxt_id: str
    kind: MarketKind
    options: dict[str, Any] = field(default_factory=dict)
    quote_aliases: dict[str, str] = field(default_factory=dict)
    page_limit: int | None = None
    forward_paging: bool = False
    history_limit: int | None = None

    def symbol(self, trading_pair: str) -> str:
        """The ccxt symbol of a Hummingbot ``BASE-QUOTE`` pair on this venue.

        Example:
            >>> venue("binance_perpetual").symbol("BTC-USDT")
            'BTC/USDT:USDT'
        """
        base, _, quote = trading_pair.upper().partition("-")
        quote = self.quote_aliases.get(quote, quote)
        if self.kind == "perpetual":
            return f"{base}/{quote}:{quote}"
        return f"{base}/{quote}"


def _types(*kinds: str) -> dict[str, Any]:
    return {"fetchMarkets": {"types": list(kinds)}}


_SPOT_ONLY = _types("spot")

#: Every connector with an exchange source. Kept sorted by connector name.
VENUES: dict[str, Venue] = {
    v.connector: v
    for v in (
        Venue("binance", "binance", "spot", _SPOT_ONLY, page_limit=1000, forward_paging=True),
        Venue(
            "binance_perpetual",
            "binanceusdm",
            "perpetual",
            _types("linear"),
            page_limit=1000,  # ccxt asks for at most 1000 whatever the API allows
            forward_paging=True,
        ),
        Venue("bitget", "bitget", "spot", _SPOT_ONLY),
        Venue("bitget_perpetual", "bitget", "perpetual", _types("swap")),
        Venue("bybit", "bybit", "spot", _SPOT_ONLY | {"defaultType": "spot"}, page_limit=1000),
        Venue("bybit_perpetual", "bybit", "perpetual", _types("linear"), page_limit=1000),
        Venue("coinbase_advanced_trade", "coinbase", "spot"),
        Venue("gate_io", "gate", "spot", _SPOT_ONLY),
        Venue("gate_io_perpetual", "gate", "perpetual", _types("swap")),
        Venue(
            "hyperliquid",
            "hyperliquid",
            "spot",
            _types("spot") | {"defaultType": "spot"},
            history_limit=5000,
        ),
        Venue(
            "hyperliquid_perpetual",
            "hyperliquid",
            "perpetual",
            _types("swap"),
            quote_aliases={"USD": "USDC"},
            history_limit=5000,
        ),
        Venue("kraken", "kraken", "spot", history_limit=720),
        Venue("kucoin", "kucoin", "spot", _SPOT_ONLY),
        Venue("kucoin_perpetual", "kucoinfutures", "perpetual", _types("swap")),
        Venue("mexc", "mexc", "spot", {"fetchMarkets": {"types": {"spot": True, "swap": False}}}),
        Venue("okx", "okx", "spot", _SPOT_ONLY),
        Venue("okx_perpetual", "okx", "perpetual", _types("swap") | {"defaultType": "swap"}),
    )
}


def venue(connector: str) -> Venue:
    """The venue of a Hummingbot connector name.

    Raises:
        ConfigError: the connector has no exchange source; the message lists those that do
            and suggests the closest name.

    Example:
        >>> venue("okx_perpetual").ccxt_id
        'okx'
    """
    found = VENUES.get(connector)
    if found is None:
        raise ConfigError(
            f"no exchange source for connector {connector!r}{did_you_mean(connector, VENUES)}; "
            f"candles can be fetched for: {', '.join(VENUES)}. For other venues import candles "
            "(hbbacktest data import) or take prices from a supported one (--candles-connector)"
        )
    return found


def has_venue(connector: str) -> bool:
    """True when candles of this connector can be fetched from an exchange."""
    return connector in VENUES


def check_exchange_urls(urls: Mapping[str, str]) -> None:
    """Refuse base-URL overrides for connectors that have no exchange source.

    Raises:
        ConfigError: naming the unknown connector, with a did-you-mean.
    """
    for name in urls:
        if name not in VENUES:
            raise ConfigError(
                f"exchange URL override for unknown connector {name!r}"
                f"{did_you_mean(name, VENUES)}; connectors with an exchange source: "
                f"{', '.join(VENUES)}"
            )
