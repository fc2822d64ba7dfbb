"""Run one backtest: load candles (with warm-up), run the engine, build the result."""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hbbacktest.config.controller import ControllerConfigBase, config_warnings
from hbbacktest.config.limits import check_data_size
from hbbacktest.config.loading import read_config_file
from hbbacktest.config.request import BacktestRequest
from hbbacktest.config.settings import Settings
from hbbacktest.config.validation import describe_validation_error
from hbbacktest.controllers.base import FeatureTable, MarketData, candles_feed
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.enums import FillModel
from hbbacktest.core.errors import ConfigError, DataMissingError
from hbbacktest.core.time import format_time
from hbbacktest.data.access import CandleAccess, CandleSource, FetchProgress
from hbbacktest.data.candles import Candles
from hbbacktest.data.sources.demo import DEMO_CONNECTOR, DEMO_END, DEMO_START
from hbbacktest.data.sources.venues import check_exchange_urls, has_venue
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


def run_backtest(
    request: BacktestRequest,
    *,
    settings: Settings | None = None,
    store: CandleStore | None = None,
    registry: ControllerRegistry | None = None,
    access: CandleSource | None = None,
    offline: bool | None = None,
    feature_cache: MutableMapping[Hashable, FeatureTable] | None = None,
) -> BacktestResult:
    """Run one backtest and return its result.

    Candles come through :class:`hbbacktest.data.access.CandleAccess`: from the cache,
    fetching what the window lacks from the exchange unless ``settings.offline``. Warm-up
    candles of the controller's feeds are fetched before the start as needed.

    Args:
        request: the validated request (config, window, resolution, trade cost, fill model,
            optional price source ``candles_connector``/``candles_trading_pair``).
        settings: process settings (``Settings.from_env()`` by default): data dir, offline,
            exchange URLs.
        store: the candle store; by default the one under ``settings.data_dir``.
        registry: the controllers that may run; the built-ins by default.
        access: the candle access to use (overrides ``settings``, ``store`` and ``offline``).
        offline: never fetch (overrides ``settings.offline``; the API's ``offline`` flag).
        feature_cache: reuse features across runs with the same feature key (sweeps).

    Raises:
        ConfigError: the config names an unknown controller, or the exchange no such market.
        DataMissingError: no candles for the window (says what is cached and the command that
            gets them); DataError: invalid candles; ExchangeError: the exchange failed;
            ControllerError: controller code failed.

    Example:
        >>> from hbbacktest.service.defaults import default_request
        >>> result = run_backtest(default_request())
        >>> result.results["total_executors"] > 0
        True
    """
    settings = settings or Settings.from_env()
    registry = registry or build_registry(settings)
    if access is None:
        access = candle_access(settings, store=store, offline=offline)
    config = request.config
    controller = registry.create(config)
    warnings = config_warnings(config) + controller.warnings()
    traded = (config.connector_name, config.trading_pair)
    priced = (request.price_connector, request.price_pair)
    resolution = request.backtesting_resolution

    window = access.candles(priced[0], priced[1], resolution, request.start, request.end)
    bars = window.candles
    if len(bars) < 2:
        raise DataMissingError(
            f"fewer than two {resolution} candles for {priced[0]} {priced[1]} between "
            f"{format_time(request.start)} and {format_time(request.end)} UTC (got "
            f"{bars.describe_range()}); pick a longer window"
        )
    warnings += [note for note in window.warnings if note not in warnings]
    data_source = window.source
    if priced != traded:
        note = (
            f"prices from {priced[0]} {priced[1]} while trading {traded[0]} {traded[1]}: fills, "
            "spreads and PnL are simulated on the other venue's candles, and candle feeds of "
            "the traded market read that venue too"
        )
        warnings.append(note)
        data_source += f"; prices from {priced[0]} {priced[1]}"

    feeds: dict[tuple[str, str, str], Candles] = {}
    for feed in controller.candles_configs():
        key = candles_feed(feed)
        connector, pair = _feed_market(key, traded, priced)
        feed_window = access.candles(
            connector,
            pair,
            key[2],
            int(bars.ts[0]),
            int(bars.ts[-1]),
            warmup_bars=feed.max_records,
        )
        candles = feed_window.candles
        # A feed's own notes (gaps), but not "starts later than asked": for a feed that is
        # the warm-up shortfall, counted just below.
        warnings += [
            note
            for note in feed_window.warnings
            if note not in warnings and "later than asked" not in note
        ]
        before = int((candles.ts < bars.ts[0]).sum())
        if before < feed.max_records:
            warnings.append(
                f"only {before} of {feed.max_records} warm-up candles ({feed.interval}) before the "
                f"start for {connector} {pair}; early indicator values may be missing or differ "
                "from live"
            )
        feeds[key] = candles

    raw = run_controller(
        controller,
        MarketData(bars=bars, feeds=feeds, start=request.start),
        EngineParams(
            fill_model=FillModel[request.fill_model.upper()], trade_cost=request.trade_cost
        ),
        feature_cache=feature_cache,
    )
    late = [note for note in controller.warnings() if note not in warnings]
    return build_result(request, raw, warnings=warnings + late, data_source=data_source)


@dataclass(frozen=True)
class CandleNeed:
    """A dataset window a run reads: bars or a feed, with the warm-up it wants."""

    connector: str
    trading_pair: str
    interval: str
    start: int
    end: int
    warmup_bars: int = 0


def candle_needs(request: BacktestRequest, registry: ControllerRegistry) -> list[CandleNeed]:
    """Every dataset window a request reads, for loading them once before many runs.

    A superset: feeds are planned over the whole requested window.
    """
    config = request.config
    traded = (config.connector_name, config.trading_pair)
    priced = (request.price_connector, request.price_pair)
    needs = [
        CandleNeed(priced[0], priced[1], request.backtesting_resolution, request.start, request.end)
    ]
    for feed in registry.create(config).candles_configs():
        key = candles_feed(feed)
        connector, pair = _feed_market(key, traded, priced)
        needs.append(
            CandleNeed(connector, pair, key[2], request.start, request.end, feed.max_records)
        )
    return needs


def _feed_market(
    key: tuple[str, str, str], traded: tuple[str, str], priced: tuple[str, str]
) -> tuple[str, str]:
    """Where a feed reads: the price venue for a feed of the traded market, else its own."""
    return priced if (key[0], key[1]) == traded else (key[0], key[1])


def candle_access(
    settings: Settings,
    *,
    store: CandleStore | None = None,
    offline: bool | None = None,
    progress: Callable[[FetchProgress], None] | None = None,
    notify: Callable[[str], None] | None = None,
) -> CandleAccess:
    """The candle access a process should use, from its settings.

    Args:
        settings: data dir, offline flag and exchange URL overrides.
        store: the store to use instead of the one under ``settings.data_dir``.
        offline: overrides ``settings.offline`` (the CLI's ``--offline``).
        progress: called after each fetched page.
        notify: called with operational notes (a corrupt file set aside and fetched again).

    Raises:
        ConfigError: ``exchange_urls`` names a connector without an exchange source.
    """
    check_exchange_urls(settings.exchange_urls)
    return CandleAccess(
        store or CandleStore(settings.data_dir),
        offline=settings.offline if offline is None else offline,
        exchange_urls=dict(settings.exchange_urls),
        progress=progress,
        notify=notify,
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
    try:
        candles = store.load(connector, trading_pair, interval)
    except DataMissingError as exc:
        if not has_venue(connector):
            raise
        raise DataMissingError(
            f"{exc}. Or give the window with --start and --end: the missing candles are then "
            f"fetched from {connector}"
        ) from None
    if not len(candles):
        raise DataMissingError(
            f"the store holds no {interval} candles for {connector} {trading_pair}"
        )
    return int(candles.ts[0]), int(candles.ts[-1])
