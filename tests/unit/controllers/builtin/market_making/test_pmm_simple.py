from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.controllers.builtin.market_making.pmm_simple import (
    PMMSimpleConfig,
    PMMSimpleController,
)
from hbbacktest.core.enums import TradeType


def test_pmm_simple_levels_and_no_feeds(controller: Any) -> None:
    pmm = controller(
        "pmm_simple", total_amount_quote=400, buy_spreads="0.002,0.004", sell_spreads="0.003"
    )
    assert isinstance(pmm, PMMSimpleController)
    assert isinstance(pmm.config, PMMSimpleConfig)
    levels = pmm.levels()
    assert [(lv.level_id, lv.side, lv.spread) for lv in levels] == [
        ("buy_0", TradeType.BUY, 0.002),
        ("buy_1", TradeType.BUY, 0.004),
        ("sell_0", TradeType.SELL, 0.003),
    ]
    assert [lv.amount_quote for lv in levels] == pytest.approx([400 / 3] * 3)
    assert pmm.candles_configs() == []
