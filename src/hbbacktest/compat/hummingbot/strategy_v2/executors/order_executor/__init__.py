"""``hummingbot.strategy_v2.executors.order_executor`` as hbbacktest provides it."""
