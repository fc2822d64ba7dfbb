"""Numba kernel of the order executor: one order that, once filled, hands its amount to a hold.

Same conventions as ``nb.py``: rows index ``ts, o, h, l, c``; a decision "at row k" happens at
the close of bar k; ``params`` is the ``P_*`` vector of ``records.py``; no raising.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hbbacktest.engine.nb import _book_unfilled_nb
from hbbacktest.engine.records import (
    AMOUNT_BASE,
    BUY,
    CLOSE_ROW,
    CLOSE_TYPE,
    CREATED_ROW,
    CUM_FEES_QUOTE,
    EARLY_STOP,
    ENTRY_PRICE,
    EXIT_PRICE,
    EXPIRED,
    FILL_HUMMINGBOT,
    FILL_PRICE,
    FILL_ROW,
    FILLED_AMOUNT_QUOTE,
    HOLD_BASE,
    HOLD_PRICE,
    KIND,
    KIND_ORDER,
    NET_PNL_PCT,
    NET_PNL_QUOTE,
    P_FEE,
    P_FILL_MODEL,
    POSITION_HOLD,
    SIDE,
)

# Execution strategies (upstream's ExecutionStrategy); any other code (LIMIT_CHASER) is a market
# order, as upstream's simulator fills a chaser on its first bar.
STRATEGY_MARKET = 0
STRATEGY_LIMIT = 1
STRATEGY_LIMIT_MAKER = 2


@njit(cache=True)
def order_executor_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    side: float,
    price: float,
    amount_base: float,
    strategy: int,
    params: np.ndarray,
    rec: np.ndarray,
) -> None:
    """One order executor created at the close of bar ``k``; writes every field but LEVEL.

    Fill, by ``params[P_FILL_MODEL]``:

    * ``hummingbot`` (0), as upstream's order simulator: a market order fills at ``c[k]``. A
      LIMIT order fills on the first row from ``k`` on whose close is at or below ``price``
      (BUY; SELL: at or above), at that close. A LIMIT_MAKER order does the same against
      ``min(price, c[k])`` (BUY; SELL ``max``), so one placed through the market rests at it.
    * ``touch`` (1): a market order, or a limit / limit-maker order already marketable at
      ``c[k]`` (BUY ``price >= c[k]``, SELL ``<=``), fills at ``c[k]``; otherwise it rests from
      bar ``k + 1`` and fills at ``price`` on the first bar whose low (BUY) / high (SELL) reaches
      it.

    An order rests up to and including ``stop_row`` (the controller's stop; ``len(ts)`` = never)
    and has no time limit, as upstream slices orders to the end of the data. A limit order
    without a positive price never fills.

    Filled: close type POSITION_HOLD on the fill row; the whole amount goes to a position hold
    (HOLD_BASE = ``amount_base``, HOLD_PRICE = the fill price). No doubling of the volume:
    FILLED_AMOUNT_QUOTE = ``amount_base * fill``; one fee, CUM_FEES_QUOTE = ``fee * amount_base *
    fill``. EXIT_PRICE is the close of the fill row and NET_PNL_QUOTE, as in every record, marks
    the position there: ``sgn (EXIT_PRICE - fill) amount_base - fee``; the part the executor
    realizes, ``NET_PNL_QUOTE - sgn (EXIT_PRICE - HOLD_PRICE) HOLD_BASE``, is the fee alone
    (upstream writes 0 and leaves the fee out of net PnL). In the hummingbot model the fill is
    that close, so NET_PNL_QUOTE is minus the fee.

    Unfilled: EARLY_STOP on ``stop_row`` when ``stop_row < len(ts)``, else EXPIRED on the last
    row, with zero fill, PnL and fees.

    ENTRY_PRICE is ``price`` (``c[k]`` when a market order carries none).
    """
    n = ts.shape[0]
    fee = params[P_FEE]
    if np.isnan(fee):
        fee = 0.0
    touch = params[P_FILL_MODEL] != FILL_HUMMINGBOT
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    is_limit = strategy == STRATEGY_LIMIT or strategy == STRATEGY_LIMIT_MAKER
    last = n - 1
    if stop_row < n:
        last = max(stop_row, k)
    fill = -1
    pf = np.nan
    if not is_limit:
        fill = k
        pf = c[k]
    elif price > 0.0:
        if touch:
            if sgn * (price - c[k]) >= 0.0:
                fill = k
                pf = c[k]
            else:
                for t in range(k + 1, last + 1):
                    if (is_buy and l[t] <= price) or ((not is_buy) and h[t] >= price):
                        fill = t
                        pf = price
                        break
        else:
            target = price
            if strategy == STRATEGY_LIMIT_MAKER:
                target = min(price, c[k]) if is_buy else max(price, c[k])
            for t in range(k, last + 1):
                if (is_buy and c[t] <= target) or ((not is_buy) and c[t] >= target):
                    fill = t
                    pf = c[t]
                    break
    rec[SIDE] = side
    rec[CREATED_ROW] = k
    rec[ENTRY_PRICE] = price if price > 0.0 else c[k]
    rec[AMOUNT_BASE] = amount_base
    rec[KIND] = KIND_ORDER
    if fill < 0:
        if stop_row < n:
            _book_unfilled_nb(rec, last, EARLY_STOP)
        else:
            _book_unfilled_nb(rec, last, EXPIRED)
        rec[HOLD_BASE] = 0.0
        rec[HOLD_PRICE] = np.nan
        return
    notional = amount_base * pf
    net = sgn * (c[fill] - pf) * amount_base - fee * notional
    rec[FILL_ROW] = fill
    rec[CLOSE_ROW] = fill
    rec[CLOSE_TYPE] = POSITION_HOLD
    rec[FILL_PRICE] = pf
    rec[EXIT_PRICE] = c[fill]
    rec[NET_PNL_PCT] = net / notional if notional != 0.0 else 0.0
    rec[NET_PNL_QUOTE] = net
    rec[CUM_FEES_QUOTE] = fee * notional
    rec[FILLED_AMOUNT_QUOTE] = notional
    rec[HOLD_BASE] = amount_base
    rec[HOLD_PRICE] = pf
