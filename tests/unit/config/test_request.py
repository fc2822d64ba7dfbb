"""BacktestRequest: window parsing, validation and the stable config_id."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hbbacktest.config import BacktestRequest, canonical_json
from hbbacktest.config.validation import validate_model
from hbbacktest.controllers import ControllerRegistry
from hbbacktest.core.errors import ConfigError

DAY = 86_400
JAN_1 = 1_704_067_200  # 2024-01-01 00:00 UTC


def config(**fields: Any) -> Any:
    return ControllerRegistry().load_config(
        {
            "controller_name": "pmm_simple",
            "connector_name": "demo",
            "trading_pair": "BTC-USDT",
            **fields,
        }
    )


def request(**fields: Any) -> BacktestRequest:
    data: dict[str, Any] = {
        "config": config(),
        "start": "2024-01-01",
        "end": "2024-01-02",
        **fields,
    }
    return validate_model(BacktestRequest, data, source="request")


@pytest.mark.parametrize(
    "start",
    [
        "2024-01-01",
        "2024-01-01T00:00:00",
        "2024-01-01T00:00:00Z",
        "2024-01-01T02:00:00+02:00",
        JAN_1,
        float(JAN_1),
        JAN_1 * 1000,
        str(JAN_1),
        str(JAN_1 * 1000),
    ],
)
def test_start_forms(start: Any) -> None:
    assert request(start=start).start == JAN_1


def test_defaults() -> None:
    req = request()
    assert (req.start, req.end) == (JAN_1, JAN_1 + DAY)
    assert req.backtesting_resolution == "1m"
    assert req.resolution_s == 60
    assert req.trade_cost == 0.0006
    assert req.fill_model == "hummingbot"


def test_resolution_seconds() -> None:
    assert request(backtesting_resolution="15m").resolution_s == 900


@pytest.mark.parametrize("end", ["2024-01-01", "2023-12-31", JAN_1 - 60])
def test_start_not_before_end_is_rejected(end: Any) -> None:
    with pytest.raises(ConfigError) as info:
        request(end=end)
    assert "start (2024-01-01 00:00:00) must be before end" in str(info.value)


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"start": "yesterday"}, "start = 'yesterday': start: cannot read 'yesterday'"),
        ({"backtesting_resolution": "2q"}, "backtesting_resolution = '2q': invalid interval"),
        ({"trade_cost": 0.5}, "trade_cost = 0.5: Input should be less than 0.1"),
        ({"trade_cost": -0.001}, "trade_cost = -0.001: Input should be greater than or equal to 0"),
        (
            {"fill_model": "perfect"},
            "fill_model = 'perfect': Input should be 'hummingbot' or 'touch'",
        ),
        ({"leverage": 3}, "leverage = 3: Extra inputs are not permitted"),
    ],
)
def test_invalid_options_are_named(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        request(**fields)
    assert expected in str(info.value)


def test_request_keeps_the_controller_config_class() -> None:
    cfg = config(buy_spreads="0.01")
    assert request(config=cfg).config is cfg


def test_config_id_is_stable_for_equal_requests() -> None:
    a = request(config=config(buy_spreads="0.01,0.02", total_amount_quote="100"))
    b = request(
        config=config(buy_spreads=[0.01, 0.02], total_amount_quote=100),
        start=JAN_1 * 1000,
        end="2024-01-02T00:00:00Z",
    )
    assert a.config_id == b.config_id
    assert len(a.config_id) == 64
    assert int(a.config_id, 16) >= 0
    assert a.config_id == request(config=config(buy_spreads="0.01,0.02")).config_id


@pytest.mark.parametrize(
    "fields",
    [
        {"start": "2024-01-01T00:01:00"},
        {"end": "2024-01-03"},
        {"trade_cost": 0.001},
        {"fill_model": "touch"},
        {"backtesting_resolution": "5m"},
        {"config": config(buy_spreads="0.01,0.03")},
        {"config": config(id="other")},
        {"config": config(unknown_key=1)},
    ],
)
def test_config_id_differs_for_different_requests(fields: dict[str, Any]) -> None:
    assert request(**fields).config_id != request().config_id


def test_config_id_is_sha256_of_canonical_json() -> None:
    import hashlib

    req = request()
    text = canonical_json(req.model_dump(mode="json"))
    assert req.config_id == hashlib.sha256(text.encode()).hexdigest()


def test_canonical_json_is_sorted_and_compact() -> None:
    assert canonical_json({"b": 1, "a": [1.5, "é"]}) == '{"a":[1.5,"\\u00e9"],"b":1}'
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_request_is_frozen_and_json_serialisable() -> None:
    req = request()
    with pytest.raises(Exception, match="frozen"):
        req.start = 0
    dumped = json.loads(req.model_dump_json())
    assert dumped["config"]["buy_spreads"] == [0.01, 0.02]
    assert dumped["start"] == JAN_1


def test_raw_config_mapping_is_rejected_without_a_registry() -> None:
    # once validated as the generic ControllerConfigBase, losing the controller's fields
    data = request().model_dump(mode="json")
    with pytest.raises(ConfigError) as info:
        validate_model(BacktestRequest, data, source="request")
    message = str(info.value)
    assert "config: a raw config mapping needs the controller registry" in message


def test_request_rebuilt_from_its_json_with_a_registry_is_equal() -> None:
    req = request(config=config(buy_spreads="0.01,0.03", trailing_stop="0.02,0.01", foo=1))
    registry = ControllerRegistry()
    rebuilt = BacktestRequest.model_validate(
        json.loads(req.model_dump_json()), context={"load_config": registry.load_config}
    )
    assert type(rebuilt.config) is type(req.config)
    assert rebuilt == req
    assert rebuilt.config_id == req.config_id
