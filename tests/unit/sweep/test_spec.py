from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hbbacktest.config.request import BacktestRequest
from hbbacktest.controllers.registry import ControllerRegistry
from hbbacktest.core.errors import ConfigError
from hbbacktest.core.time import parse_time
from hbbacktest.sweep import (
    MAX_COMBINATIONS,
    Expansion,
    SweepSpec,
    ValueRange,
    expand,
    items_from_json,
    items_to_json,
    load_items,
    load_spec,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "sweeps" / "pmm_grid.yml"
EXAMPLE_ZIP = ROOT / "examples" / "sweeps" / "pmm_zip_windows.yml"
BASE: dict[str, Any] = {
    "controller_name": "pmm_simple",
    "controller_type": "market_making",
    "connector_name": "demo",
    "trading_pair": "BTC-USDT",
    "total_amount_quote": 1000,
}
JAN_8 = parse_time("2024-01-08")
JAN_9 = parse_time("2024-01-09")
JAN_10 = parse_time("2024-01-10")


@pytest.fixture(scope="module")
def registry() -> ControllerRegistry:
    return ControllerRegistry()


def write_spec(folder: Path, **fields: Any) -> Path:
    data: dict[str, Any] = {"name": "t", "base": BASE, "start": "2024-01-08", "end": "2024-01-09"}
    data.update(fields)
    data = {key: value for key, value in data.items() if value is not None}
    path = folder / "spec.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def expand_spec(folder: Path, registry: ControllerRegistry, **fields: Any) -> Expansion:
    return expand(load_spec(write_spec(folder, **fields)), registry=registry)


def spec_error(folder: Path, **fields: Any) -> str:
    with pytest.raises(ConfigError) as info:
        load_spec(write_spec(folder, **fields))
    return str(info.value)


def expand_error(folder: Path, registry: ControllerRegistry, **fields: Any) -> str:
    with pytest.raises(ConfigError) as info:
        expand_spec(folder, registry, **fields)
    return str(info.value)


# --- expansion: counts, order and contents ----------------------------------------------------


def test_grid_is_the_product_with_the_last_key_fastest(
    tmp_path: Path, registry: ControllerRegistry
) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        grid={"buy_spreads": ["0.001", "0.002", "0.004"], "take_profit": [0.002, 0.004]},
    )
    assert [item.params for item in items] == [
        {"buy_spreads": b, "take_profit": t}
        for b in ("0.001", "0.002", "0.004")
        for t in (0.002, 0.004)
    ]
    assert [item.index for item in items] == list(range(6))
    assert [item.request.config.buy_spreads for item in items] == [  # type: ignore[attr-defined]
        [0.001],
        [0.001],
        [0.002],
        [0.002],
        [0.004],
        [0.004],
    ]
    assert [item.request.config.take_profit for item in items] == [0.002, 0.004] * 3  # type: ignore[attr-defined]
    assert len({item.key for item in items}) == 6
    assert items.duplicates == 0 and items.notes == ()


def test_zip_pairs_rows(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        zip={
            "buy_spreads": ["0.001", "0.002", "0.003"],
            "sell_spreads": [[0.004], [0.005], [0.006]],
        },
    )
    assert len(items) == 3
    pairs = [
        (item.request.config.buy_spreads, item.request.config.sell_spreads)  # type: ignore[attr-defined]
        for item in items
    ]
    assert pairs == [([0.001], [0.004]), ([0.002], [0.005]), ([0.003], [0.006])]
    assert items[1].params == {"buy_spreads": "0.002", "sell_spreads": [0.005]}


def test_grid_times_zip_with_zip_rows_fastest(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        grid={"take_profit": [0.01, 0.02]},
        zip={"buy_spreads": ["0.001", "0.002", "0.003"], "sell_spreads": ["0.1", "0.2", "0.3"]},
    )
    assert len(items) == 6
    assert [(i.params["take_profit"], i.params["buy_spreads"]) for i in items] == [
        (0.01, "0.001"),
        (0.01, "0.002"),
        (0.01, "0.003"),
        (0.02, "0.001"),
        (0.02, "0.002"),
        (0.02, "0.003"),
    ]
    assert all(
        i.request.config.sell_spreads == [float(i.params["buy_spreads"]) * 100]  # type: ignore[attr-defined]
        for i in items
    )


def test_step_ranges_include_stop_and_look_exact() -> None:
    assert ValueRange(start=0.1, stop=0.3, step=0.1).values() == [0.1, 0.2, 0.3]
    assert ValueRange(start=0.001, stop=0.01, step=0.001).values() == [
        0.001,
        0.002,
        0.003,
        0.004,
        0.005,
        0.006,
        0.007,
        0.008,
        0.009,
        0.01,
    ]
    # Crossing zero: exactly 0.0, not 5.55e-17.
    assert ValueRange(start=-0.3, stop=0.3, step=0.1).values() == [
        -0.3,
        -0.2,
        -0.1,
        0.0,
        0.1,
        0.2,
        0.3,
    ]
    # A stop that is no whole number of steps away is not passed.
    assert ValueRange(start=0.01, stop=0.035, step=0.01).values() == [0.01, 0.02, 0.03]
    ints = ValueRange(start=60, stop=300, step=60).values()
    assert ints == [60, 120, 180, 240, 300] and all(type(v) is int for v in ints)
    assert ValueRange(start=0.5, stop=0.5, step=0.1).values() == [0.5]
    assert ValueRange(start=0, stop=1, num=4).values() == [0, 0.333333333333, 0.666666666667, 1]
    assert ValueRange(start=-1, stop=2, num=10).values()[3] == 0
    assert ValueRange(start=0.1, stop=0.3, step=0.1).count == 3


def test_log_ranges_are_geometric_with_both_ends() -> None:
    assert ValueRange(start=0.001, stop=1, num=4, scale="log").values() == [0.001, 0.01, 0.1, 1]
    assert ValueRange(start=0.01, stop=0.08, num=4, scale="log").values() == [
        0.01,
        0.02,
        0.04,
        0.08,
    ]
    ints = ValueRange(start=1, stop=1000, num=4, scale="log").values()
    assert ints == [1, 10, 100, 1000] and all(type(v) is int for v in ints)
    assert ValueRange(start=0.5, stop=2, num=1, scale="log").values() == [0.5]
    odd = ValueRange(start=1, stop=2, num=3, scale="log").values()
    assert odd == [1, 1.41421356237, 2]


def test_ranges_in_a_spec(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        grid={
            "take_profit": {"start": 0.01, "stop": 0.03, "step": 0.01},
            "executor_refresh_time": {"start": 60, "stop": 6000, "num": 3, "scale": "log"},
        },
    )
    assert len(items) == 9
    assert [i.params["take_profit"] for i in items[::3]] == [0.01, 0.02, 0.03]
    assert [i.params["executor_refresh_time"] for i in items[:3]] == [60, 600, 6000]
    assert items[8].request.config.executor_refresh_time == 6000  # type: ignore[attr-defined]


def test_several_windows(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        start=None,
        end=None,
        grid={"take_profit": [0.01, 0.02]},
        windows=[
            {"start": "2024-01-08", "end": "2024-01-09"},
            {"start": JAN_9, "end": "2024-01-10T12:00:00"},
        ],
    )
    assert len(items) == 4
    assert [(i.request.start, i.request.end) for i in items] == [
        (JAN_8, JAN_9),
        (JAN_8, JAN_9),
        (JAN_9, JAN_10 + 43_200),
        (JAN_9, JAN_10 + 43_200),
    ]
    assert items[0].params == {"take_profit": 0.01, "window": "2024-01-08/2024-01-09"}
    assert items[3].params == {"take_profit": 0.02, "window": "2024-01-09/2024-01-10T12:00:00Z"}
    # The same config in two windows: two keys.
    assert items[0].key != items[2].key


def test_one_window_in_a_list_adds_no_window_param(
    tmp_path: Path, registry: ControllerRegistry
) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        start=None,
        end=None,
        grid={"take_profit": [0.01]},
        windows=[{"start": JAN_8, "end": JAN_9}],
    )
    assert items[0].params == {"take_profit": 0.01}
    assert (items[0].request.start, items[0].request.end) == (JAN_8, JAN_9)


def test_fixed_overrides_base_in_every_config(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        grid={"take_profit": [0.01, 0.02]},
        fixed={"total_amount_quote": 500, "stop_loss": 0.05, "sell_spreads": "0.003"},
    )
    for item in items:
        config = item.request.config
        assert config.total_amount_quote == 500
        assert config.stop_loss == 0.05  # type: ignore[attr-defined]
        assert config.sell_spreads == [0.003]  # type: ignore[attr-defined]
        assert "stop_loss" not in item.params


def test_request_options_come_from_the_spec(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        resolution="5m",
        trade_cost=0.001,
        fill_model="touch",
        candles_connector="demo",
        candles_trading_pair="ETH-USDT",
    )
    request = items[0].request
    assert (request.backtesting_resolution, request.trade_cost, request.fill_model) == (
        "5m",
        0.001,
        "touch",
    )
    assert (request.candles_connector, request.candles_trading_pair) == ("demo", "ETH-USDT")
    assert items[0].params == {}


def test_base_path_is_relative_to_the_spec_file(
    tmp_path: Path, registry: ControllerRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "sweeps").mkdir()
    (tmp_path / "configs" / "pmm.yml").write_text(yaml.safe_dump(BASE))
    path = write_spec(tmp_path / "sweeps", base="../configs/pmm.yml", grid={"take_profit": [0.01]})
    monkeypatch.chdir(tmp_path / "sweeps" / "..")
    spec = load_spec(path)
    assert spec.base == BASE  # read in: the spec needs no file any more
    from_path = expand(spec, registry=registry)
    inline = expand_spec(tmp_path, registry, grid={"take_profit": [0.01]})
    assert [i.key for i in from_path] == [i.key for i in inline]


def test_expand_reads_a_base_path_against_base_dir(
    tmp_path: Path, registry: ControllerRegistry
) -> None:
    (tmp_path / "pmm.yml").write_text(yaml.safe_dump(BASE))
    spec = SweepSpec(name="t", base="pmm.yml", start="2024-01-08", end="2024-01-09")  # type: ignore[arg-type]
    items = expand(spec, registry=registry, base_dir=tmp_path)
    assert items[0].request.config.connector_name == "demo"
    with pytest.raises(ConfigError, match=r"missing\.yml"):
        expand(
            spec.model_copy(update={"base": "missing.yml"}), registry=registry, base_dir=tmp_path
        )


def test_the_issue_example_gives_six_requests(registry: ControllerRegistry) -> None:
    spec = load_spec(EXAMPLE)
    items = expand(spec, registry=registry)
    assert spec.name == "pmm_grid" and len(items) == 6
    expected = [(b, t) for b in (0.001, 0.002, 0.004) for t in (0.002, 0.004)]
    got = [
        (i.request.config.buy_spreads[0], i.request.config.take_profit)  # type: ignore[attr-defined]
        for i in items
    ]
    assert got == expected
    for item in items:
        request = item.request
        assert request.config.controller_name == "pmm_simple"
        assert request.config.connector_name == "demo"
        assert request.config.total_amount_quote == 1000
        assert (request.start, request.end) == (JAN_8, parse_time("2024-01-15"))
        assert (request.backtesting_resolution, request.trade_cost) == ("1m", 0.0006)
        assert request.fill_model == "hummingbot"


def test_the_zip_and_windows_example(registry: ControllerRegistry) -> None:
    spec = load_spec(EXAMPLE_ZIP)
    items = expand(spec, registry=registry)
    assert len(items) == spec.total == 3 * 3 * 4 * 2
    assert items[0].request.config.trailing_stop is None  # type: ignore[attr-defined]
    assert sorted({i.params["stop_loss"] for i in items}) == [0.01, 0.02, 0.04, 0.08]
    assert all(parse_time("2024-01-08") <= i.request.start for i in items)
    assert all(i.request.end <= parse_time("2024-01-15") for i in items)


def test_duplicate_configs_are_kept_once(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path, registry, grid={"buy_spreads": ["0.001", 0.001, [0.001], "0.002"]}
    )
    assert len(items) == 2 and items.duplicates == 2
    assert [i.index for i in items] == [0, 1]
    assert items[1].params == {"buy_spreads": "0.002"}
    assert "2 combinations gave a backtest identical to an earlier one" in items.notes[0]
    assert "same as item 0" in items.notes[0]


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"grid": {"take_profit": []}}, ["grid.take_profit", "empty", "at least one value"]),
        ({"grid": {"take_profit": 0.02}}, ["grid.take_profit", "list of values", "fixed"]),
        (
            {"grid": {"take_profit": {"start": 0.01, "stop": 0.03, "step": 0}}},
            ["grid.take_profit", "step must be > 0"],
        ),
        (
            {"zip": {"take_profit": {"start": 0.03, "stop": 0.01, "step": 0.01}}},
            ["zip.take_profit", "below start", "swap"],
        ),
        (
            {"grid": {"take_profit": {"start": 0.01, "stop": 0.03, "num": 0}}},
            ["grid.take_profit", "num = 0", "at least 1"],
        ),
        (
            {"grid": {"take_profit": {"start": 0.01, "stop": 0.03, "stpe": 0.01}}},
            ["grid.take_profit", "'stpe'", "did you mean 'stop' or 'step'"],
        ),
        (
            {"grid": {"take_profit": {"start": 0, "stop": 1, "num": 3, "scale": "log"}}},
            ["grid.take_profit", "start > 0"],
        ),
        (
            {"grid": {"take_profit": {"start": 1, "stop": 2, "step": 0.1, "scale": "log"}}},
            ["grid.take_profit", "num", "not step"],
        ),
        (
            {"grid": {"take_profit": {"start": 1, "stop": 2, "step": 0.1, "num": 3}}},
            ["grid.take_profit", "either step", "or num"],
        ),
        (
            {"grid": {"take_profit": {"start": True, "stop": 2, "step": 1}}},
            ["grid.take_profit", "boolean"],
        ),
        (
            {"grid": {"take_profit": {"start": 0, "stop": 1, "step": 1e-9}}},
            ["grid.take_profit", "1,000,000,001 values", "larger step"],
        ),
        (
            {"grid": {"take_profit": [0.01]}, "zip": {"take_profit": [0.02]}},
            ["zip", "take_profit also in grid", "only one of grid, zip and fixed"],
        ),
        (
            {"grid": {"take_profit": [0.01]}, "fixed": {"take_profit": 0.02}},
            ["fixed", "take_profit also in grid", "only one of"],
        ),
        (
            {"zip": {"stop_loss": [0.01]}, "fixed": {"stop_loss": 0.02}},
            ["fixed", "stop_loss also in zip"],
        ),
        (
            {"zip": {"buy_spreads": ["0.1", "0.2", "0.3"], "sell_spreads": ["0.1", "0.2"]}},
            ["zip", "buy_spreads has 3, sell_spreads has 2", "same length"],
        ),
        ({"grid": {"controller_name": ["pmm_simple"]}}, ["controller_name cannot vary"]),
        ({"gird": {"take_profit": [0.01]}}, ["unknown key 'gird'", "did you mean 'grid'"]),
        ({"name": "my sweep!"}, ["name", "letters, digits", "pmm_grid"]),
        ({"name": "../x"}, ["name", "starting with a letter or digit"]),
        ({"webhook": "ftp://example.com/x"}, ["webhook", "http(s) URL"]),
        ({"webhook": "https://"}, ["webhook", "http(s) URL"]),
        ({"resolution": "1 minute"}, ["resolution", "'1m'"]),
        ({"trade_cost": 0.5}, ["trade_cost", "less than 0.1"]),
        ({"fill_model": "magic"}, ["fill_model", "hummingbot", "touch"]),
        (
            {"windows": [{"start": "2024-01-08", "end": "2024-01-09"}]},
            ["either start and end, or windows, not both"],
        ),
        ({"start": None, "end": None}, ["start is missing", "windows"]),
        ({"end": None}, ["end is missing"]),
        ({"start": "2024-01-09", "end": "2024-01-08"}, ["must be before end"]),
        ({"start": "next tuesday"}, ["start", "cannot read 'next tuesday'"]),
        (
            {"start": None, "end": None, "windows": [{"start": JAN_8, "ned": JAN_9}]},
            ["windows.0", "unknown key 'ned'", "did you mean 'end'"],
        ),
        ({"start": None, "end": None, "windows": []}, ["windows", "at least 1 item"]),
        (
            {"start": 0, "end": 4_000_000_000, "resolution": "1s"},
            ["holds 4,000,000,001 1s bars", "coarser resolution"],
        ),
    ],
)
def test_spec_errors_name_the_field_and_the_fix(
    tmp_path: Path, fields: dict[str, Any], expected: list[str]
) -> None:
    message = spec_error(tmp_path, **fields)
    assert f"sweep spec {tmp_path / 'spec.yml'}" in message
    for part in expected:
        assert part in message, (part, message)


def test_too_many_combinations_says_how_many_and_how_to_reduce(tmp_path: Path) -> None:
    message = spec_error(
        tmp_path,
        start=None,
        end=None,
        grid={
            "take_profit": {"start": 0.001, "stop": 0.1, "step": 0.001},
            "stop_loss": {"start": 0.001, "stop": 0.2, "step": 0.001},
        },
        zip={"buy_spreads": ["0.1", "0.2"], "sell_spreads": ["0.1", "0.2"]},
        windows=[{"start": JAN_8, "end": JAN_9}, {"start": JAN_9, "end": JAN_10}] * 3,
    )
    assert "240,000 items (take_profit 100 × stop_loss 200 × zip 2 × windows 6)" in message
    assert f"at most {MAX_COMBINATIONS:,}" in message
    assert "fewer values or coarser steps" in message and "split it" in message


def test_a_file_that_is_no_mapping(tmp_path: Path) -> None:
    path = tmp_path / "spec.yml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping with name, base"):
        load_spec(path)


def test_an_items_file_given_as_spec_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "configs.json"
    path.write_text(json.dumps({"name": "x", "items": []}))
    with pytest.raises(ConfigError, match="items file written by `hbbacktest sweep expand`"):
        load_spec(path)


def test_base_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yml"):
        load_spec(write_spec(tmp_path, base="nope.yml"))
    (tmp_path / "list.yml").write_text("- 1\n")
    with pytest.raises(ConfigError, match=r"list.yml: expected a mapping of controller config"):
        load_spec(write_spec(tmp_path, base="list.yml"))


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"grid": {"take_proft": [0.01]}},
            ["grid.take_proft is not a field of pmm_simple's config", "did you mean 'take_profit'"],
        ),
        (
            {"zip": {"buy_spread": ["0.1"]}, "fixed": {"stop_los": 0.1}},
            ["zip.buy_spread", "did you mean 'buy_spreads'", "fixed.stop_los", "'stop_loss'"],
        ),
        (
            {"base": {"connector_name": "demo"}},
            ["no controller_name", "base or fixed", "pmm_simple"],
        ),
        (
            {"base": {"controller_name": "pmm_simpel"}},
            ["'pmm_simpel'", "did you mean 'pmm_simple'"],
        ),
    ],
)
def test_expand_checks_names_against_the_controller(
    tmp_path: Path, registry: ControllerRegistry, fields: dict[str, Any], expected: list[str]
) -> None:
    message = expand_error(tmp_path, registry, **fields)
    for part in expected:
        assert part in message, (part, message)


def test_controller_name_may_come_from_fixed(tmp_path: Path, registry: ControllerRegistry) -> None:
    base = {key: value for key, value in BASE.items() if key != "controller_name"}
    items = expand_spec(tmp_path, registry, base=base, fixed={"controller_name": "pmm_simple"})
    assert items[0].request.config.controller_name == "pmm_simple"


def test_every_invalid_combination_is_listed_together(
    tmp_path: Path, registry: ControllerRegistry
) -> None:
    message = expand_error(
        tmp_path,
        registry,
        grid={
            "buy_spreads": ["0.001", "0.001,0.002", "0.001,0.002,0.003"],
            "buy_amounts_pct": ["1", "1,1"],
        },
    )
    assert message.startswith(
        "sweep 't': 4 of 6 combinations of pmm_simple are invalid (nothing was run)"
    )
    assert "buy_spreads='0.001', buy_amounts_pct='1,1'" in message
    assert "buy_spreads='0.001,0.002', buy_amounts_pct='1'" in message
    assert "buy_spreads='0.001,0.002,0.003', buy_amounts_pct='1'" in message
    assert "buy_spreads='0.001,0.002,0.003', buy_amounts_pct='1,1'" in message
    assert "has 2 values but buy_spreads has 3" in message
    assert "has 1 values but buy_spreads has 2" in message
    assert "buy_spreads='0.001,0.002', buy_amounts_pct='1,1'" not in message


def test_the_listing_stops_at_twenty(tmp_path: Path, registry: ControllerRegistry) -> None:
    message = expand_error(
        tmp_path, registry, grid={"take_profit": [-(i + 1) / 100 for i in range(25)]}
    )
    assert "25 of 25 combinations" in message
    assert "take_profit=-0.2:" in message and "take_profit=-0.21" not in message
    assert message.rstrip().endswith("… and 5 more")
    assert "greater than 0" in message


# --- items files ------------------------------------------------------------------------------


def test_items_round_trip_through_json_text(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(
        tmp_path,
        registry,
        start=None,
        end=None,
        grid={"take_profit": {"start": 0.01, "stop": 0.02, "step": 0.01}},
        zip={"buy_spreads": [[0.001], [0.002]], "trailing_stop": ["0.015,0.003", None]},
        fixed={"take_profit_order_type": "LIMIT"},
        windows=[{"start": JAN_8, "end": JAN_9}, {"start": JAN_9, "end": JAN_10}],
        candles_connector="demo",
    )
    data = items_to_json("t", items)
    assert set(data) == {"name", "items"}
    assert data["items"][0] == {
        "index": 0,
        "params": {
            "take_profit": 0.01,
            "buy_spreads": [0.001],
            "trailing_stop": "0.015,0.003",
            "window": "2024-01-08/2024-01-09",
        },
        "request": items[0].request.model_dump(mode="json"),
    }
    name, back = items_from_json(json.loads(json.dumps(data)), registry=registry)
    assert name == "t"
    assert [i.key for i in back] == [i.key for i in items]
    assert [i.index for i in back] == [i.index for i in items]
    assert [i.params for i in back] == [i.params for i in items]
    assert all(isinstance(i.request, BacktestRequest) for i in back)

    path = tmp_path / "configs.json"
    path.write_text(json.dumps(data))
    assert [i.key for i in load_items(path, registry=registry)[1]] == [i.key for i in items]


def test_items_from_json_lists_every_bad_item(tmp_path: Path, registry: ControllerRegistry) -> None:
    items = expand_spec(tmp_path, registry, grid={"take_profit": [0.01, 0.02, 0.03]})
    data = items_to_json("t", items)
    data["items"][0]["request"]["config"]["take_profit"] = -1
    data["items"][1]["request"]["trade_cost"] = 5
    data["items"].append(dict(data["items"][2], index=7))
    data["items"].append(dict(data["items"][2]))
    with pytest.raises(ConfigError) as info:
        items_from_json(data, registry=registry)
    message = str(info.value)
    assert "4 of 5 items are invalid" in message
    assert "item 0 (take_profit=0.01)" in message and "greater than 0" in message
    assert "item 1 (take_profit=0.02)" in message and "trade_cost" in message
    assert "item 7: the same backtest as item 2" in message
    assert "index 2 appears twice" in message


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], "sweep items"),
        ({"name": "t", "items": []}, "items"),
        ({"name": "t", "items": [{"index": 0}]}, "items.0.request: required field is missing"),
        ({"name": "t", "items": [], "extra": 1}, "extra"),
        ({"name": "bad name", "items": []}, "no sweep name"),
    ],
)
def test_malformed_items_documents(registry: ControllerRegistry, data: Any, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.")):
        items_from_json(data, registry=registry)


def test_load_items_errors(tmp_path: Path, registry: ControllerRegistry) -> None:
    with pytest.raises(ConfigError, match="cannot read items file"):
        load_items(tmp_path / "none.json", registry=registry)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_items(bad, registry=registry)


def test_items_to_json_checks_the_name() -> None:
    with pytest.raises(ConfigError, match="no sweep name"):
        items_to_json("", [])


# --- stability --------------------------------------------------------------------------------


def test_keys_are_the_same_in_another_process(registry: ControllerRegistry) -> None:
    keys = [item.key for item in expand(load_spec(EXAMPLE_ZIP), registry=registry)]
    script = (
        "from hbbacktest.controllers.registry import ControllerRegistry\n"
        "from hbbacktest.sweep import expand, load_spec\n"
        f"items = expand(load_spec({str(EXAMPLE_ZIP)!r}), registry=ControllerRegistry())\n"
        "print('\\n'.join(item.key for item in items))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.split() == keys
