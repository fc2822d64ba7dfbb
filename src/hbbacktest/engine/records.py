"""Executor record layout: the kernels write rows of a float64 matrix, Python reads them typed.

Column indices are module constants so the numba kernels and the Python side share one schema.
Rows and prices are stored as floats inside the kernels (one matrix, one growth path); they are
converted to the typed :data:`EXECUTOR_DTYPE` once, at the boundary.
"""

from __future__ import annotations

import numpy as np

LEVEL = 0  # index into the controller's level list
SIDE = 1  # TradeType code (1 buy, 2 sell)
CREATED_ROW = 2  # bar at whose close the executor was created
FILL_ROW = 3  # bar of the entry fill, -1 when never filled
CLOSE_ROW = 4  # bar at which the executor ended
CLOSE_TYPE = 5  # CloseType code
ENTRY_PRICE = 6  # the order's (limit) price
AMOUNT_BASE = 7  # order amount in base currency
FILL_PRICE = 8  # price the entry filled at (NaN when unfilled)
EXIT_PRICE = 9  # price the position closed at (NaN when unfilled)
NET_PNL_PCT = 10
NET_PNL_QUOTE = 11
CUM_FEES_QUOTE = 12
FILLED_AMOUNT_QUOTE = 13
KIND = 14  # executor type code (KIND_* below)
HOLD_BASE = 15  # base amount handed to a position hold at the close (0 when none)
HOLD_PRICE = 16  # average entry price of that amount (NaN when none)
N_FIELDS = 17

# Executor types (the ``type`` of Hummingbot's executor configs).
KIND_POSITION = 0
KIND_DCA = 1
KIND_GRID = 2
KIND_ORDER = 3
KIND_NAMES = ("position_executor", "dca_executor", "grid_executor", "order_executor")

EXECUTOR_DTYPE = np.dtype(
    [
        ("level", np.int32),
        ("side", np.int8),
        ("created_row", np.int64),
        ("fill_row", np.int64),
        ("close_row", np.int64),
        ("close_type", np.int8),
        ("entry_price", np.float64),
        ("amount_base", np.float64),
        ("fill_price", np.float64),
        ("exit_price", np.float64),
        ("net_pnl_pct", np.float64),
        ("net_pnl_quote", np.float64),
        ("cum_fees_quote", np.float64),
        ("filled_amount_quote", np.float64),
        ("kind", np.int8),
        ("hold_base", np.float64),
        ("hold_price", np.float64),
    ]
)

# CloseType and TradeType codes as floats, for the kernels (numba cannot read IntEnums; the
# values are core.enums' codes, checked by tests/unit/engine/test_records.py).
TIME_LIMIT = 1.0
STOP_LOSS = 2.0
TAKE_PROFIT = 3.0
EXPIRED = 4.0
EARLY_STOP = 5.0
TRAILING_STOP = 6.0
POSITION_HOLD = 10.0
BUY = 1.0
FILL_HUMMINGBOT = 0.0

# Engine parameter vector (floats; NaN = not set), shared by the kernels.
P_FEE = 0
P_TAKE_PROFIT = 1
P_STOP_LOSS = 2
P_TRAIL_ACTIVATION = 3
P_TRAIL_DELTA = 4
P_TIME_LIMIT_S = 5
P_REFRESH_S = 6
P_COOLDOWN_S = 7
P_TP_IS_LIMIT = 8
P_OPEN_IS_LIMIT = 9
P_FILL_MODEL = 10
N_PARAMS = 11


def to_records(matrix: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Convert the kernels' float matrix to a typed structured array, rows taken in ``order``.

    Column by column, so a year of executors needs one column of scratch, not a second copy.
    """
    out = np.empty(matrix.shape[0], dtype=EXECUTOR_DTYPE)
    for index, name in enumerate(EXECUTOR_DTYPE.names or ()):
        column = matrix[:, index]
        out[name] = column if order is None else column[order]
    return out
