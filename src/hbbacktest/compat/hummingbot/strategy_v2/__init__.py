"""``hummingbot.strategy_v2`` as hbbacktest provides it."""
