"""Shared by controllers whose ``candles_connector``/``candles_trading_pair`` may be omitted."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

from hbbacktest.config.controller import CandlesConfig, ConnectorName, TradingPair


class CandlesSourceMixin(BaseModel):
    """Fills ``candles_connector``/``candles_trading_pair`` from the trading market when absent."""

    model_config = ConfigDict(
        frozen=True, extra="allow", validate_default=True, allow_inf_nan=False
    )

    candles_connector: ConnectorName | None = None
    candles_trading_pair: TradingPair | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_candles_source(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if not data.get("candles_connector"):
                data.pop("candles_connector", None)
            if not data.get("candles_trading_pair"):
                data.pop("candles_trading_pair", None)
        return data

    def candles_source(self) -> tuple[str, str]:
        """The (connector, trading_pair) the controller's candles come from."""
        connector = self.candles_connector or getattr(self, "connector_name")  # noqa: B009
        pair = self.candles_trading_pair or getattr(self, "trading_pair")  # noqa: B009
        return connector, pair.upper()

    def candles_source_warnings(self) -> list[str]:
        """Say which candle fields were defaulted."""
        notes = []
        if self.candles_connector is None:
            notes.append(
                f"candles_connector is not set; using connector_name {self.candles_source()[0]!r}"
            )
        if self.candles_trading_pair is None:
            notes.append(
                f"candles_trading_pair is not set; using trading_pair {self.candles_source()[1]!r}"
            )
        return notes

    def candles_feed_config(self, interval: str, max_records: int) -> CandlesConfig:
        """The one candle feed such a controller reads."""
        connector, pair = self.candles_source()
        return CandlesConfig(
            connector=connector, trading_pair=pair, interval=interval, max_records=max_records
        )


class SingleCandleFeed:
    """Controller mixin: one candle feed of ``config.interval``, ``config.max_records`` deep.

    Put it first in the bases (``class X(SingleCandleFeed, MarketMakingControllerBase[...])``).
    The config must be a :class:`CandlesSourceMixin` with ``interval`` and ``max_records``.
    """

    def candles_configs(self) -> list[CandlesConfig]:
        """The one feed."""
        config: Any = getattr(self, "config")  # noqa: B009 - typed by the controller class
        return [config.candles_feed_config(config.interval, config.max_records)]

    def warnings(self) -> list[str]:
        """Candle-source defaults, then the family's notes."""
        config: Any = getattr(self, "config")  # noqa: B009
        notes: list[str] = super().warnings()  # type: ignore[misc]
        return list(config.candles_source_warnings()) + notes
