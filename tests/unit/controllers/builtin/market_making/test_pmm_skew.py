from __future__ import annotations

from typing import Any

import pytest

from hbbacktest.core.enums import TradeType
from hbbacktest.core.errors import ConfigError


def spreads(levels: list[Any]) -> dict[str, float]:
    return {level.level_id: level.spread for level in levels}


def test_positive_skew_tightens_sells_and_widens_buys(controller: Any) -> None:
    skew = controller(
        "pmm_skew", skew_factor=0.2, buy_spreads="0.01,0.02", sell_spreads="0.01,0.02"
    )
    assert spreads(skew.levels()) == pytest.approx(
        {"buy_0": 0.012, "buy_1": 0.024, "sell_0": 0.008, "sell_1": 0.016}
    )


def test_negative_skew_does_the_reverse(controller: Any) -> None:
    skew = controller("pmm_skew", skew_factor="-0.5", buy_spreads="0.01", sell_spreads="0.01")
    assert spreads(skew.levels()) == pytest.approx({"buy_0": 0.005, "sell_0": 0.015})


def test_zero_skew_is_pmm_simple(controller: Any) -> None:
    fields = {"buy_spreads": "0.01,0.03", "sell_spreads": "0.02", "buy_amounts_pct": "1,2"}
    assert controller("pmm_skew", **fields).levels() == controller("pmm_simple", **fields).levels()


def test_skew_keeps_sides_and_amounts(controller: Any) -> None:
    levels = controller("pmm_skew", skew_factor=0.3, total_amount_quote=100).levels()
    assert [lv.side for lv in levels] == [TradeType.BUY] * 2 + [TradeType.SELL] * 2
    assert [lv.amount_quote for lv in levels] == [25.0] * 4


@pytest.mark.parametrize("skew", [1, -1, 1.5, "x"])
def test_skew_out_of_range(controller: Any, skew: Any) -> None:
    with pytest.raises(ConfigError, match="skew_factor"):
        controller("pmm_skew", skew_factor=skew)
