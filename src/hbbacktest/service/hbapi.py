"""hummingbot-api's backtesting request body, and how it becomes a :class:`BacktestRequest`.

The body of ``POST /backtesting/run`` and ``/backtesting/tasks`` is hummingbot-api's
``BacktestingConfig`` (``models/backtesting.py``): ``start_time`` and ``end_time`` (UTC epoch
seconds), ``backtesting_resolution``, ``trade_cost`` and ``config``, a controller config
mapping or the name of a saved YAML config. hbbacktest adds optional fields of its own
(``fill_model``, ``offline``, ``candles_connector``, ``candles_trading_pair``); unknown keys are
ignored, as upstream's model ignores them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.validation import describe_validation_error
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, did_you_mean
from hbbacktest.service.backtest import request_from_dict
from hbbacktest.service.configs import ControllerNotFoundError, closest_first, read_config

__all__ = ["EXAMPLE_CONFIG", "BacktestingConfig", "request_from_body"]

EXAMPLE_CONFIG: dict[str, Any] = {
    "id": "pmm_simple_btc",
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "binance",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
    "buy_spreads": [0.002, 0.004],
    "sell_spreads": [0.002, 0.004],
    "take_profit": 0.02,
    "stop_loss": 0.03,
    "time_limit": 2700,
}


class BacktestingConfig(BaseModel):
    """hummingbot-api's backtest body, plus hbbacktest's optional fields."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "start_time": 1735689600,
                    "end_time": 1736294400,
                    "backtesting_resolution": "1m",
                    "trade_cost": 0.0006,
                    "config": EXAMPLE_CONFIG,
                }
            ]
        },
    )

    start_time: int = Field(
        default=1735689600, description="First bar, UTC epoch seconds (upstream's default)."
    )
    end_time: int = Field(default=1738368000, description="Last bar, UTC epoch seconds, inclusive.")
    backtesting_resolution: str = Field(default="1m", description="Bar interval the engine steps.")
    trade_cost: float = Field(default=0.0006, description="Fee per side, fraction of notional.")
    config: dict[str, Any] | str = Field(
        description="A controller config, or the name of a saved config (GET /controllers/configs/)."
    )
    fill_model: Literal["hummingbot", "touch"] = Field(
        default="hummingbot",
        description="hbbacktest: `hummingbot` (upstream's fills) or `touch` (docs/fill-models.md).",
    )
    offline: bool | None = Field(
        default=None,
        description="hbbacktest: never fetch candles (a missing range is a 409); default: server.",
    )
    candles_connector: str | None = Field(
        default=None, description="hbbacktest: take prices from this connector's candles."
    )
    candles_trading_pair: str | None = Field(
        default=None, description="hbbacktest: and this pair's (default: the config's)."
    )


def request_from_body(
    body: Mapping[str, Any] | BacktestingConfig,
    *,
    registry: ControllerRegistry,
    configs_dir: Path,
) -> BacktestRequest:
    """Validate a hummingbot-api body into a request, reading a named config from ``configs_dir``.

    Raises:
        ConfigError: an invalid body or config (every bad field named); a config name that
            leaves ``configs_dir`` (``ConfigNameError``) or names no saved config
            (``ConfigNotFoundError``); a ``controller_name`` no controller has
            (``ControllerNotFoundError``, the available ones listed closest first).
    """
    if not isinstance(body, BacktestingConfig):
        try:
            body = BacktestingConfig.model_validate(body)
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, source="backtest body")) from None
    config = read_config(configs_dir, body.config) if isinstance(body.config, str) else body.config
    _check_controller(config, registry)
    data: dict[str, Any] = {
        "config": config,
        "start": body.start_time,
        "end": body.end_time,
        "backtesting_resolution": body.backtesting_resolution,
        "trade_cost": body.trade_cost,
        "fill_model": body.fill_model,
    }
    if body.candles_connector is not None:
        data["candles_connector"] = body.candles_connector
    if body.candles_trading_pair is not None:
        data["candles_trading_pair"] = body.candles_trading_pair
    return request_from_dict(data, registry=registry)


def _check_controller(config: Any, registry: ControllerRegistry) -> None:
    # An unknown controller is "not found" (404), not an invalid field: say so before the
    # config's own validation turns it into one problem among others.
    name = config.get("controller_name") if isinstance(config, dict) else None
    if not isinstance(name, str) or not name:
        return
    names = registry.names()
    if name.removesuffix(".py") in names:
        return
    closest = closest_first(name, names)
    raise ControllerNotFoundError(
        f"config.controller_name: no controller {name!r}{did_you_mean(name, names)}; available "
        f"(closest first): {', '.join(closest)}"
    )
