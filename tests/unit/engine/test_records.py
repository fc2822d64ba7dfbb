"""The kernels' float codes are core.enums' codes."""

from hbbacktest.core.enums import CloseType, FillModel, TradeType
from hbbacktest.engine import records as R


def test_kernel_codes_match_the_enums() -> None:
    for close_type in ("TIME_LIMIT", "STOP_LOSS", "TAKE_PROFIT", "EXPIRED", "EARLY_STOP"):
        assert getattr(R, close_type) == float(CloseType[close_type])
    assert R.TRAILING_STOP == float(CloseType.TRAILING_STOP)
    assert R.POSITION_HOLD == float(CloseType.POSITION_HOLD)
    assert R.BUY == float(TradeType.BUY)
    assert R.FILL_HUMMINGBOT == float(FillModel.HUMMINGBOT)
    assert len(R.KIND_NAMES) == 4 and R.KIND_NAMES[R.KIND_DCA] == "dca_executor"
