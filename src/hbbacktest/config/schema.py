"""A controller config's JSON schema as a person (or a generated form) needs it.

pydantic's schema has types and bounds; this adds what each Hummingbot field means, with its
unit, and the names of enum codes (``OrderType``: ``MARKET`` = 1 …), since configs may use either.
Descriptions come from one table of Hummingbot's field names, so user controllers that reuse
those names get them too; a field's own ``description=`` always wins.
"""

from __future__ import annotations

import enum
from typing import Any

from pydantic import BaseModel

from hbbacktest.core import enums

FIELD_DESCRIPTIONS: dict[str, str] = {
    "id": "Controller id; labels the run and its executors. Optional.",
    "controller_name": "Which controller runs, e.g. pmm_simple (see `hbbacktest controllers list`).",
    "controller_type": "The controller's family: market_making, directional_trading or generic.",
    "connector_name": "Exchange connector, Hummingbot's name, e.g. binance or binance_perpetual.",
    "trading_pair": "Market as BASE-QUOTE, e.g. BTC-USDT.",
    "total_amount_quote": "Capital the controller may deploy, in quote currency.",
    "manual_kill_switch": "Hummingbot's live kill switch; no effect in a backtest.",
    "initial_positions": "Positions held at the start (echoed in the result; not simulated).",
    "candles_config": "Extra candle feeds (Hummingbot's CandlesConfig list).",
    "candles_connector": "Connector the candles come from; default: connector_name.",
    "candles_trading_pair": "Pair the candles come from; default: trading_pair.",
    "interval": "Candle interval the indicators use, e.g. 1m, 3m, 1h.",
    "leverage": "Leverage of perpetual positions (1 = none).",
    "position_mode": "HEDGE or ONEWAY (perpetuals).",
    "stop_loss": "Stop loss as a fraction of the entry price (0.03 = 3 %); empty for none.",
    "take_profit": "Take profit as a fraction of the entry price (0.02 = 2 %); empty for none.",
    "time_limit": "Seconds after which an executor is closed; empty for none.",
    "take_profit_order_type": "Order type of the take profit: LIMIT or MARKET.",
    "trailing_stop": "'activation_price,trailing_delta' as fractions, e.g. '0.015,0.003'.",
    "buy_spreads": "Distance of each buy level below the reference price (fractions; "
    "pmm_dynamic: NATR multiples). A list or '0.01,0.02'.",
    "sell_spreads": "Distance of each sell level above the reference price (fractions; "
    "pmm_dynamic: NATR multiples). A list or '0.01,0.02'.",
    "buy_amounts_pct": "Relative capital weight of each buy level; empty splits equally.",
    "sell_amounts_pct": "Relative capital weight of each sell level; empty splits equally.",
    "executor_refresh_time": "Seconds before an unfilled level is cancelled and re-quoted.",
    "cooldown_time": "Seconds to wait before a level (or side) opens again.",
    "position_rebalance_threshold_pct": "Spot inventory shortfall (fraction) that triggers a "
    "rebalancing market order.",
    "skip_rebalance": "Spot connectors: do not buy the sell levels' inventory first.",
    "max_executors_per_side": "Most executors open at once on one side.",
    "bb_length": "Bollinger Bands length (candles).",
    "bb_std": "Bollinger Bands width in standard deviations.",
    "bb_long_threshold": "Go long when Bollinger %B is below this.",
    "bb_short_threshold": "Go short when Bollinger %B is above this.",
    "macd_fast": "MACD fast EMA length (candles).",
    "macd_slow": "MACD slow EMA length (candles).",
    "macd_signal": "MACD signal EMA length (candles).",
    "natr_length": "NATR length (candles); spreads are multiples of NATR.",
    "length": "Indicator length (candles).",
    "multiplier": "SuperTrend ATR multiplier.",
    "percentage_threshold": "Trade only when the close is this close to the SuperTrend line "
    "(fraction).",
    "dca_spreads": "Each DCA entry's distance from its base price (fractions).",
    "dca_amounts": "Relative weight of each DCA entry; empty splits equally.",
    "dca_amounts_pct": "Relative weight of each DCA entry; empty splits equally.",
    "top_executor_refresh_time": "Seconds before level 0's unfilled DCA executor is refreshed.",
    "executor_activation_bounds": "Live-only order pacing; accepted, not simulated.",
    "activation_bounds": "Live-only order pacing; accepted, not simulated.",
    "dynamic_order_spread": "Scale DCA spreads by the Bollinger half band width.",
    "dynamic_target": "Scale the stop loss and trailing stop by the Bollinger half band width.",
    "start_price": "Lower bound of the grid (quote).",
    "end_price": "Upper bound of the grid (quote).",
    "limit_price": "Price beyond which the grid stops (quote); empty for none.",
    "side": "BUY or SELL.",
    "min_spread_between_orders": "Smallest distance between grid levels (fraction).",
    "min_order_amount_quote": "Smallest grid order (quote).",
    "max_open_orders": "Most grid orders open at once (live pacing).",
    "max_orders_per_batch": "Grid orders placed per batch (live pacing).",
    "order_frequency": "Seconds between grid order batches (live pacing).",
    "keep_position": "Keep the grid's position open at the end instead of closing it.",
    "order_amount": "Base amount of every level's order (pmm_dynamic_2).",
    "price_adjustment_factor": "How far the MACD histogram shifts the reference price.",
    "spread_multiplier_factor": "Spread multiplier = 1 + |MACD histogram| x this, clamped.",
    "max_spread_multiplier": "Upper clamp of the spread multiplier.",
    "min_spread_multiplier": "Lower clamp of the spread multiplier.",
    "skew_factor": "In (-1, 1): positive tightens sells and widens buys.",
    "triple_barrier_config": "Take profit, stop loss and time limit of the executors.",
}

_ENUMS: dict[str, type[enum.Enum]] = {
    name: value
    for name, value in vars(enums).items()
    if isinstance(value, type)
    and issubclass(value, enum.Enum)
    and value.__module__ == enums.__name__
}


def _describe_enum(definition: dict[str, Any]) -> None:
    enum_class = _ENUMS.get(str(definition.get("title")))
    if enum_class is None or "enum" not in definition:
        return
    names = [enum_class(code).name for code in definition["enum"]]
    definition["x-enum-names"] = names
    listed = ", ".join(f"{n} ({c})" for n, c in zip(names, definition["enum"], strict=True))
    definition["description"] = f"One of {listed}; the name or the code is accepted."


def config_schema(config_class: type[BaseModel]) -> dict[str, Any]:
    """JSON schema of a config class, with field descriptions and enum names.

    Example:
        >>> from hbbacktest.controllers.registry import default_registry
        >>> schema = config_schema(default_registry().get("pmm_simple").config_class)
        >>> schema["properties"]["stop_loss"]["description"][:30]
        'Stop loss, fraction of the ent'
    """
    schema = config_class.model_json_schema()
    for definition in schema.get("$defs", {}).values():
        _describe_enum(definition)
    for name, prop in schema.get("properties", {}).items():
        if "description" not in prop and name in FIELD_DESCRIPTIONS:
            prop["description"] = FIELD_DESCRIPTIONS[name]
    return schema
