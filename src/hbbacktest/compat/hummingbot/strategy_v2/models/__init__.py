"""``hummingbot.strategy_v2.models`` as hbbacktest provides it."""
