"""``hummingbot.strategy_v2.utils`` as hbbacktest provides it."""
