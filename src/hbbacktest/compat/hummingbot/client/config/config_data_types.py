"""``hummingbot.client.config.config_data_types`` as hbbacktest provides it."""

from hbbacktest.compat.api import (
    ClientFieldData,
)

__all__ = ["ClientFieldData"]
