"""Run options and configs are validated before any work, every problem at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from hbbacktest.config.settings import Settings
from hbbacktest.core.errors import ConfigError, DataMissingError
from hbbacktest.core.time import parse_time
from hbbacktest.data.sources.demo import DEMO_END
from hbbacktest.service import check_run_options, plan_run


def test_every_bad_option_is_listed_together() -> None:
    with pytest.raises(ConfigError) as info:
        check_run_options(
            start="yesterday",
            end=99_999_999_999_999_999,
            resolution="7x",
            trade_cost=float("nan"),
            fill_model="touhc",
            output_format="csv",
        )
    message = str(info.value)
    assert message.startswith("invalid run options (6 problems):")
    for fragment in (
        "--fill-model = 'touhc': expected one of hummingbot, touch (did you mean 'touch'?)",
        "--format = 'csv': expected one of json, parquet",
        "--start: cannot read 'yesterday'",
        "--end: 99999999999999999 is no epoch timestamp",
        "--resolution: invalid interval '7x'",
        "--trade-cost = nan",
    ):
        assert fragment in message


def test_demo_config_without_window_runs_the_demo_week(tmp_path: Path) -> None:
    plan = plan_run(None, settings=Settings(data_dir=tmp_path))
    assert plan.request.start == parse_time("2024-01-08")
    assert plan.request.end == parse_time("2024-01-15")
    assert plan.request.config.controller_name == "pmm_simple"


def test_demo_with_one_bound_runs_to_the_end_of_the_demo_series(tmp_path: Path) -> None:
    plan = plan_run(None, start="2024-03-01", settings=Settings(data_dir=tmp_path))
    assert plan.request.start == parse_time("2024-03-01")
    assert plan.request.end == DEMO_END


def test_stored_market_without_window_and_no_data(tmp_path: Path) -> None:
    config = tmp_path / "c.yml"
    config.write_text(
        "controller_name: pmm_simple\nconnector_name: binance\ntrading_pair: BTC-USDT\n"
    )
    with pytest.raises(DataMissingError, match="no 1m candles for binance BTC-USDT"):
        plan_run(config, settings=Settings(data_dir=tmp_path))


def test_window_of_too_many_bars_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at most 10,000,000 run at once"):
        plan_run(
            None,
            start="2000-01-01",
            end="2030-01-01",
            resolution="1s",
            settings=Settings(data_dir=tmp_path),
        )


def test_end_before_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"start \(2024-01-09 00:00:00\) must be before end"):
        plan_run(None, start="2024-01-09", end="2024-01-08", settings=Settings(data_dir=tmp_path))
