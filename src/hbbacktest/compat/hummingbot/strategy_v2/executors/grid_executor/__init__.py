"""``hummingbot.strategy_v2.executors.grid_executor`` as hbbacktest provides it."""
