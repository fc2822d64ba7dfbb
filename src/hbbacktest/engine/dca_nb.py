"""The DCA executor: several entry levels, exits on the position's average entry.

Hummingbot's ``DCAExecutorConfig``: ``prices[i]`` and ``amounts_quote[i]`` per level (in order of
distance from the market), ``take_profit``, ``stop_loss``, ``trailing_stop`` and ``time_limit``
(from creation), MAKER (limit) or TAKER (market) entries. Conventions as in ``engine/nb.py``:
rows index the bar arrays, "at row k" means at the close of bar k, kernels never raise.

``stop_row`` / ``stop_mode`` say how the controller ends the executor early:

* ``STOP_IF_UNFILLED`` (a market maker's refresh): at ``stop_row``, only if no level has filled.
* ``STOP_ALWAYS`` (a stop action): at ``stop_row`` whatever the state; a position is closed at
  that bar's close (``EARLY_STOP``).
* ``STOP_KEEP_POSITION`` (a stop action with ``keep_position``): at ``stop_row``; a position is
  handed to a position hold (``POSITION_HOLD``, ``hold_base``/``hold_price`` set, only the entry
  fees charged) instead of being closed.

Pass ``stop_row = len(ts)`` for "never".
"""

from __future__ import annotations

import numpy as np
from numba import njit

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
    KIND_DCA,
    NET_PNL_PCT,
    NET_PNL_QUOTE,
    P_FEE,
    P_FILL_MODEL,
    P_OPEN_IS_LIMIT,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TIME_LIMIT_S,
    P_TRAIL_ACTIVATION,
    P_TRAIL_DELTA,
    POSITION_HOLD,
    SIDE,
    STOP_LOSS,
    TAKE_PROFIT,
    TIME_LIMIT,
    TRAILING_STOP,
)
from hbbacktest.engine.rows_nb import window_end_nb

STOP_IF_UNFILLED = 0
STOP_ALWAYS = 1
STOP_KEEP_POSITION = 2


@njit(cache=True)
def _crossed_nb(is_buy: bool, price: float, level: float) -> bool:
    return price <= level if is_buy else price >= level


@njit(cache=True)
def dca_hummingbot_nb(
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    stop_mode: int,
    w_end: int,
    side: float,
    prices: np.ndarray,
    amounts_quote: np.ndarray,
    params: np.ndarray,
    fills: np.ndarray,
) -> tuple[int, float, int]:
    """Walk a DCA executor bar by bar as Hummingbot's ``DCAExecutorSimulator`` intends.

    Entries: level i fills at the close of the first bar from k on (k included) whose close
    crosses ``prices[i]`` (several levels may fill on one bar); TAKER entries use the same
    trigger (upstream cannot simulate TAKER at all). Exits, while levels ``0..i`` are filled,
    measured against the **target** average ``BE_i`` (the quote-weighted mean of the level
    prices, upstream's choice): take profit when the close reaches ``BE_i * (1 ± take_profit)``;
    stop loss — only once every level has filled, as the live MAKER executor — when the bar's
    low/high reaches ``BE * (1 ∓ stop_loss)``, from the bar after the last fill; trailing stop
    (price-based, restarted at each new level) once the close reaches
    ``BE_i * (1 ± activation)``, when the close falls back to the running best close
    ``× (1 ∓ delta)``. A bar's exits are checked before its new fills; ties go take profit >
    stop loss > trailing stop. Unlike upstream, every filled level is booked from its own fill
    (upstream books from a leftover loop variable: nothing at all when any level stays unfilled).

    Returns:
        ``(close_row, close_type, n_filled)``; ``fills[i]`` holds the fill row of level i.
    """
    n_levels = prices.shape[0]
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    tp = params[P_TAKE_PROFIT]
    sl = params[P_STOP_LOSS]
    act = params[P_TRAIL_ACTIVATION]
    delta = params[P_TRAIL_DELTA]
    has_tp = not np.isnan(tp) and tp > 0.0
    has_sl = not np.isnan(sl) and sl > 0.0
    has_ts = not (np.isnan(act) or np.isnan(delta))
    filled = 0
    weighted = 0.0  # Σ amount_quote * price over filled levels
    total = 0.0  # Σ amount_quote over filled levels
    be = np.nan
    activated = False
    trigger = 0.0
    last = min(w_end, stop_row) if stop_mode != STOP_IF_UNFILLED else w_end
    for t in range(k, last + 1):
        if stop_mode == STOP_IF_UNFILLED and filled == 0 and t > stop_row:
            return stop_row, EARLY_STOP, 0
        close = c[t]
        if filled > 0 and total > 0.0:
            if has_tp and sgn * (close - be * (1.0 + sgn * tp)) >= 0.0:
                return t, TAKE_PROFIT, filled
            if (
                has_sl
                and filled == n_levels
                and t > fills[n_levels - 1]
                and _crossed_nb(is_buy, l[t] if is_buy else h[t], be * (1.0 - sgn * sl))
            ):
                return t, STOP_LOSS, filled
            if has_ts:
                if not activated and sgn * (close - be * (1.0 + sgn * act)) >= 0.0:
                    activated = True
                    trigger = close * (1.0 - sgn * delta)
                elif activated:
                    candidate = close * (1.0 - sgn * delta)
                    trigger = max(trigger, candidate) if is_buy else min(trigger, candidate)
                    if sgn * (close - trigger) <= 0.0:
                        return t, TRAILING_STOP, filled
        new_fill = False
        while filled < n_levels:
            level = prices[filled]
            if not _crossed_nb(is_buy, close, level):
                break
            fills[filled] = t
            weighted += amounts_quote[filled] * level
            total += amounts_quote[filled]
            filled += 1
            new_fill = True
        if new_fill and total > 0.0:
            be = weighted / total
            activated = False
            trigger = 0.0
    if filled == 0 and stop_mode == STOP_IF_UNFILLED and stop_row < w_end:
        return stop_row, EARLY_STOP, 0
    if last < w_end:
        return last, POSITION_HOLD if stop_mode == STOP_KEEP_POSITION else EARLY_STOP, filled
    return w_end, TIME_LIMIT, filled


@njit(cache=True)
def dca_touch_nb(
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    stop_mode: int,
    w_end: int,
    side: float,
    prices: np.ndarray,
    amounts_base: np.ndarray,
    params: np.ndarray,
    fills: np.ndarray,
    fill_prices: np.ndarray,
) -> tuple[int, float, int, float]:
    """Walk a DCA executor bar by bar with realistic fills.

    Entries: MAKER levels are limit orders resting from bar k+1 that fill at their price when
    the bar's low (buy) / high (sell) reaches it, or at ``c[k]`` when already marketable at
    creation; TAKER levels are market orders filled at the close of the first bar whose close
    reaches the level. Exits against the **actual** average fill price ``avg``, each at its
    price: stop loss at ``avg * (1 ∓ stop_loss)`` once every level has filled; trailing stop at
    ``avg * (1 ± (best − delta))`` once the best favourable return since the last fill reached
    ``activation``; take profit at ``avg * (1 ± take_profit)``. A bar that opens beyond a stop
    fills at the open. Per bar: exits at the open, then new fills, then (no new fill) stop loss,
    trailing stop, take profit at the bar's extremes; on a bar with a new fill only the stop loss
    is checked (the order of prices inside a bar is unknown, so we assume the worst).

    Returns:
        ``(close_row, close_type, n_filled, exit_price)``; ``fills``/``fill_prices`` per level.
    """
    n_levels = prices.shape[0]
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    tp = params[P_TAKE_PROFIT]
    sl = params[P_STOP_LOSS]
    act = params[P_TRAIL_ACTIVATION]
    delta = params[P_TRAIL_DELTA]
    has_tp = not np.isnan(tp) and tp > 0.0
    has_sl = not np.isnan(sl) and sl > 0.0
    has_ts = not (np.isnan(act) or np.isnan(delta))
    taker = params[P_OPEN_IS_LIMIT] == 0.0
    filled = 0
    base = 0.0
    cost = 0.0
    avg = np.nan
    best = 0.0
    activated = False
    last = min(w_end, stop_row) if stop_mode != STOP_IF_UNFILLED else w_end
    # Levels already marketable at the creation close fill there (MAKER) — as would a TAKER
    # level whose trigger is already met.
    while filled < n_levels and _crossed_nb(is_buy, c[k], prices[filled]):
        fills[filled] = k
        fill_prices[filled] = c[k]
        base += amounts_base[filled]
        cost += amounts_base[filled] * c[k]
        filled += 1
    if base > 0.0:
        avg = cost / base
    for t in range(k + 1, last + 1):
        if stop_mode == STOP_IF_UNFILLED and filled == 0 and t > stop_row:
            return stop_row, EARLY_STOP, 0, np.nan
        opened = o[t]
        sl_price = avg * (1.0 - sgn * sl) if (has_sl and filled == n_levels) else np.nan
        trail_price = avg * (1.0 + sgn * (best - delta)) if (has_ts and activated) else np.nan
        tp_price = avg * (1.0 + sgn * tp) if has_tp else np.nan
        if base > 0.0:
            if sl_price == sl_price and sgn * (opened - sl_price) <= 0.0:
                return t, STOP_LOSS, filled, opened
            if trail_price == trail_price and sgn * (opened - trail_price) <= 0.0:
                return t, TRAILING_STOP, filled, opened
            if tp_price == tp_price and sgn * (opened - tp_price) >= 0.0:
                return t, TAKE_PROFIT, filled, tp_price
        adverse = l[t] if is_buy else h[t]
        favourable = h[t] if is_buy else l[t]
        new_fill = False
        while filled < n_levels:
            level = prices[filled]
            if taker:
                if not _crossed_nb(is_buy, c[t], level):
                    break
                price = c[t]
            else:
                if not _crossed_nb(is_buy, adverse, level):
                    break
                price = min(level, opened) if is_buy else max(level, opened)
            fills[filled] = t
            fill_prices[filled] = price
            base += amounts_base[filled]
            cost += amounts_base[filled] * price
            filled += 1
            new_fill = True
        if base <= 0.0:  # nothing filled yet, or only zero-size levels: no position to exit
            continue
        if new_fill:
            avg = cost / base
            best = 0.0
            activated = False
            if has_sl and filled == n_levels:
                sl_price = avg * (1.0 - sgn * sl)
                if sgn * (adverse - sl_price) <= 0.0:
                    return t, STOP_LOSS, filled, sl_price
            continue
        if sl_price == sl_price and sgn * (adverse - sl_price) <= 0.0:
            return t, STOP_LOSS, filled, sl_price
        if trail_price == trail_price and sgn * (adverse - trail_price) <= 0.0:
            return t, TRAILING_STOP, filled, trail_price
        if tp_price == tp_price and sgn * (favourable - tp_price) >= 0.0:
            return t, TAKE_PROFIT, filled, tp_price
        best = max(best, sgn * (favourable / avg - 1.0))
        if has_ts and best >= act:
            activated = True
    if filled == 0 and stop_mode == STOP_IF_UNFILLED and stop_row < w_end:
        return stop_row, EARLY_STOP, 0, np.nan
    if last < w_end:
        kind = POSITION_HOLD if stop_mode == STOP_KEEP_POSITION else EARLY_STOP
        return last, kind, filled, c[last]
    return w_end, TIME_LIMIT, filled, c[w_end]


@njit(cache=True)
def simulate_dca_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    stop_mode: int,
    side: float,
    prices: np.ndarray,
    amounts_quote: np.ndarray,
    params: np.ndarray,
    rec: np.ndarray,
) -> None:
    """One DCA executor created at row ``k``, with the run's fill model, written to ``rec``.

    Accounting, ``hummingbot`` model (upstream's): level i holds ``amounts_quote[i]`` of quote
    bought at the close ``f_i`` of its fill bar; net PnL = Σ ``amounts_quote[i] * (side *
    (exit / f_i − 1) − 2 * fee)`` with ``exit`` the close of the closing bar;
    ``filled_amount_quote`` = 2 × Σ filled ``amounts_quote`` on a natural close (entry + exit),
    once on an early stop. ``touch`` model: level i buys ``amounts_quote[i] / prices[i]`` base at
    its fill price; fees ``fee`` on entry and exit notional. ``fill_price`` is the average fill
    price (by base), ``entry_price`` the first level's price, ``amount_base`` the executor's full
    base amount. ``net_pnl_pct`` = net PnL / filled entry notional.
    """
    # A level priced at or below 0 (or NaN) can never be placed; neither can those after it.
    n_levels = 0
    while n_levels < prices.shape[0] and prices[n_levels] > 0.0 and np.isfinite(prices[n_levels]):
        n_levels += 1
    prices = prices[:n_levels]
    amounts_quote = amounts_quote[:n_levels]
    n = ts.shape[0]
    w_end = window_end_nb(ts, k, params[P_TIME_LIMIT_S])
    stop = min(stop_row, n - 1) if stop_row < n else n
    fee = params[P_FEE]
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    fills = np.full(n_levels, -1, dtype=np.int64)
    fill_prices = np.full(n_levels, np.nan)
    amounts_base = np.empty(n_levels)
    full_base = 0.0
    for i in range(n_levels):
        amounts_base[i] = amounts_quote[i] / prices[i]
        full_base += amounts_base[i]
    rec[SIDE] = side
    rec[CREATED_ROW] = k
    rec[ENTRY_PRICE] = prices[0] if n_levels > 0 else np.nan
    rec[AMOUNT_BASE] = full_base
    rec[KIND] = KIND_DCA
    rec[HOLD_BASE] = 0.0
    rec[HOLD_PRICE] = np.nan
    if n_levels == 0:
        close_row = stop if stop < w_end else w_end
        close_type = EARLY_STOP if stop < w_end else TIME_LIMIT
        filled = 0
        exit_price = np.nan
    elif params[P_FILL_MODEL] == FILL_HUMMINGBOT:
        close_row, close_type, filled = dca_hummingbot_nb(
            h, l, c, k, stop, stop_mode, w_end, side, prices, amounts_quote, params, fills
        )
        exit_price = c[close_row]
        for i in range(filled):
            fill_prices[i] = c[fills[i]]
    else:
        close_row, close_type, filled, exit_price = dca_touch_nb(
            o, h, l, c, k, stop, stop_mode, w_end, side, prices, amounts_base, params,
            fills, fill_prices,
        )  # fmt: skip
    rec[CLOSE_ROW] = close_row
    rec[CLOSE_TYPE] = close_type
    filled_quote = 0.0
    for i in range(filled):
        filled_quote += max(amounts_quote[i], 0.0)
    if filled == 0 or not filled_quote > 0.0:  # only zero-size levels filled: no position
        rec[FILL_ROW] = -1.0
        rec[FILL_PRICE] = np.nan
        rec[EXIT_PRICE] = np.nan
        rec[NET_PNL_PCT] = 0.0
        rec[NET_PNL_QUOTE] = 0.0
        rec[CUM_FEES_QUOTE] = 0.0
        rec[FILLED_AMOUNT_QUOTE] = 0.0
        return
    base = 0.0
    entry_quote = 0.0
    gross = 0.0
    for i in range(filled):
        if params[P_FILL_MODEL] == FILL_HUMMINGBOT:
            b = amounts_quote[i] / fill_prices[i]
        else:
            b = amounts_base[i]
        base += b
        entry_quote += b * fill_prices[i]
        gross += sgn * b * (exit_price - fill_prices[i])
    exit_quote = base * exit_price
    hold = close_type == POSITION_HOLD
    if params[P_FILL_MODEL] == FILL_HUMMINGBOT:
        fees = fee * entry_quote if hold else 2.0 * fee * entry_quote
        volume = entry_quote if (hold or close_type == EARLY_STOP) else 2.0 * entry_quote
    else:
        fees = fee * entry_quote if hold else fee * (entry_quote + exit_quote)
        volume = entry_quote if hold else entry_quote + exit_quote
    net = gross - fees
    rec[FILL_ROW] = fills[0]
    rec[FILL_PRICE] = entry_quote / base
    rec[EXIT_PRICE] = exit_price
    rec[NET_PNL_PCT] = net / entry_quote
    rec[NET_PNL_QUOTE] = net
    rec[CUM_FEES_QUOTE] = fees
    rec[FILLED_AMOUNT_QUOTE] = volume
    if hold:
        rec[HOLD_BASE] = base
        rec[HOLD_PRICE] = entry_quote / base
