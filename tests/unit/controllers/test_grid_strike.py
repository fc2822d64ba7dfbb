"""grid_strike's config: upstream defaults, the shapes Hummingbot YAML gives, clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.config import TrailingStop, TripleBarrierConfig
from hbbacktest.config.validation import validate_model
from hbbacktest.controllers.base import ControllerBase
from hbbacktest.controllers.builtin.generic.grid_strike import (
    GridStrikeConfig,
    GridStrikeController,
)
from hbbacktest.core.enums import OrderType, PositionMode, TradeType
from hbbacktest.core.errors import ConfigError


def load(**fields: Any) -> GridStrikeConfig:
    return validate_model(
        GridStrikeConfig, {"controller_name": "grid_strike", **fields}, source="grid config"
    )


def config_error(**fields: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(**fields)
    return str(info.value)


def test_defaults_are_upstreams() -> None:
    config = load()
    assert (config.controller_type, config.controller_name) == ("generic", "grid_strike")
    assert (config.connector_name, config.trading_pair) == ("okx", "WLD-USDT")
    assert (config.leverage, config.position_mode, config.side) == (
        20,
        PositionMode.HEDGE,
        TradeType.BUY,
    )
    assert (config.start_price, config.end_price, config.limit_price) == (0.38, 0.75, 0.35)
    assert config.total_amount_quote == 1000.0
    assert (config.min_spread_between_orders, config.min_order_amount_quote) == (0.001, 5.0)
    assert (config.max_open_orders, config.max_orders_per_batch, config.order_frequency) == (
        2,
        1,
        3,
    )
    assert config.activation_bounds is None and config.keep_position is False
    assert config.triple_barrier_config == TripleBarrierConfig(
        take_profit=0.001,
        open_order_type=OrderType.LIMIT_MAKER,
        take_profit_order_type=OrderType.LIMIT_MAKER,
    )
    barrier = config.triple_barrier_config
    assert barrier.stop_loss is None and barrier.time_limit is None
    assert barrier.trailing_stop is None


def test_strings_as_hummingbot_yaml_writes_them() -> None:
    config = load(
        side="SELL",
        position_mode="ONEWAY",
        start_price="2500",
        end_price="2700.5",
        limit_price="2800",
        total_amount_quote="500",
        min_spread_between_orders="0.002",
        min_order_amount_quote="10",
        max_open_orders="4",
        keep_position="true",
        triple_barrier_config={
            "take_profit": "0.002",
            "stop_loss": "",
            "time_limit": "3600",
            "trailing_stop": "0.01,0.002",
            "open_order_type": "LIMIT",
            "take_profit_order_type": 3,
            "stop_loss_order_type": "OrderType.MARKET",
            "time_limit_order_type": None,
        },
    )
    assert config.side is TradeType.SELL and config.position_mode is PositionMode.ONEWAY
    assert (config.start_price, config.end_price, config.limit_price) == (2500.0, 2700.5, 2800.0)
    assert (config.total_amount_quote, config.max_open_orders, config.keep_position) == (
        500.0,
        4,
        True,
    )
    assert config.triple_barrier_config == TripleBarrierConfig(
        take_profit=0.002,
        stop_loss=None,
        time_limit=3600,
        trailing_stop=TrailingStop(activation_price=0.01, trailing_delta=0.002),
        open_order_type=OrderType.LIMIT,
        take_profit_order_type=OrderType.LIMIT_MAKER,
    )


@pytest.mark.parametrize("side", ["buy", "TradeType.BUY", 1, TradeType.BUY])
def test_side_forms(side: Any) -> None:
    assert load(side=side).side is TradeType.BUY


@pytest.mark.parametrize("field", ["limit_price", "activation_bounds", "max_orders_per_batch"])
def test_blank_optional_is_none(field: str) -> None:
    assert getattr(load(**{field: ""}), field) is None


def test_start_must_be_below_end() -> None:
    message = config_error(start_price=0.8, end_price=0.75)
    assert "start_price (0.8) must be below end_price (0.75)" in message


def test_buy_limit_price_must_be_below_the_range() -> None:
    message = config_error(limit_price=0.4)
    assert "limit_price (0.4) must be below start_price (0.38) for a BUY grid" in message


def test_sell_limit_price_must_be_above_the_range() -> None:
    message = config_error(side="SELL")  # the default limit 0.35 sits below the range
    assert "limit_price (0.35) must be above end_price (0.75) for a SELL grid" in message
    assert load(side="SELL", limit_price=0.8).limit_price == 0.8
    assert load(side="SELL", limit_price=None).limit_price is None


@pytest.mark.parametrize(
    "field, value",
    [
        ("total_amount_quote", 0),
        ("start_price", -1),
        ("min_order_amount_quote", 0),
        ("min_spread_between_orders", -0.001),
        ("max_open_orders", 0),
    ],
)
def test_non_positive_amounts_and_prices_are_rejected(field: str, value: float) -> None:
    message = config_error(**{field: value})
    assert f"{field} = {value!r}" in message


def test_grid_needs_a_take_profit_and_market_stops() -> None:
    message = config_error(triple_barrier_config={"stop_loss": 0.05})
    assert "take_profit is required" in message
    message = config_error(
        triple_barrier_config={"take_profit": 0.01, "stop_loss_order_type": "LIMIT"}
    )
    assert "stop_loss_order_type must be MARKET" in message


def test_unknown_order_type_names_the_choices() -> None:
    message = config_error(triple_barrier_config={"take_profit": 0.01, "open_order_type": "FOK"})
    assert "expected one of MARKET, LIMIT, LIMIT_MAKER" in message


def test_controller_reads_no_candles_and_is_quiet_by_default() -> None:
    controller = GridStrikeController(load())
    assert isinstance(controller, ControllerBase)
    assert GridStrikeController.config_class is GridStrikeConfig
    assert controller.candles_configs() == []
    assert controller.warnings() == []


def test_controller_warns_about_fields_it_does_not_simulate() -> None:
    controller = GridStrikeController(
        load(
            max_open_orders=5,
            order_frequency=0,
            activation_bounds=0.01,
            triple_barrier_config={
                "take_profit": 0.01,
                "trailing_stop": "0.01,0.005",
                "take_profit_order_type": "MARKET",
            },
        )
    )
    notes = controller.warnings()
    assert [note.split(" ")[0] for note in notes] == [
        "max_open_orders=5",
        "order_frequency=0",
        "activation_bounds=0.01",
        "triple_barrier_config.trailing_stop",
        "triple_barrier_config.take_profit_order_type",
    ]
    assert all("not simulated" in note or "simulated as limit orders" in note for note in notes)
