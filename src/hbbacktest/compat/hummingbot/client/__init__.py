"""``hummingbot.client`` as hbbacktest provides it."""
