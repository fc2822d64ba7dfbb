"""The bar-by-bar loop (StepControllerBase): creates, stops, keep_position, what the controller sees."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hbbacktest.config.controller import ControllerConfigBase, TripleBarrierConfig
from hbbacktest.controllers.actions import Action, CreateExecutor, PositionSpec, StopExecutor
from hbbacktest.controllers.base import MarketData, StepControllerBase, StepSession
from hbbacktest.core.enums import CloseType, FillModel, OrderType, TradeType
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
