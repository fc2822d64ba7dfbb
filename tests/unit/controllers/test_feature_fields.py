"""Declared feature fields are complete, and reusing features changes no result."""

from __future__ import annotations

import inspect
import re

import pytest

from hbbacktest import BacktestRequest, load_controller_config
from hbbacktest.config.settings import Settings
from hbbacktest.controllers.base import ControllerBase, FeatureTable
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.service.backtest import run_backtest

# candles_source() reads these four
_SOURCE = {"candles_connector", "candles_trading_pair", "connector_name", "trading_pair"}


def _declaring() -> list[type[ControllerBase]]:
    registry = ControllerRegistry()
    classes = [registry.get(name) for _, name in registry.describe()]
    return [cls for cls in classes if cls.feature_fields is not None]


@pytest.mark.parametrize("cls", _declaring(), ids=lambda c: c.__name__)
def test_feature_fields_cover_every_config_field_compute_features_reads(
    cls: type[ControllerBase],
) -> None:
    source = inspect.getsource(cls.compute_features)
    read = set(re.findall(r"(?:cfg|self\.config)\.([a-z_]+)", source))
    if "candles_source" in read:
        read = (read - {"candles_source"}) | _SOURCE
    assert cls.feature_fields is not None
    missing = read - set(cls.feature_fields)
    assert not missing, f"{cls.__name__}.feature_fields lacks {sorted(missing)}"


def test_some_builtins_declare_their_feature_fields() -> None:
    assert {cls.__name__ for cls in _declaring()} == {
        "BollingerV1Controller",
        "DManV3Controller",
        "MACDBBV1Controller",
        "SuperTrendController",
        "PMMDynamicController",
        "PMMDynamic2Controller",
    }


def _request(buy_spreads: str, **extra: object) -> BacktestRequest:
    config = load_controller_config(
        {
            "controller_name": "pmm_dynamic",
            "connector_name": "demo",
            "trading_pair": "BTC-USDT",
            "buy_spreads": buy_spreads,
            "sell_spreads": "1,2",
            **extra,
        }
    )
    return BacktestRequest(config=config, start="2024-01-08", end="2024-01-10")


def test_reused_features_give_byte_identical_results(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path, offline=True)
    cache: dict[object, FeatureTable] = {}
    first = run_backtest(_request("1,2"), settings=settings, feature_cache=cache)
    assert len(cache) == 1
    second = run_backtest(_request("2,4"), settings=settings, feature_cache=cache)
    assert len(cache) == 1  # same feature fields and candles: reused
    other = run_backtest(_request("1,2", natr_length=21), settings=settings, feature_cache=cache)
    assert len(cache) == 2  # a feature field changed: computed again
    for cached, request in ((first, "1,2"), (second, "2,4")):
        fresh = run_backtest(_request(request), settings=settings)
        assert cached.to_json() == fresh.to_json()
    assert (
        other.to_json()
        == run_backtest(_request("1,2", natr_length=21), settings=settings).to_json()
    )
