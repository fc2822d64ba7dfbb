"""Numba kernels of the grid executor and of the ``grid_strike`` controller's loop.

Same conventions as ``nb.py``: rows index ``ts, o, h, l, c``; a decision "at row k" happens at
the close of bar k; ``params`` is the ``P_*`` vector of ``records.py`` (NaN = not set); arrays
and scalars only, no raising. The slow reference is ``tests/unit/engine/reference_grid.py``.

A grid executor spreads ``n`` limit orders ("levels") of one side over ``[start_price,
end_price]``. Each filled level waits for its own take profit, ``price * (1 ± take_profit)``;
once that fills, the level is free to enter again. The whole grid ends on a global take profit
(the close leaves the range on the favourable side), on the limit price (the close crosses it on
the losing side), on a stop loss on its aggregate PnL, on its time limit, or when the controller
stops it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hbbacktest.engine.nb import _grow_nb, window_end_nb
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
    FILL_HUMMINGBOT,
    FILL_PRICE,
    FILL_ROW,
    FILLED_AMOUNT_QUOTE,
    HOLD_BASE,
    HOLD_PRICE,
    KIND,
    KIND_GRID,
    LEVEL,
    N_FIELDS,
    NET_PNL_PCT,
    NET_PNL_QUOTE,
    P_FEE,
    P_FILL_MODEL,
    P_STOP_LOSS,
    P_TIME_LIMIT_S,
    POSITION_HOLD,
    SIDE,
    STOP_LOSS,
    TAKE_PROFIT,
    TIME_LIMIT,
)

UPSTREAM_MIN_NOTIONAL = 5.0  # upstream's floor on a level's notional when it has no trading rules
MIN_NOTIONAL_MARGIN = 1.05  # upstream adds 5 % to the minimum notional
WHOLE_TOLERANCE = 1e-9  # see _floor_ratio_nb


@njit(cache=True)
def _floor_ratio_nb(a: float, b: float) -> int:
    """``int(a / b)`` for ``a, b > 0`` as upstream computes it in ``Decimal``.

    In binary floats a ratio that is whole in decimal (``0.3 / 0.1``) can land just below the
    integer and be floored one short; a ratio within ``WHOLE_TOLERANCE`` of the next integer is
    taken as that integer.
    """
    ratio = a / b
    whole = np.floor(ratio)
    if ratio - whole >= 1.0 - WHOLE_TOLERANCE:
        whole += 1.0
    return int(whole)


@njit(cache=True)
def grid_levels_nb(
    start_price: float,
    end_price: float,
    total_amount_quote: float,
    min_spread_between_orders: float,
    min_order_amount_quote: float,
    mid_price: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Level prices and quote amounts of a grid, as upstream's ``_generate_grid_levels``.

    Without exchange trading rules (the backtest has none), as upstream's simulator does then:
    the minimum level notional is ``max(min_order_amount_quote, 5) * 1.05``; the number of levels
    is the smaller of ``total / min_notional`` and ``range / min_spread_between_orders`` (range =
    ``(end - start) / start``; no step limit when the spread is 0 or NaN), each level gets
    ``total / n`` quote (at least the minimum notional), ``n`` is then cut to ``int(total /
    amount)`` in floats (as upstream, so 11 levels of 100 quote become 10), and the prices are
    spaced evenly from ``start`` to ``end`` (one level at the middle of the range when n = 1).
    When the total cannot fund one minimum level, there is one level of the minimum notional.

    Fixed here: when the range is narrower than ``min_spread_between_orders`` upstream divides
    by zero levels and raises ``DivisionByZero``; we return one level, at the middle of the
    range, with the whole amount (what upstream's ``n = max(1, n)`` is there for).

    Without trading rules the mid price cancels out of every formula (upstream divides by it
    and multiplies back); it is checked only so that a non-positive or NaN mid, or a
    non-positive start or end price, yields no levels (empty arrays) instead of a division by
    zero. A NaN ``min_order_amount_quote`` counts as unset (the minimum is then 5 quote).

    Returns:
        ``(prices, amount_quote)``, both float64 arrays of the same length.
    """
    empty = np.empty(0)
    if not (mid_price > 0.0 and start_price > 0.0 and end_price > 0.0):
        return empty, empty.copy()
    if not (np.isfinite(mid_price) and np.isfinite(start_price) and np.isfinite(end_price)):
        return empty, empty.copy()
    min_notional = UPSTREAM_MIN_NOTIONAL
    if min_order_amount_quote > min_notional:
        min_notional = min_order_amount_quote
    min_quote = min_notional * MIN_NOTIONAL_MARGIN
    grid_range = (end_price - start_price) / start_price
    total = total_amount_quote
    max_possible = _floor_ratio_nb(total, min_quote) if total > 0.0 else 0
    if max_possible == 0:
        n = 1
        amount = min_quote
    else:
        if min_spread_between_orders > 0.0:
            max_by_step = _floor_ratio_nb(grid_range, min_spread_between_orders)
            if grid_range <= 0.0:
                max_by_step = 0
        else:
            max_by_step = max_possible
        n = min(max_possible, max_by_step)
        if n < 1:
            n = 1  # the fix: upstream divides by zero here
        amount = total / n
        if amount < min_quote:
            amount = min_quote
        n = min(n, int(total / amount))
    n = max(1, n)
    prices = np.empty(n)
    if n > 1:
        for i in range(n):
            prices[i] = start_price + (end_price - start_price) * i / (n - 1)
    else:
        prices[0] = (start_price + end_price) / 2.0
    return prices, np.full(n, amount)


@njit(cache=True)
def grid_executor_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    side: float,
    start_price: float,
    end_price: float,
    limit_price: float,
    level_prices: np.ndarray,
    level_amount_quote: np.ndarray,
    take_profit: float,
    keep_position: bool,
    params: np.ndarray,
    rec: np.ndarray,
) -> None:
    """One grid executor created at the close of bar ``k``; writes every field of ``rec`` but LEVEL.

    Per bar ``t`` from ``k`` to the last row of its window, everything decided on the close
    except the level orders (``sgn`` = +1 BUY, -1 SELL; level ``i`` has price ``P_i``, quote
    ``q_i`` and take-profit price ``T_i = P_i * (1 + sgn * take_profit)``; a level filled at
    ``e`` holds ``q_i / e`` base):

    1. global take profit: a BUY grid whose close is above ``end_price`` (SELL: below
       ``start_price``) ends as TAKE_PROFIT;
    2. otherwise the limit price (set when > 0): a BUY close at or below it (SELL: at or above)
       ends the grid as STOP_LOSS, or POSITION_HOLD when ``keep_position``;
    3. level take profits: a level filled on an earlier bar whose ``T_i`` the bar's high (BUY) /
       low (SELL) reaches realizes its round trip at ``T_i`` and is free again (none when
       ``take_profit`` is NaN);
    4. entries, unless step 1 or 2 ended the grid: a free level the bar's low (BUY) / high (SELL)
       reaches fills at ``P_i``; it cannot take profit on its fill bar;
    5. global stop loss (``params[P_STOP_LOSS]``): when the grid's net PnL (realized round trips
       plus the open levels marked at the close) divided by its entry volume (``q`` per entry
       fill) is at or below ``-stop_loss``, it ends as STOP_LOSS -- **overriding** a take profit
       or limit-price close of the same bar, as upstream's simulator does and as the live
       executor, which checks the stop loss before every other barrier. On a limit-price bar
       with ``keep_position`` the whole book is checked (upstream checks the realized part
       only, as if the held levels were already gone);
    6. a grid still open on the row ``stop_row`` (the controller stops it; ``len(ts)`` = never)
       ends there as EARLY_STOP when that row comes before the end of the time-limit window
       (``params[P_TIME_LIMIT_S]`` from creation, else the last row), else as TIME_LIMIT on the
       window's last row. The executor's own barriers on that row come first.

    Open levels are closed at the close of the last row, except on POSITION_HOLD, where they are
    handed to a position hold. Fill model ``params[P_FILL_MODEL]`` 0 (``hummingbot``) follows
    upstream's grid simulator in all of the above, apart from the fixes listed below. Model 1 (``touch``) differs: entries come
    first on every bar after ``k`` and also fill on a bar that ends the grid (the market went
    through those prices); level take profits are skipped on a bar the limit price ends (the
    adverse move is assumed to come first); a level that took profit on bar ``t`` re-enters on
    ``t`` only when the close is at or beyond ``P_i`` (the close is the only price known to come
    after the take profit), then at ``P_i``; fees and volume are on actual notionals.

    Accounting (``fee = params[P_FEE]`` per side), per round trip, per level closed at the
    close ``x``, and per held level:

    * hummingbot (upstream's): PnL ``sgn (T_i - e) b - 2 fee q`` / ``sgn (x - e) b - 2 fee q``,
      volume ``2 q`` for both;
    * touch (actual notionals): PnL ``sgn (T_i - e) b - fee (q + b T_i)`` / ``sgn (x - e) b -
      fee (q + b x)``, volume ``q + b T_i`` / ``q + b x``;
    * held level, both models: PnL ``sgn (x - e) b - fee q``, volume ``q`` (entry only).

    NET_PNL_QUOTE and CUM_FEES_QUOTE sum these; FILLED_AMOUNT_QUOTE is the entry plus exit volume
    (upstream's doubling, in the hummingbot model); NET_PNL_PCT = NET_PNL_QUOTE / entry volume.
    As in every record, NET_PNL_QUOTE marks what is open at EXIT_PRICE; on POSITION_HOLD the
    hold takes the open levels over at HOLD_PRICE, so the part the executor realized is
    ``NET_PNL_QUOTE - sgn (EXIT_PRICE - HOLD_PRICE) HOLD_BASE`` (round trips minus fees).

    Upstream defects fixed here:

    a. **Levels on the wrong side of the market.** Upstream fills, on the creation bar, every BUY
       level above the market at its own, higher price (SELL: below, lower), and also the levels
       the creation bar's low/high reached before the executor existed. The live executor
       re-prices a level on the wrong side of the market to the best bid/ask (less
       ``safe_extra_spread``): an order at the market. Here, at the close of bar ``k``, a BUY
       level at or above ``c[k]`` (SELL: at or below) fills at ``c[k]``; the others rest from
       bar ``k + 1``. Its take-profit price stays ``T_i``, from the level price, as live.
    b. **POSITION_HOLD.** Upstream reports twice the realized volume as the held amount and
       drops the open levels' fees. Here the open levels are written to HOLD_BASE (their base
       amount) and HOLD_PRICE (their cost basis: quote spent / base bought), their entry fees
       are charged, their entry volume counts once, and the round trips stay in NET_PNL_QUOTE.
       With nothing open to hold the close type is EARLY_STOP, as the live executor reports it.
    c. **No division by zero.** Non-positive entry prices or amounts never fill; ratios are
       taken only over positive denominators.

    Record: ENTRY_PRICE is ``c[k]`` (the mid at creation), AMOUNT_BASE ``sum(q) / c[k]`` (the
    grid's committed quote in base), FILL_ROW the first entry fill (-1 if none), FILL_PRICE the
    cost basis of the levels open at the close (NaN if none), EXIT_PRICE ``c[close_row]``.
    """
    n_levels = level_prices.shape[0]
    fee = params[P_FEE]
    if np.isnan(fee):
        fee = 0.0
    touch = params[P_FILL_MODEL] != FILL_HUMMINGBOT
    stop_loss = params[P_STOP_LOSS]
    has_sl = stop_loss > 0.0
    has_limit = limit_price > 0.0
    has_tp = not np.isnan(take_profit)
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    w_end = window_end_nb(ts, k, params[P_TIME_LIMIT_S])
    last = w_end
    close_type = TIME_LIMIT
    if stop_row < w_end:
        last = max(stop_row, k)
        close_type = EARLY_STOP

    tp_price = np.empty(n_levels)
    for i in range(n_levels):
        tp_price[i] = level_prices[i] * (1.0 + sgn * take_profit) if has_tp else np.nan
    active = np.zeros(n_levels, dtype=np.bool_)
    freed = np.zeros(n_levels, dtype=np.bool_)
    entry = np.zeros(n_levels)
    base = np.zeros(n_levels)
    fill_row = np.full(n_levels, -1, dtype=np.int64)
    realized_pnl = 0.0
    realized_fees = 0.0
    realized_volume = 0.0
    realized_entry = 0.0  # quote of the entries of completed round trips
    first_fill = -1
    close_row = last

    for t in range(k, last + 1):
        x = c[t]
        # touch: the market went through these prices during the bar, whatever ends it
        if touch and t > k:
            for i in range(n_levels):
                price = level_prices[i]
                q = level_amount_quote[i]
                if active[i] or not (price > 0.0 and q > 0.0):
                    continue
                if (is_buy and l[t] <= price) or ((not is_buy) and h[t] >= price):
                    active[i] = True
                    entry[i] = price
                    base[i] = q / price
                    fill_row[i] = t
                    if first_fill < 0:
                        first_fill = t
        ending = 0.0
        if (is_buy and x > end_price) or ((not is_buy) and x < start_price):
            ending = TAKE_PROFIT
        elif has_limit and ((is_buy and x <= limit_price) or ((not is_buy) and x >= limit_price)):
            ending = POSITION_HOLD if keep_position else STOP_LOSS
        limit_hit = ending == POSITION_HOLD or ending == STOP_LOSS
        for i in range(n_levels):
            freed[i] = False
        if has_tp and t > k and not (touch and limit_hit):
            for i in range(n_levels):
                if not active[i] or fill_row[i] >= t:
                    continue
                target = tp_price[i]
                if (is_buy and h[t] >= target) or ((not is_buy) and l[t] <= target):
                    q = level_amount_quote[i]
                    b = base[i]
                    if touch:
                        fees = fee * (q + b * target)
                        realized_volume += q + b * target
                    else:
                        fees = 2.0 * fee * q
                        realized_volume += 2.0 * q
                    realized_pnl += sgn * (target - entry[i]) * b - fees
                    realized_fees += fees
                    realized_entry += q
                    active[i] = False
                    freed[i] = True
        if ending == 0.0:
            for i in range(n_levels):
                price = level_prices[i]
                q = level_amount_quote[i]
                if active[i] or not (price > 0.0 and q > 0.0):
                    continue
                fill_at = np.nan
                if t == k:
                    if sgn * (price - x) >= 0.0 and x > 0.0:
                        fill_at = x  # the fix (a): an order through the market fills at it
                elif touch:
                    if freed[i] and sgn * (price - x) >= 0.0:
                        fill_at = price
                elif (is_buy and l[t] <= price) or ((not is_buy) and h[t] >= price):
                    fill_at = price
                if not np.isnan(fill_at):
                    active[i] = True
                    entry[i] = fill_at
                    base[i] = q / fill_at
                    fill_row[i] = t
                    if first_fill < 0:
                        first_fill = t
        if has_sl:
            pnl = realized_pnl
            volume = realized_entry
            for i in range(n_levels):
                if active[i]:
                    q = level_amount_quote[i]
                    b = base[i]
                    if touch:
                        pnl += sgn * (x - entry[i]) * b - fee * (q + b * x)
                    else:
                        pnl += sgn * (x - entry[i]) * b - 2.0 * fee * q
                    volume += q
            if volume > 0.0 and pnl / volume <= -stop_loss:
                ending = STOP_LOSS
        if ending != 0.0:
            close_row = t
            close_type = ending
            break

    x = c[close_row]
    held_base = 0.0
    held_quote = 0.0
    for i in range(n_levels):
        if active[i]:
            held_base += base[i]
            held_quote += level_amount_quote[i]
    if close_type == POSITION_HOLD and held_base <= 0.0:
        close_type = EARLY_STOP
    net = realized_pnl
    fees_total = realized_fees
    volume_total = realized_volume
    if close_type == POSITION_HOLD:
        for i in range(n_levels):
            if active[i]:
                net += sgn * (x - entry[i]) * base[i]
        net -= fee * held_quote
        fees_total += fee * held_quote
        volume_total += held_quote
        rec[HOLD_BASE] = held_base
        rec[HOLD_PRICE] = held_quote / held_base
    else:
        for i in range(n_levels):
            if active[i]:
                q = level_amount_quote[i]
                b = base[i]
                if touch:
                    fees = fee * (q + b * x)
                    volume_total += q + b * x
                else:
                    fees = 2.0 * fee * q
                    volume_total += 2.0 * q
                net += sgn * (x - entry[i]) * b - fees
                fees_total += fees
        rec[HOLD_BASE] = 0.0
        rec[HOLD_PRICE] = np.nan
    entry_volume = realized_entry + held_quote
    committed = 0.0
    for i in range(n_levels):
        if level_amount_quote[i] > 0.0:
            committed += level_amount_quote[i]
    rec[SIDE] = side
    rec[CREATED_ROW] = k
    rec[FILL_ROW] = first_fill
    rec[CLOSE_ROW] = close_row
    rec[CLOSE_TYPE] = close_type
    rec[ENTRY_PRICE] = c[k]
    rec[AMOUNT_BASE] = committed / c[k] if c[k] > 0.0 else 0.0
    rec[FILL_PRICE] = held_quote / held_base if held_base > 0.0 else np.nan
    rec[EXIT_PRICE] = x
    rec[NET_PNL_PCT] = net / entry_volume if entry_volume > 0.0 else 0.0
    rec[NET_PNL_QUOTE] = net
    rec[CUM_FEES_QUOTE] = fees_total
    rec[FILLED_AMOUNT_QUOTE] = volume_total
    rec[KIND] = KIND_GRID


@njit(cache=True)
def grid_strike_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    start_row: int,
    side: float,
    start_price: float,
    end_price: float,
    limit_price: float,
    total_amount_quote: float,
    min_spread_between_orders: float,
    min_order_amount_quote: float,
    take_profit: float,
    keep_position: bool,
    params: np.ndarray,
) -> np.ndarray:
    """Upstream ``grid_strike``'s loop: one grid executor at a time while the price is in range.

    At each row k >= ``start_row`` with no active grid and ``start_price <= c[k] <= end_price``,
    a grid executor is created with the levels of :func:`grid_levels_nb` at mid ``c[k]``. A grid
    is active at row k when it was created before k and closes after k, so the next one may
    start on the close row of the previous one (as ``market_making_nb`` frees a level on its
    close row). A grid still open at the end of data closes on the last row, so another one is
    created there and closes at once (TIME_LIMIT), as ``market_making_nb`` reports levels free on
    the last row. The controller never stops a grid (``stop_row = len(ts)``).

    Returns:
        A float matrix of executor records (``records.py`` columns); LEVEL is 0 for all.
    """
    n = ts.shape[0]
    out = np.empty((16, N_FIELDS))
    m = 0
    k = start_row
    while k < n:
        mid = c[k]
        if not (start_price <= mid <= end_price):
            k += 1
            continue
        prices, amounts = grid_levels_nb(
            start_price,
            end_price,
            total_amount_quote,
            min_spread_between_orders,
            min_order_amount_quote,
            mid,
        )
        if m == out.shape[0]:
            out = _grow_nb(out)
        rec = out[m]
        rec[LEVEL] = 0.0
        grid_executor_nb(
            ts,
            o,
            h,
            l,
            c,
            k,
            n,
            side,
            start_price,
            end_price,
            limit_price,
            prices,
            amounts,
            take_profit,
            keep_position,
            params,
            rec,
        )
        m += 1
        k = max(int(rec[CLOSE_ROW]), k + 1)
    return out[:m]
