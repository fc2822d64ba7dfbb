"""``hummingbot.strategy_v2.executors.dca_executor`` as hbbacktest provides it."""
