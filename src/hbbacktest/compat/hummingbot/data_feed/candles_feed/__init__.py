"""``hummingbot.data_feed.candles_feed`` as hbbacktest provides it."""
