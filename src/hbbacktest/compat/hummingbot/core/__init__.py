"""``hummingbot.core`` as hbbacktest provides it."""
