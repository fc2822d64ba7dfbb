"""``hummingbot.data_feed`` as hbbacktest provides it."""
