"""The backtest request: which controller config, over which window, with which fill model."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from hbbacktest.config.controller import ConnectorName, ControllerConfigBase, TradingPair
from hbbacktest.core.time import format_time, interval_to_seconds, parse_time

FillModelName = Literal["hummingbot", "touch"]
MAX_BARS = 10_000_000  # 19 years of 1m bars; bounds a run's memory


def canonical_json(data: Any) -> str:
    """Serialise to JSON with sorted keys and no whitespace: equal data gives equal text."""
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


class BacktestRequest(BaseModel):
    """One backtest: a validated controller config plus the run's window and engine options.

    Attributes:
        config: the controller config (see ``hbbacktest.load_controller_config``).
        start: first bar, UTC epoch seconds (a date string or milliseconds are accepted).
        end: last bar, UTC epoch seconds, inclusive.
        backtesting_resolution: the bar interval the engine steps through, default ``"1m"``.
        trade_cost: fee per side as a fraction of notional, default 0.0006 (0.06 %).
        fill_model: ``"hummingbot"`` (Hummingbot-compatible, default) or ``"touch"``.
        candles_connector: take the simulation's prices from this connector instead of the
            config's ``connector_name`` (e.g. trade ``xrpl``, price from ``binance``); None:
            the traded connector. Candle feeds of the traded market move with it.
        candles_trading_pair: likewise for the pair (default: the config's ``trading_pair``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    config: SerializeAsAny[ControllerConfigBase]
    start: int
    end: int
    backtesting_resolution: str = "1m"
    trade_cost: float = Field(default=0.0006, ge=0, lt=0.1)
    fill_model: FillModelName = "hummingbot"
    candles_connector: ConnectorName | None = None
    candles_trading_pair: TradingPair | None = None

    @model_serializer(mode="wrap")
    def _drop_unset_price_source(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> Any:
        # Requests without a price source serialise (and hash to a config_id) as before the
        # option existed: stored results and sweep resume keys stay valid.
        data = handler(self)
        if isinstance(data, dict):
            for key in ("candles_connector", "candles_trading_pair"):
                if data.get(key) is None:
                    data.pop(key, None)
        return data

    @field_validator("config", mode="before")
    @classmethod
    def _resolve_config(cls, value: Any, info: ValidationInfo) -> Any:
        # A raw mapping must become its controller's own config class, which only a controller
        # registry knows; without one, refuse rather than silently keep the generic base.
        if isinstance(value, ControllerConfigBase):
            return value
        load_config = (info.context or {}).get("load_config")
        if isinstance(value, Mapping) and load_config is not None:
            return load_config(value)
        if isinstance(value, Mapping):
            raise ValueError(
                "a raw config mapping needs the controller registry to be validated; build the "
                "request with hbbacktest.request_from_dict(...) or pass a config from "
                "hbbacktest.load_controller_config(...)"
            )
        return value

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_times(cls, value: Any, info: ValidationInfo) -> int:
        return parse_time(value, field=str(info.field_name))

    @field_validator("backtesting_resolution")
    @classmethod
    def _check_resolution(cls, value: str) -> str:
        interval_to_seconds(value)
        return value

    @model_validator(mode="after")
    def _check_window(self) -> BacktestRequest:
        if self.start >= self.end:
            raise ValueError(
                f"start ({format_time(self.start)}) must be before end ({format_time(self.end)})"
            )
        bars = (self.end - self.start) // self.resolution_s + 1
        if bars > MAX_BARS:
            raise ValueError(
                f"the window {format_time(self.start)} – {format_time(self.end)} holds {bars:,} "
                f"{self.backtesting_resolution} bars; at most {MAX_BARS:,} run at once — use a "
                "coarser backtesting_resolution or split the window"
            )
        return self

    @property
    def price_connector(self) -> str:
        """The connector whose candles the simulation uses."""
        return self.candles_connector or self.config.connector_name

    @property
    def price_pair(self) -> str:
        """The trading pair whose candles the simulation uses."""
        return self.candles_trading_pair or self.config.trading_pair

    @property
    def resolution_s(self) -> int:
        """The bar interval in seconds."""
        return interval_to_seconds(self.backtesting_resolution)

    @property
    def config_id(self) -> str:
        """SHA-256 of the request's canonical JSON: the run id, cache key and sweep resume key."""
        return hashlib.sha256(canonical_json(self.model_dump(mode="json")).encode()).hexdigest()
