"""The bar-by-bar loop (StepControllerBase): creates, stops, keep_position, what the controller sees."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pytest

from hbbacktest.config.controller import ControllerConfigBase, TripleBarrierConfig
from hbbacktest.controllers.actions import Action, CreateExecutor, PositionSpec, StopExecutor
from hbbacktest.controllers.base import MarketData, StepControllerBase, StepSession
from hbbacktest.core.enums import CloseType, FillModel, OrderType, TradeType
from hbbacktest.core.errors import ControllerError
from hbbacktest.data.candles import Candles
from hbbacktest.engine.backtest import EngineParams, run_controller

CLOSES = [100.0, 101.0, 102.0, 104.0, 103.0, 103.0]


def _bars() -> Candles:
    c = np.array(CLOSES)
    o = np.concatenate([[c[0]], c[:-1]])
    ts = 1_700_000_040 + 60 * np.arange(c.shape[0], dtype=np.int64)
    return Candles(ts, o, np.maximum(o, c), np.minimum(o, c), c, np.ones_like(c), 60)


class _BuyThenStop(StepControllerBase[Any]):
    """Buys 2 base at market on bar 0 and stops it on bar 3."""

    keep = False
    seen: list[list[tuple[bool, bool, float]]]

    def on_bar(self, session: StepSession) -> list[Action]:
        self.seen.append([(e.is_active, e.is_trading, e.net_pnl_quote) for e in session.executors])
        if session.row == 0:
            barrier = TripleBarrierConfig(open_order_type=OrderType.MARKET)
            spec = PositionSpec(TradeType.BUY, session.close, 2.0, barrier, level_id="x")
            return [CreateExecutor(spec, executor_id="a")]
        if session.row == 3:
            return [StopExecutor("a", keep_position=self.keep)]
        return []


@pytest.mark.parametrize(
    ("model", "keep", "net", "fees", "volume", "mark"),
    [
        # bought 2 at 100, closed at 104: 8 gross; hummingbot fees 2 * 0.001 * 200, volume 200;
        # marked at bar 1 (close 101): 2 - 0.4
        (FillModel.HUMMINGBOT, False, 8.0 - 0.4, 0.4, 200.0, 1.6),
        # touch: fees 0.001 * 2 * (100 + 104), volume 408; mark 2 - 0.001 * 2 * (100 + 101)
        (FillModel.TOUCH, False, 8.0 - 0.408, 0.408, 408.0, 1.598),
        # kept: entry fee only, the 2 base go to the hold at 100
        (FillModel.HUMMINGBOT, True, 8.0 - 0.2, 0.2, 200.0, 1.6),
    ],
)
def test_stop_closes_or_hands_over_the_position(
    model: FillModel, keep: bool, net: float, fees: float, volume: float, mark: float
) -> None:
    controller = _BuyThenStop(ControllerConfigBase(controller_name="t", trading_pair="BTC-USDT"))
    controller.keep = keep
    controller.seen = []
    bars = _bars()
    run = run_controller(
        controller,
        MarketData(bars=bars, feeds={}, start=int(bars.ts[0])),
        EngineParams(fill_model=model, trade_cost=0.001),
    )
    (rec,) = run.records
    assert rec["close_row"] == 3
    assert rec["close_type"] == (CloseType.POSITION_HOLD if keep else CloseType.EARLY_STOP)
    assert rec["net_pnl_quote"] == pytest.approx(net)
    assert rec["cum_fees_quote"] == pytest.approx(fees)
    assert rec["filled_amount_quote"] == pytest.approx(volume)
    assert rec["hold_base"] == (2.0 if keep else 0.0)
    # bar 0 saw nothing; from bar 1 the executor is active, trading and marked at the close
    assert controller.seen[0] == []
    assert controller.seen[1] == [(True, True, pytest.approx(mark))]
    # after the stop it is shown ended (within the retention window)
    assert controller.seen[4] == [(False, False, pytest.approx(net))]


def _run(controller: StepControllerBase[Any]) -> Any:
    bars = _bars()
    return run_controller(
        controller,
        MarketData(bars=bars, feeds={}, start=int(bars.ts[0])),
        EngineParams(fill_model=FillModel.HUMMINGBOT, trade_cost=0.001),
    )


def _config() -> ControllerConfigBase:
    return ControllerConfigBase(controller_name="t", trading_pair="BTC-USDT")


def test_a_zero_size_position_has_zero_pnl_pct() -> None:
    """Marking or stopping a position of amount 0 divided by zero."""

    class _ZeroThenStop(_BuyThenStop):
        def on_bar(self, session: StepSession) -> list[Action]:
            if session.row == 0:
                barrier = TripleBarrierConfig(open_order_type=OrderType.MARKET)
                spec = PositionSpec(TradeType.BUY, session.close, 0.0, barrier, level_id="x")
                return [CreateExecutor(spec, executor_id="a")]
            return super().on_bar(session)

    controller = _ZeroThenStop(_config())
    controller.seen = []
    (rec,) = _run(controller).records
    assert rec["close_row"] == 3
    assert rec["net_pnl_pct"] == 0.0
    assert rec["net_pnl_quote"] == 0.0
    assert controller.seen[1] == [(True, True, 0.0)]


class _Returns(StepControllerBase[Any]):
    """on_bar returns whatever ``value`` is."""

    value: Any = None

    def on_bar(self, session: StepSession) -> Any:
        return self.value


ON_BAR_LINE = _Returns.on_bar.__code__.co_firstlineno


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (5, "returned int 5 at bar 0; expected a list of CreateExecutor and StopExecutor"),
        ("buy", "returned str 'buy' at bar 0; expected a list"),
        (
            ["buy"],
            "returned str 'buy' in its list at bar 0; expected CreateExecutor or StopExecutor",
        ),
        (
            [CreateExecutor("spec")],
            "returned CreateExecutor(spec=str 'spec') at bar 0; expected a PositionSpec",
        ),  # type: ignore[arg-type]
    ],
)
def test_what_on_bar_returns_is_checked(value: Any, fragment: str) -> None:
    controller = _Returns(_config())
    controller.value = value
    with pytest.raises(ControllerError) as info:
        _run(controller)
    assert info.value.exit_code == 4
    assert (info.value.file, info.value.line) == (__file__, ON_BAR_LINE)
    assert f"controller 't': on_bar (defined at {__file__}:{ON_BAR_LINE}) {fragment}" in str(
        info.value
    )


def test_none_and_generators_are_fine() -> None:
    controller = _Returns(_config())
    assert _run(controller).records.shape[0] == 0
    controller.value = iter(())
    assert _run(controller).records.shape[0] == 0


class _Exits(StepControllerBase[Any]):
    def on_bar(self, session: StepSession) -> list[Action]:
        sys.exit(0)


class _Spins(StepControllerBase[Any]):
    def on_bar(self, session: StepSession) -> list[Action]:
        while True:
            pass


def test_sys_exit_in_on_bar_is_a_controller_error() -> None:
    with pytest.raises(ControllerError) as info:
        _run(_Exits(_config()))
    line = _Exits.on_bar.__code__.co_firstlineno + 1
    assert (info.value.file, info.value.line) == (__file__, line)
    assert f"controller 't' failed in on_bar at {__file__}:{line}: SystemExit(0)" in str(info.value)


def test_the_bar_loop_runs_under_the_controllers_time_limit() -> None:
    controller = _Spins(_config())
    controller.time_limit_s = 0.3
    with pytest.raises(ControllerError) as info:
        _run(controller)
    assert info.value.exit_code == 4
    assert info.value.file == __file__
    assert "controller 't' took longer than 0.3 s in the bar loop (at " in str(info.value)
    assert "raise HBBACKTEST_CONTROLLER_TIMEOUT if it really needs longer" in str(info.value)
