"""Run one backtest: load candles (with warm-up), run the engine, build the result."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hbbacktest.config.controller import ControllerConfigBase, config_warnings
from hbbacktest.config.limits import check_data_size
from hbbacktest.config.loading import read_config_file
from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.config.validation import describe_validation_error
from hbbacktest.controllers.base import MarketData, candles_feed
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.enums import FillModel
from hbbacktest.core.errors import ConfigError, DataMissingError
from hbbacktest.core.time import format_time, interval_to_seconds
from hbbacktest.data.candles import Candles
from hbbacktest.data.sources.demo import DEMO_CONNECTOR, DEMO_END, DEMO_START, demo_candles
from hbbacktest.data.store import CandleStore
from hbbacktest.engine.backtest import EngineParams, run_controller
from hbbacktest.metrics.result import BacktestResult, build_result
from hbbacktest.service.controllers import build_registry


def load_controller_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    registry: ControllerRegistry | None = None,
) -> ControllerConfigBase:
    """Read and validate a controller config from a YAML/JSON file or a mapping.

    Example:
        >>> cfg = load_controller_config({"controller_name": "pmm_simple", "connector_name": "demo",
        ...                               "trading_pair": "BTC-USDT", "buy_spreads": "0.01,0.02"})
        >>> cfg.buy_spreads
        [0.01, 0.02]

    Raises:
        ConfigError: the file cannot be read or parsed, or the config is invalid (every bad
            field is named with its value and what was expected).
    """
    registry = registry or build_registry(Settings.from_env())
    if isinstance(source, Mapping):
        try:
            check_data_size(source, source="controller config")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return registry.load_config(source)
    data = read_config_file(source)
    return registry.load_config(data, source=str(Path(source)))


def request_from_dict(
    data: Mapping[str, Any], *, registry: ControllerRegistry | None = None
) -> BacktestRequest:
    """Build a request from plain data (e.g. a request's own JSON), config included.

    Raises:
        ConfigError: naming every invalid field of the request or of its config.
    """
    registry = registry or build_registry(Settings.from_env())
    try:
        return BacktestRequest.model_validate(
            data, context={"load_config": lambda raw: registry.load_config(raw, source="config")}
        )
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc, source="backtest request")) from None


class _CandleSource:
    """Candles of the demo connector or of the store, with one error story for both."""

    def __init__(self, store: CandleStore) -> None:
        self.store = store

    def load(self, connector: str, pair: str, interval: str, start: int, end: int) -> Candles:
        if connector == DEMO_CONNECTOR:
            if end < DEMO_START or start > DEMO_END:
                raise DataMissingError(
                    f"the demo connector (synthetic data) covers {format_time(DEMO_START)} – "
                    f"{format_time(DEMO_END)} UTC; the window {format_time(start)} – "
                    f"{format_time(end)} lies outside it"
                )
            return demo_candles(pair, interval, max(start, DEMO_START), min(end, DEMO_END))
        return self.store.load(connector, pair, interval, start, end)

    def describe(self, connector: str) -> str:
        if connector == DEMO_CONNECTOR:
            return "demo connector (synthetic candles, not market data)"
        return f"candle store {self.store.data_dir}"

    def coverage(self, connector: str, pair: str, interval: str) -> str:
        if connector == DEMO_CONNECTOR:
            return f"{format_time(DEMO_START)} – {format_time(DEMO_END)} UTC"
        whole = self.store.load(connector, pair, interval)
        return whole.describe_range()


def run_backtest(
    request: BacktestRequest,
    *,
    settings: Settings | None = None,
    store: CandleStore | None = None,
    registry: ControllerRegistry | None = None,
) -> BacktestResult:
    """Run one backtest and return its result.

    Args:
        request: the validated request (config, window, resolution, trade cost, fill model).
        settings: process settings (``Settings.from_env()`` by default); gives the data dir.
        store: the candle store; by default the one under ``settings.data_dir``.
        registry: the controllers that may run; the built-ins by default.

    Raises:
        ConfigError: the config names an unknown controller.
        DataMissingError: candles for the window are not stored (says what is, and how to
            import); DataError: stored candles are invalid; ControllerError: controller code failed.

    Example:
        >>> from hbbacktest.service.defaults import default_request
        >>> result = run_backtest(default_request())
        >>> result.results["total_executors"] > 0
        True
    """
    settings = settings or Settings.from_env()
    store = store or CandleStore(settings.data_dir)
    registry = registry or build_registry(settings)
    config = request.config
    controller = registry.create(config)
    source = _CandleSource(store)
    warnings = config_warnings(config) + controller.warnings()

    bars = source.load(
        config.connector_name,
        config.trading_pair,
        request.backtesting_resolution,
        request.start,
        request.end,
    )
    if len(bars) < 2:
        available = source.coverage(
            config.connector_name, config.trading_pair, request.backtesting_resolution
        )
        raise DataMissingError(
            f"fewer than two {request.backtesting_resolution} candles for {config.connector_name} "
            f"{config.trading_pair} between {format_time(request.start)} and {format_time(request.end)} "
            f"UTC; available: {available}. Pick a window inside it, or import candles with: "
            f"hbbacktest data import FILE --connector {config.connector_name} --pair "
            f"{config.trading_pair} --interval {request.backtesting_resolution}"
        )
    step = request.resolution_s
    if bars.first_ts is not None and bars.first_ts - request.start >= step:
        warnings.append(
            f"candles start at {format_time(bars.first_ts)} UTC, after the requested start"
        )
    if bars.last_ts is not None and request.end - bars.last_ts >= step:
        warnings.append(f"candles end at {format_time(bars.last_ts)} UTC, before the requested end")
    gaps, missing = bars.gaps()
    if gaps:
        warnings.append(
            f"the bars have {gaps} gap(s), {missing} missing candle(s); no decisions are taken inside gaps"
        )

    feeds: dict[tuple[str, str, str], Candles] = {}
    for feed in controller.candles_configs():
        key = candles_feed(feed)
        feed_step = interval_to_seconds(feed.interval)
        history_start = bars.ts[0] - feed.max_records * feed_step
        candles = source.load(key[0], key[1], key[2], history_start, int(bars.ts[-1]))
        before = int((candles.ts < bars.ts[0]).sum()) if len(candles) else 0
        if before < feed.max_records:
            warnings.append(
                f"only {before} of {feed.max_records} warm-up candles ({feed.interval}) before the "
                f"start for {key[0]} {key[1]}; early indicator values may be missing or differ from live"
            )
        feeds[key] = candles

    raw = run_controller(
        controller,
        MarketData(bars=bars, feeds=feeds, start=request.start),
        EngineParams(
            fill_model=FillModel[request.fill_model.upper()], trade_cost=request.trade_cost
        ),
    )
    late = [note for note in controller.warnings() if note not in warnings]
    return build_result(
        request, raw, warnings=warnings + late, data_source=source.describe(config.connector_name)
    )


def available_window(
    connector: str, trading_pair: str, interval: str, *, store: CandleStore
) -> tuple[int, int]:
    """First and last candle open time available for a market (the demo's fixed coverage).

    Raises:
        DataMissingError: nothing is stored for that market and interval.
    """
    if connector == DEMO_CONNECTOR:
        return DEMO_START, DEMO_END
    candles = store.load(connector, trading_pair, interval)
    if not len(candles):
        raise DataMissingError(
            f"the store holds no {interval} candles for {connector} {trading_pair}"
        )
    return int(candles.ts[0]), int(candles.ts[-1])
