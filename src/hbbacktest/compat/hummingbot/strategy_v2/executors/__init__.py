"""``hummingbot.strategy_v2.executors`` as hbbacktest provides it."""
