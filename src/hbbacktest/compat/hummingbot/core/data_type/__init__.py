"""``hummingbot.core.data_type`` as hbbacktest provides it."""
