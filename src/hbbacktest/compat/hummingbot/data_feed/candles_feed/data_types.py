"""``hummingbot.data_feed.candles_feed.data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    CandlesConfig,
)

__all__ = ["CandlesConfig"]
