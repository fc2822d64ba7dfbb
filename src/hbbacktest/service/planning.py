"""Turn what a user typed (a config path, window and engine options) into a validated request.

Everything is checked here, before any candle is read or any kernel runs; every option problem
is reported at once, each with the option, the value and what is accepted.
"""

from __future__ import annotations

import math
import os
import typing
from dataclasses import dataclass
from typing import Any

from hbbacktest.config.request import BacktestRequest, FillModelName
from hbbacktest.config.settings import Settings
from hbbacktest.config.validation import validate_model
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError, did_you_mean
from hbbacktest.core.time import interval_to_seconds, parse_time
from hbbacktest.data.sources.demo import DEMO_CONNECTOR, DEMO_END, DEMO_START
from hbbacktest.data.store import CandleStore
from hbbacktest.service.backtest import available_window, load_controller_config
from hbbacktest.service.controllers import build_registry
from hbbacktest.service.defaults import DEFAULT_CONFIG, DEFAULT_END, DEFAULT_START
from hbbacktest.service.output import FORMATS

FILL_MODELS: tuple[str, ...] = typing.get_args(FillModelName)


@dataclass(frozen=True)
class RunPlan:
    """A validated run: the request and the registry that knows its controller."""

    request: BacktestRequest
    registry: ControllerRegistry


def _choice(option: str, value: str, choices: tuple[str, ...]) -> str | None:
    if value in choices:
        return None
    return (
        f"{option} = {value!r}: expected one of {', '.join(choices)}{did_you_mean(value, choices)}"
    )


def check_run_options(
    *,
    start: str | int | None,
    end: str | int | None,
    resolution: str,
    trade_cost: float,
    fill_model: str,
    output_format: str = "json",
) -> None:
    """Check a run's options, all of them, before anything else happens.

    Raises:
        ConfigError: listing every bad option with its value and what is accepted.
    """
    problems = [
        problem
        for problem in (
            _choice("--fill-model", fill_model, FILL_MODELS),
            _choice("--format", output_format, FORMATS),
        )
        if problem
    ]
    for option, value in (("--start", start), ("--end", end)):
        if value is not None:
            try:
                parse_time(value, field=option)
            except ConfigError as exc:
                problems.append(str(exc))
    try:
        interval_to_seconds(resolution)
    except ConfigError as exc:
        problems.append(f"--resolution: {exc}")
    if not (math.isfinite(trade_cost) and 0 <= trade_cost < 0.1):
        problems.append(
            f"--trade-cost = {trade_cost!r}: expected a fee per side as a fraction in [0, 0.1), "
            "e.g. 0.0006 for 0.06 %"
        )
    if problems:
        header = f"invalid run options ({len(problems)} problem{'s' * (len(problems) != 1)}):"
        raise ConfigError("\n".join([header, *("  - " + p for p in problems)]))


def plan_run(
    config: str | os.PathLike[str] | None,
    *,
    start: str | int | None = None,
    end: str | int | None = None,
    resolution: str = "1m",
    trade_cost: float = 0.0006,
    fill_model: str = "hummingbot",
    output_format: str = "json",
    candles_connector: str | None = None,
    candles_pair: str | None = None,
    settings: Settings | None = None,
) -> RunPlan:
    """Validate a run as the CLI describes it, without reading candles for the window itself.

    Args:
        config: a YAML/JSON controller config; None runs the embedded demo job.
        start: window start (date, ISO datetime or epoch); default: the first stored candle
            (``demo`` connector: the demo week when neither bound is given, else its first bar).
        end: window end, inclusive; default: the last stored candle (``demo``: likewise).
        resolution: the bar interval the engine steps through.
        trade_cost: fee per side, fraction of notional.
        fill_model: ``hummingbot`` or ``touch``.
        output_format: ``json`` or ``parquet`` (checked here so a typo fails before the run).
        candles_connector: take prices from this connector (default: the config's).
        candles_pair: take prices from this pair (default: the config's).
        settings: data and controllers directories (``Settings.from_env()`` by default).

    Raises:
        ConfigError: a bad option or config (every problem listed); DataMissingError: no window
            was given and nothing is stored for the market.
    """
    settings = settings or Settings.from_env()
    check_run_options(
        start=start,
        end=end,
        resolution=resolution,
        trade_cost=trade_cost,
        fill_model=fill_model,
        output_format=output_format,
    )
    registry = build_registry(settings)
    cfg = load_controller_config(DEFAULT_CONFIG if config is None else config, registry=registry)
    window: dict[str, Any] = {"start": start, "end": end}
    if start is None or end is None:
        if cfg.connector_name == DEMO_CONNECTOR and start is None and end is None:
            # The demo series covers 120 days; a week is the example the README promises.
            first, last = parse_time(DEFAULT_START), parse_time(DEFAULT_END)
        elif cfg.connector_name == DEMO_CONNECTOR:
            first, last = DEMO_START, DEMO_END
        else:
            first, last = available_window(
                candles_connector or cfg.connector_name,
                candles_pair or cfg.trading_pair,
                resolution,
                store=CandleStore(settings.data_dir),
            )
        window = {"start": start if start is not None else first, "end": end or last}
    request = validate_model(
        BacktestRequest,
        {
            "config": cfg,
            **window,
            "backtesting_resolution": resolution,
            "trade_cost": trade_cost,
            "fill_model": fill_model,
            **({"candles_connector": candles_connector} if candles_connector else {}),
            **({"candles_trading_pair": candles_pair} if candles_pair else {}),
        },
        source="run options",
    )
    return RunPlan(request=request, registry=registry)
