"""Numba kernels of the engine. Only NumPy arrays and scalars in and out; no raising.

Conventions: rows index the bar arrays ``ts, o, h, l, c`` (open time, OHLC). A decision taken
"at row k" happens at the close of bar k. ``params`` is the vector described in
``records.py`` (``P_*``), NaN meaning "not set". Each kernel has a slow Python reference in
``tests/unit/engine/reference.py`` that the tests compare against.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from hbbacktest.engine.dca_nb import STOP_IF_UNFILLED, simulate_dca_nb
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
    KIND_ORDER,
    KIND_POSITION,
    LEVEL,
    N_FIELDS,
    NET_PNL_PCT,
    NET_PNL_QUOTE,
    P_COOLDOWN_S,
    P_FEE,
    P_FILL_MODEL,
    P_OPEN_IS_LIMIT,
    P_STOP_LOSS,
    P_TAKE_PROFIT,
    P_TIME_LIMIT_S,
    P_TP_IS_LIMIT,
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


@njit(cache=True)
def first_row_after_nb(ts: np.ndarray, k: int, seconds: float) -> int:
    """First row r > k with ``ts[r] - ts[k] > seconds`` (``len(ts)`` when none or NaN)."""
    n = ts.shape[0]
    if np.isnan(seconds):
        return n
    r = int(np.searchsorted(ts, ts[k] + seconds, side="right"))
    return max(r, k + 1)


@njit(cache=True)
def first_row_from_nb(ts: np.ndarray, k: int, seconds: float) -> int:
    """First row r >= k with ``ts[r] - ts[k] >= seconds`` (``len(ts)`` when none)."""
    return int(np.searchsorted(ts, ts[k] + seconds, side="left"))


@njit(cache=True)
def _book_unfilled_nb(rec: np.ndarray, close_row: int, close_type: float) -> None:
    rec[FILL_ROW] = -1.0
    rec[CLOSE_ROW] = close_row
    rec[CLOSE_TYPE] = close_type
    rec[FILL_PRICE] = np.nan
    rec[EXIT_PRICE] = np.nan
    rec[NET_PNL_PCT] = 0.0
    rec[NET_PNL_QUOTE] = 0.0
    rec[CUM_FEES_QUOTE] = 0.0
    rec[FILLED_AMOUNT_QUOTE] = 0.0


@njit(cache=True)
def position_hummingbot_nb(
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    w_end: int,
    side: float,
    entry: float,
    amount: float,
    params: np.ndarray,
    rec: np.ndarray,
) -> None:
    """Position executor, Hummingbot's fill model (see docs/fill-models.md).

    Entry: a limit order fills on the first row in ``[k, min(stop_row, w_end)]`` whose close
    crosses ``entry``, at that close; a market order fills at ``c[k]``. Unfilled: EARLY_STOP at
    ``stop_row`` (the controller's refresh) when it comes before ``w_end``, else TIME_LIMIT at
    ``w_end``. Filled: net PnL % per row is the close-to-close return minus ``2 * fee``; TP when it
    exceeds ``take_profit``; SL when the row's low/high reaches the fill price ∓ ``stop_loss``,
    scanned from the row **after** the fill (upstream scans from creation); trailing stop on net
    PnL %; TIME_LIMIT at ``w_end``. Ties: TP > SL > trailing > time limit. Booked at the close.
    """
    fee = params[P_FEE]
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    fill = -1
    if params[P_OPEN_IS_LIMIT] == 0.0:
        fill = k
    else:
        last = min(stop_row, w_end)
        for t in range(k, last + 1):
            if (is_buy and c[t] <= entry) or ((not is_buy) and c[t] >= entry):
                fill = t
                break
    if fill < 0:
        if stop_row < w_end:
            _book_unfilled_nb(rec, stop_row, EARLY_STOP)
        else:
            _book_unfilled_nb(rec, w_end, TIME_LIMIT)
        return
    pf = c[fill]
    tp = params[P_TAKE_PROFIT]
    sl = params[P_STOP_LOSS]
    act = params[P_TRAIL_ACTIVATION]
    delta = params[P_TRAIL_DELTA]
    has_tp = not np.isnan(tp)
    has_sl = not np.isnan(sl)
    has_ts = not (np.isnan(act) or np.isnan(delta))
    sl_price = pf * (1.0 - sgn * sl) if has_sl else np.nan
    trail = -np.inf
    activated = False
    close_row = w_end
    close_type = TIME_LIMIT
    for t in range(fill, w_end + 1):
        pnl = sgn * (c[t] / pf - 1.0) - 2.0 * fee
        if has_tp and pnl > tp:
            close_row = t
            close_type = TAKE_PROFIT
            break
        if (
            has_sl
            and t > fill
            and ((is_buy and l[t] <= sl_price) or ((not is_buy) and h[t] >= sl_price))
        ):
            close_row = t
            close_type = STOP_LOSS
            break
        if has_ts:
            trail = max(trail, pnl - delta)
            if pnl > act:
                activated = True
            if activated and pnl < trail:
                close_row = t
                close_type = TRAILING_STOP
                break
    pnl = sgn * (c[close_row] / pf - 1.0) - 2.0 * fee
    notional = amount * pf
    rec[FILL_ROW] = fill
    rec[CLOSE_ROW] = close_row
    rec[CLOSE_TYPE] = close_type
    rec[FILL_PRICE] = pf
    rec[EXIT_PRICE] = c[close_row]
    rec[NET_PNL_PCT] = pnl
    rec[NET_PNL_QUOTE] = pnl * notional
    rec[CUM_FEES_QUOTE] = 2.0 * fee * notional
    rec[FILLED_AMOUNT_QUOTE] = 2.0 * notional


@njit(cache=True)
def position_touch_nb(
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    w_end: int,
    side: float,
    entry: float,
    amount: float,
    params: np.ndarray,
    rec: np.ndarray,
) -> None:
    """Position executor, the ``touch`` fill model (see docs/fill-models.md).

    Entry: a limit order rests from the bar after ``k`` and fills at ``entry`` on the first bar
    whose low (buy) or high (sell) reaches it; a market order, or a limit already marketable at
    ``c[k]``, fills at ``c[k]``. Exits: stop loss and trailing stop at their prices, take profit at
    its price, each at the bar's open instead when the bar opens beyond it (a limit take profit
    still fills at its price). When one bar reaches both, the stop loss counts first. On the fill
    bar only the stop loss is checked (the order of prices inside a bar is unknown).
    Fees: ``fee`` on the entry and on the exit notional.
    """
    fee = params[P_FEE]
    is_buy = side == BUY
    sgn = 1.0 if is_buy else -1.0
    fill = -1
    pf = np.nan
    marketable = (is_buy and entry >= c[k]) or ((not is_buy) and entry <= c[k])
    if params[P_OPEN_IS_LIMIT] == 0.0 or marketable:
        fill = k
        pf = c[k]
    else:
        last = min(stop_row, w_end)
        for t in range(k + 1, last + 1):
            if (is_buy and l[t] <= entry) or ((not is_buy) and h[t] >= entry):
                fill = t
                pf = entry
                break
    if fill < 0:
        if stop_row < w_end:
            _book_unfilled_nb(rec, stop_row, EARLY_STOP)
        else:
            _book_unfilled_nb(rec, w_end, TIME_LIMIT)
        return
    tp = params[P_TAKE_PROFIT]
    sl = params[P_STOP_LOSS]
    act = params[P_TRAIL_ACTIVATION]
    delta = params[P_TRAIL_DELTA]
    tp_limit = params[P_TP_IS_LIMIT] != 0.0
    has_tp = not np.isnan(tp)
    has_sl = not np.isnan(sl)
    has_ts = not (np.isnan(act) or np.isnan(delta))
    tp_price = pf * (1.0 + sgn * tp) if has_tp else np.nan
    sl_price = pf * (1.0 - sgn * sl) if has_sl else np.nan
    best = 0.0  # best favourable return since the fill
    activated = False
    close_row = w_end
    close_type = TIME_LIMIT
    exit_price = c[w_end]
    if (
        has_sl
        and fill > k
        and ((is_buy and l[fill] <= sl_price) or ((not is_buy) and h[fill] >= sl_price))
    ):
        close_row = fill
        close_type = STOP_LOSS
        exit_price = sl_price
    else:
        for t in range(fill + 1, w_end + 1):
            adverse = l[t] if is_buy else h[t]
            favourable = h[t] if is_buy else l[t]
            trail_price = pf * (1.0 + sgn * (best - delta)) if (has_ts and activated) else np.nan
            opened = o[t]
            if has_sl and sgn * (opened - sl_price) <= 0.0:
                close_row, close_type, exit_price = t, STOP_LOSS, opened
                break
            if has_ts and activated and sgn * (opened - trail_price) <= 0.0:
                close_row, close_type, exit_price = t, TRAILING_STOP, opened
                break
            if has_tp and sgn * (opened - tp_price) >= 0.0:
                close_row, close_type = t, TAKE_PROFIT
                exit_price = tp_price if tp_limit else opened
                break
            if has_sl and sgn * (adverse - sl_price) <= 0.0:
                close_row, close_type, exit_price = t, STOP_LOSS, sl_price
                break
            if has_ts and activated and sgn * (adverse - trail_price) <= 0.0:
                close_row, close_type, exit_price = t, TRAILING_STOP, trail_price
                break
            if has_tp and sgn * (favourable - tp_price) >= 0.0:
                close_row, close_type, exit_price = t, TAKE_PROFIT, tp_price
                break
            best = max(best, sgn * (favourable / pf - 1.0))
            if has_ts and best >= act:
                activated = True
        if close_type == TIME_LIMIT:
            exit_price = c[close_row]
    gross = sgn * (exit_price - pf) * amount
    fees = fee * amount * (pf + exit_price)
    net = gross - fees
    rec[FILL_ROW] = fill
    rec[CLOSE_ROW] = close_row
    rec[CLOSE_TYPE] = close_type
    rec[FILL_PRICE] = pf
    rec[EXIT_PRICE] = exit_price
    rec[NET_PNL_PCT] = net / (amount * pf)
    rec[NET_PNL_QUOTE] = net
    rec[CUM_FEES_QUOTE] = fees
    rec[FILLED_AMOUNT_QUOTE] = amount * (pf + exit_price)


@njit(cache=True)
def simulate_position_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    k: int,
    stop_row: int,
    side: float,
    entry: float,
    amount: float,
    params: np.ndarray,
    rec: np.ndarray,
) -> None:
    """One position executor created at row ``k``, with the run's fill model."""
    w_end = window_end_nb(ts, k, params[P_TIME_LIMIT_S])
    rec[SIDE] = side
    rec[CREATED_ROW] = k
    rec[ENTRY_PRICE] = entry
    rec[AMOUNT_BASE] = amount
    rec[KIND] = KIND_POSITION
    rec[HOLD_BASE] = 0.0
    rec[HOLD_PRICE] = np.nan
    if params[P_FILL_MODEL] == FILL_HUMMINGBOT:
        position_hummingbot_nb(o, h, l, c, k, stop_row, w_end, side, entry, amount, params, rec)
    else:
        position_touch_nb(o, h, l, c, k, stop_row, w_end, side, entry, amount, params, rec)


@njit(cache=True)
def _grow_nb(out: np.ndarray) -> np.ndarray:
    bigger = np.empty((out.shape[0] * 2, N_FIELDS))
    bigger[: out.shape[0]] = out
    return bigger


@njit(cache=True)
def market_making_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    start_row: int,
    reference_price: np.ndarray,
    spread_multiplier: np.ndarray,
    level_side: np.ndarray,
    level_spread: np.ndarray,
    level_amount_quote: np.ndarray,
    level_amount_base: np.ndarray,
    level_refresh: np.ndarray,
    dca_offsets: np.ndarray,
    dca_weights: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """Hummingbot's market-making loop, one level at a time (levels do not interact).

    Each level's executor is a position executor, or — when ``dca_offsets`` is not empty — a
    DCA executor (dman_maker_v2) whose level i is priced ``price * (1 ∓ dca_offsets[i])`` for
    ``amount * dca_weights[i]`` base. ``level_refresh[lv]`` is the level's refresh time.

    A free level gets an executor at row k priced ``ref * (1 ∓ spread * multiplier)`` (skipped
    while a feature is NaN). An unfilled executor is stopped (EARLY_STOP) at the first row more
    than ``executor_refresh_time`` after its creation; the level is free again one row later, as
    upstream creates before it stops. A closed executor frees its level on its close row, or after
    ``cooldown_time`` for a stop loss. Levels free on the last row get an executor there too,
    which closes at once (TIME_LIMIT), as upstream reports them.

    Returns:
        A float matrix of executor records (``records.py`` columns).
    """
    n = ts.shape[0]
    out = np.empty((max(64, 4 * level_side.shape[0]), N_FIELDS))
    m = 0
    cooldown = params[P_COOLDOWN_S]
    n_dca = dca_offsets.shape[0]
    dca_prices = np.empty(n_dca)
    dca_quote = np.empty(n_dca)
    for lv in range(level_side.shape[0]):
        side = level_side[lv]
        direction = -1.0 if side == BUY else 1.0
        refresh = level_refresh[lv]
        k = start_row
        while k <= n - 1:
            ref = reference_price[k]
            mult = spread_multiplier[k]
            price = ref * (1.0 + direction * level_spread[lv] * mult)
            if not (np.isfinite(price) and price > 0.0):
                k += 1
                continue
            amount = level_amount_base[lv]
            if np.isnan(amount):
                amount = level_amount_quote[lv] / price
            if not (np.isfinite(amount) and amount > 0.0):
                k += 1
                continue
            if m == out.shape[0]:
                out = _grow_nb(out)
            rec = out[m]
            rec[LEVEL] = lv
            stop_row = first_row_after_nb(ts, k, refresh)
            if n_dca == 0:
                simulate_position_nb(ts, o, h, l, c, k, stop_row, side, price, amount, params, rec)
            else:
                for i in range(n_dca):
                    dca_prices[i] = price * (1.0 + direction * dca_offsets[i])
                    dca_quote[i] = amount * dca_weights[i] * dca_prices[i]
                simulate_dca_nb(
                    ts, o, h, l, c, k, stop_row, STOP_IF_UNFILLED, side, dca_prices, dca_quote,
                    params, rec,
                )  # fmt: skip
            m += 1
            close_row = int(rec[CLOSE_ROW])
            close_type = rec[CLOSE_TYPE]
            if close_type == EARLY_STOP:
                nxt = close_row + 1
            elif close_type == STOP_LOSS and cooldown > 0.0:
                nxt = first_row_from_nb(ts, close_row, cooldown)
            else:
                nxt = close_row
            k = max(nxt, k + 1)
    return out[:m]


@njit(cache=True)
def directional_nb(
    ts: np.ndarray,
    o: np.ndarray,
    h: np.ndarray,
    l: np.ndarray,
    c: np.ndarray,
    start_row: int,
    signal: np.ndarray,
    amount_quote: float,
    max_per_side: int,
    cooldown: float,
    dca_offsets: np.ndarray,
    dca_weights: np.ndarray,
    dca_spread_mult: np.ndarray,
    dca_target_mult: np.ndarray,
    params: np.ndarray,
) -> np.ndarray:
    """Hummingbot's directional loop: a non-zero signal opens a position executor.

    With a non-empty ``dca_offsets`` (dman_v3) it opens a DCA executor instead: level i priced
    ``c[k] * (1 ∓ dca_offsets[i] * dca_spread_mult[k])`` for ``dca_weights[i] * amount_quote``
    quote, stop loss and trailing stop scaled by ``dca_target_mult[k]``.

    At row k with ``signal[k] > 0`` (BUY) or ``< 0`` (SELL), one executor opens when fewer than
    ``max_per_side`` executors **of that side** are active (created before k, closing after k) and
    ``ts[k]`` is more than ``cooldown`` seconds after the newest of them. Upstream counts both
    sides for sell signals; we count the signal's side only. Amount: ``amount_quote / c[k]`` base.

    Returns:
        A float matrix of executor records (``records.py`` columns); LEVEL is 0 for BUY, 1 for SELL.
    """
    n = ts.shape[0]
    out = np.empty((64, N_FIELDS))
    m = 0
    # active executors per side: created time and close row (at most max_per_side each)
    n_dca = dca_offsets.shape[0]
    dca_prices = np.empty(n_dca)
    dca_quote = np.empty(n_dca)
    created = np.zeros((2, max_per_side))
    closes = np.full((2, max_per_side), -1, dtype=np.int64)
    for k in range(start_row, n):
        s = signal[k]
        if np.isnan(s) or s == 0.0:
            continue
        lane = 0 if s > 0.0 else 1
        count = 0
        newest = -np.inf
        free = -1
        for i in range(max_per_side):
            if closes[lane, i] > k:
                count += 1
                newest = max(newest, created[lane, i])
            elif free < 0:
                free = i
        if count >= max_per_side or not (ts[k] - newest > cooldown):
            continue
        price = c[k]
        if not (np.isfinite(price) and price > 0.0):
            continue
        if m == out.shape[0]:
            out = _grow_nb(out)
        rec = out[m]
        rec[LEVEL] = lane
        side = 1.0 if lane == 0 else 2.0
        if n_dca == 0:
            simulate_position_nb(
                ts, o, h, l, c, k, n, side, price, amount_quote / price, params, rec
            )
        else:
            direction = -1.0 if lane == 0 else 1.0
            for i in range(n_dca):
                dca_prices[i] = price * (1.0 + direction * dca_offsets[i] * dca_spread_mult[k])
                dca_quote[i] = amount_quote * dca_weights[i]
            scaled = params.copy()
            scaled[P_STOP_LOSS] *= dca_target_mult[k]
            scaled[P_TRAIL_ACTIVATION] *= dca_target_mult[k]
            scaled[P_TRAIL_DELTA] *= dca_target_mult[k]
            simulate_dca_nb(
                ts, o, h, l, c, k, n, STOP_IF_UNFILLED, side, dca_prices, dca_quote, scaled, rec
            )
        m += 1
        created[lane, free] = ts[k]
        closes[lane, free] = int(rec[CLOSE_ROW])
    return out[:m]


@njit(cache=True)
def rebalance_nb(
    c: np.ndarray,
    start_row: int,
    reference_price: np.ndarray,
    required_quote: float,
    threshold: float,
    fee: float,
) -> np.ndarray:
    """Spot inventory rebalancing, as Hummingbot's ``check_position_rebalance`` intends.

    At row k the sell levels need ``required = required_quote / reference_price[k]`` base.
    When the held inventory differs from it by more than ``required * threshold``, a MARKET
    order executor buys (or sells) the difference at the close of bar k and hands it to the
    position hold at once. Upstream books the order into the hold two bars late and re-orders
    in between (a buy/buy/–/sell/sell/– churn); here the controller's next decision already
    sees the order, so it never orders twice for one shortfall.

    Returns:
        A float matrix of order-executor records (``POSITION_HOLD``, ``hold_base`` set).
    """
    n = c.shape[0]
    out = np.empty((16, N_FIELDS))
    m = 0
    held = 0.0
    for k in range(start_row, n):
        ref = reference_price[k]
        price = c[k]
        if not (np.isfinite(ref) and ref > 0.0 and np.isfinite(price) and price > 0.0):
            continue
        required = required_quote / ref
        diff = required - held
        if not abs(diff) > required * threshold:
            continue
        if m == out.shape[0]:
            out = _grow_nb(out)
        rec = out[m]
        amount = abs(diff)
        notional = amount * price
        rec[LEVEL] = 0.0
        rec[SIDE] = BUY if diff > 0.0 else 2.0
        rec[CREATED_ROW] = k
        rec[FILL_ROW] = k
        rec[CLOSE_ROW] = k
        rec[CLOSE_TYPE] = POSITION_HOLD
        rec[ENTRY_PRICE] = ref
        rec[AMOUNT_BASE] = amount
        rec[FILL_PRICE] = price
        rec[EXIT_PRICE] = np.nan
        rec[NET_PNL_PCT] = -fee
        rec[NET_PNL_QUOTE] = -fee * notional
        rec[CUM_FEES_QUOTE] = fee * notional
        rec[FILLED_AMOUNT_QUOTE] = notional
        rec[KIND] = KIND_ORDER
        rec[HOLD_BASE] = amount
        rec[HOLD_PRICE] = price
        m += 1
        held = required
    return out[:m]
