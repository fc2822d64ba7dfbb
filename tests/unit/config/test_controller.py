"""Controller config models: Hummingbot configs as found in the wild, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.config import (
    CandlesConfig,
    MarketMakingControllerConfigBase,
    TrailingStop,
    TripleBarrierConfig,
    config_warnings,
)
from hbbacktest.controllers import ControllerRegistry
from hbbacktest.core.enums import OrderType, PositionMode, TradeType
from hbbacktest.core.errors import ConfigError


def load(**fields: Any) -> Any:
    return ControllerRegistry().load_config({"controller_name": "pmm_simple", **fields})


def config_error(**fields: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load(**fields)
    return str(info.value)


# --- shapes found in the wild -------------------------------------------------------------


@pytest.mark.parametrize(
    "given, expected",
    [
        ("0.01,0.02", [0.01, 0.02]),
        (" 0.01 , 0.02 ", [0.01, 0.02]),
        ("[0.01, 0.02]", [0.01, 0.02]),
        ([0.01, 0.02], [0.01, 0.02]),
        (["0.01", "0.02"], [0.01, 0.02]),
        (0.03, [0.03]),
        ("0.03", [0.03]),
        (0, [0.0]),
    ],
)
def test_spreads_accept_comma_strings_lists_and_scalars(given: Any, expected: list[float]) -> None:
    config = load(buy_spreads=given)
    assert config.buy_spreads == expected


def test_numbers_given_as_strings_are_read() -> None:
    config = load(
        total_amount_quote="1000",
        stop_loss="0.03",
        take_profit="0.02",
        time_limit="2700",
        leverage="10",
        executor_refresh_time="60",
        cooldown_time="5",
    )
    assert config.total_amount_quote == 1000.0
    assert config.stop_loss == 0.03
    assert config.take_profit == 0.02
    assert config.time_limit == 2700
    assert config.leverage == 10
    assert config.executor_refresh_time == 60
    assert config.cooldown_time == 5


@pytest.mark.parametrize(
    "given",
    ["0.015,0.003", " 0.015 , 0.003 ", {"activation_price": 0.015, "trailing_delta": 0.003}],
)
def test_trailing_stop_as_comma_string_or_object(given: Any) -> None:
    config = load(trailing_stop=given)
    assert config.trailing_stop == TrailingStop(activation_price=0.015, trailing_delta=0.003)


@pytest.mark.parametrize("given", ["", "  ", None])
def test_blank_trailing_stop_is_none(given: Any) -> None:
    assert load(trailing_stop=given).trailing_stop is None


def test_trailing_stop_with_one_value_is_rejected_with_the_expected_shape() -> None:
    message = config_error(trailing_stop="0.015")
    assert "trailing_stop" in message
    assert "'0.015'" in message
    assert "activation_price,trailing_delta" in message


@pytest.mark.parametrize(
    "given, expected",
    [
        (2, OrderType.LIMIT),
        (1, OrderType.MARKET),
        (3, OrderType.LIMIT_MAKER),
        ("LIMIT", OrderType.LIMIT),
        ("limit", OrderType.LIMIT),
        ("OrderType.LIMIT", OrderType.LIMIT),
        ("OrderType.MARKET", OrderType.MARKET),
        ("limit_maker", OrderType.LIMIT_MAKER),
        (OrderType.MARKET, OrderType.MARKET),
        (None, OrderType.MARKET),
    ],
)
def test_take_profit_order_type_forms(given: Any, expected: OrderType) -> None:
    assert load(take_profit_order_type=given).take_profit_order_type is expected


def test_take_profit_order_type_default_is_limit() -> None:
    assert load().take_profit_order_type is OrderType.LIMIT


@pytest.mark.parametrize(
    "given, expected",
    [
        ("HEDGE", PositionMode.HEDGE),
        ("PositionMode.ONEWAY", PositionMode.ONEWAY),
        (2, PositionMode.ONEWAY),
    ],
)
def test_position_mode_forms(given: Any, expected: PositionMode) -> None:
    assert load(position_mode=given).position_mode is expected


@pytest.mark.parametrize("field", ["stop_loss", "take_profit", "time_limit"])
def test_empty_string_barrier_is_none(field: str) -> None:
    assert getattr(load(**{field: ""}), field) is None


def test_barrier_defaults_are_hummingbots() -> None:
    config = load()
    assert (config.stop_loss, config.take_profit, config.time_limit) == (0.03, 0.02, 2700)
    assert config.buy_spreads == [0.01, 0.02]
    assert config.sell_spreads == [0.01, 0.02]
    assert config.buy_amounts_pct is None
    assert config.controller_type == "market_making"


def test_trading_pair_is_upper_cased_and_connector_stripped() -> None:
    config = load(trading_pair="btc-usdt", connector_name="  binance ")
    assert config.trading_pair == "BTC-USDT"
    assert config.connector_name == "binance"
    assert not config.is_perpetual
    assert load(connector_name="binance_perpetual").is_perpetual


def test_config_is_frozen() -> None:
    config = load()
    with pytest.raises(Exception, match="frozen"):
        config.leverage = 3


# --- amounts ----------------------------------------------------------------------------------


def test_amounts_default_to_equal_weights_over_both_sides() -> None:
    config = load(total_amount_quote=1000, buy_spreads="0.01,0.02", sell_spreads="0.01,0.02")
    assert config.amounts_pct(TradeType.BUY) == [1.0, 1.0]
    assert config.spreads_and_amounts_quote(TradeType.BUY) == ([0.01, 0.02], [250.0, 250.0])
    assert config.spreads_and_amounts_quote(TradeType.SELL) == ([0.01, 0.02], [250.0, 250.0])


def test_amounts_are_normalised_over_both_sides() -> None:
    config = load(
        total_amount_quote=1000,
        buy_spreads="0.01,0.02",
        sell_spreads="0.03",
        buy_amounts_pct="1,3",
        sell_amounts_pct=[4],
    )
    buy_spreads, buy_amounts = config.spreads_and_amounts_quote(TradeType.BUY)
    sell_spreads, sell_amounts = config.spreads_and_amounts_quote(TradeType.SELL)
    assert buy_spreads == [0.01, 0.02]
    assert buy_amounts == pytest.approx([125.0, 375.0])
    assert sell_spreads == [0.03]
    assert sell_amounts == pytest.approx([500.0])
    assert sum(buy_amounts) + sum(sell_amounts) == pytest.approx(1000.0)


def test_one_sided_config_puts_all_capital_on_that_side() -> None:
    config = load(total_amount_quote=300, buy_spreads="0.01,0.02,0.03", sell_spreads="")
    assert config.sell_spreads == []
    assert config.spreads_and_amounts_quote(TradeType.SELL) == ([], [])
    assert config.spreads_and_amounts_quote(TradeType.BUY)[1] == pytest.approx([100.0] * 3)


@pytest.mark.parametrize("blank", ["", "  ", [], None])
def test_blank_amounts_mean_equal_weights(blank: Any) -> None:
    assert load(buy_amounts_pct=blank).buy_amounts_pct is None


def test_mismatched_amounts_length_is_rejected() -> None:
    message = config_error(buy_spreads="0.01,0.02", buy_amounts_pct="1,2,3")
    assert "buy_amounts_pct" in message
    assert "'1,2,3'" in message
    assert "has 3 values but buy_spreads has 2" in message


def test_negative_spread_is_rejected() -> None:
    message = config_error(sell_spreads="0.01,-0.02")
    assert "sell_spreads" in message
    assert "-0.02" in message
    assert ">= 0" in message


def test_negative_amount_is_rejected() -> None:
    message = config_error(buy_amounts_pct="1,-1")
    assert "buy_amounts_pct" in message
    assert "must be >= 0" in message


def test_both_sides_empty_is_rejected() -> None:
    message = config_error(buy_spreads="", sell_spreads="")
    assert "buy_spreads and sell_spreads are both empty" in message


def test_all_zero_amounts_are_rejected() -> None:
    message = config_error(buy_amounts_pct="0,0", sell_amounts_pct="0,0")
    assert "sum to 0" in message


# --- unknown keys and the controller type --------------------------------------------------


def test_unknown_keys_are_accepted_and_reported() -> None:
    config = load(candles_connector_old="x", zeta=1, alpha="a")
    assert config.model_extra == {"candles_connector_old": "x", "zeta": 1, "alpha": "a"}
    assert config_warnings(config) == [
        "config key 'alpha' is not a field of pmm_simple and was ignored",
        "config key 'candles_connector_old' is not a field of pmm_simple and was ignored",
        "config key 'zeta' is not a field of pmm_simple and was ignored",
    ]


def test_clean_config_has_no_warnings() -> None:
    assert config_warnings(load(controller_type="market_making")) == []


def test_controller_type_mismatch_is_a_warning() -> None:
    config = load(controller_type="directional_trading")
    assert config.controller_type == "directional_trading"
    (warning,) = config_warnings(config)
    assert "'directional_trading'" in warning
    assert "pmm_simple" in warning
    assert "'market_making'" in warning


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields, field_path, given, expected",
    [
        ({"stop_loss": -1}, "stop_loss", "-1", "greater than 0"),
        ({"leverage": "abc"}, "leverage", "'abc'", "valid integer"),
        ({"buy_spreads": "0.01,abc"}, "buy_spreads.1", "'abc'", "valid number"),
        ({"trading_pair": "BTCUSDT"}, "trading_pair", "'BTCUSDT'", "BASE-QUOTE"),
        ({"take_profit_order_type": "FOO"}, "take_profit_order_type", "'FOO'", "MARKET, LIMIT"),
        ({"take_profit_order_type": 9}, "take_profit_order_type", "9", "MARKET, LIMIT"),
        ({"total_amount_quote": 0}, "total_amount_quote", "0", "greater than 0"),
        (
            {"connector_name": "  "},
            "connector_name",
            "'  '",
            "expected a Hummingbot connector name",
        ),
        (
            {"candles_config": [{"connector": "x", "trading_pair": "A-B", "interval": "7x"}]},
            "candles_config.0.interval",
            "'7x'",
            "invalid interval",
        ),
    ],
)
def test_invalid_value_names_field_value_and_expectation(
    fields: dict[str, Any], field_path: str, given: str, expected: str
) -> None:
    message = config_error(**fields)
    assert message.startswith("invalid controller config (pmm_simple) (1 problem):")
    assert f"{field_path} = {given}:" in message
    assert expected in message


def test_all_problems_are_reported_in_one_error() -> None:
    message = config_error(stop_loss=-1, leverage=0, trading_pair="X")
    assert "(3 problems)" in message
    assert "stop_loss = -1" in message
    assert "leverage = 0" in message
    assert "trading_pair = 'X'" in message


def test_bool_is_not_an_order_type() -> None:
    assert "take_profit_order_type = True" in config_error(take_profit_order_type=True)


# --- plain models -------------------------------------------------------------------------------


def test_triple_barrier_config_of_a_market_making_config() -> None:
    config = load(stop_loss="", take_profit=0.01, time_limit=60, trailing_stop="0.02,0.005")
    assert config.triple_barrier_config == TripleBarrierConfig(
        stop_loss=None,
        take_profit=0.01,
        time_limit=60,
        trailing_stop=TrailingStop(activation_price=0.02, trailing_delta=0.005),
        open_order_type=OrderType.LIMIT,
        take_profit_order_type=OrderType.LIMIT,
        stop_loss_order_type=OrderType.MARKET,
        time_limit_order_type=OrderType.MARKET,
    )


def test_triple_barrier_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="extra"):
        TripleBarrierConfig(nonsense=1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        TrailingStop(activation_price=0.01, trailing_delta=0)


def test_candles_config_defaults_and_interval_check() -> None:
    candles = CandlesConfig(connector="binance", trading_pair="BTC-USDT")
    assert (candles.interval, candles.max_records) == ("1m", 500)
    with pytest.raises(ValueError, match="invalid interval"):
        CandlesConfig(connector="binance", trading_pair="BTC-USDT", interval="1q")


def test_base_model_validates_directly() -> None:
    config = MarketMakingControllerConfigBase(controller_name="x", buy_spreads="0.1")  # type: ignore[arg-type]
    assert config.buy_spreads == [0.1]
    assert config.spreads_and_amounts_quote(TradeType.BUY)[1] == pytest.approx([100 / 3])
