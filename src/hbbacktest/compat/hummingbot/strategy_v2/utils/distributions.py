"""``hummingbot.strategy_v2.utils.distributions`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    Distributions,
)

__all__ = ["Distributions"]
