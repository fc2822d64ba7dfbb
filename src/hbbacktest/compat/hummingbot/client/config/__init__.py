"""``hummingbot.client.config`` as hbbacktest provides it."""
