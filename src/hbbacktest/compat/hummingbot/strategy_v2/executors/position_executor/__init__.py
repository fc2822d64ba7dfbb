"""``hummingbot.strategy_v2.executors.position_executor`` as hbbacktest provides it."""
