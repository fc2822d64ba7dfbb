"""Slow, obvious pure-Python references of the engine kernels (``hbbacktest.engine.nb``).

Written from the kernels' docstrings, not from their code: plain loops over lists, Python
floats, results as dicts keyed like ``records.EXECUTOR_DTYPE``. Where a docstring is silent,
the choice made here is stated in a comment ("UNSPECIFIED: ...").

Inputs: ``ts`` a list of ints, ``o, h, l, c`` lists of floats, ``params`` a dict as returned by
``tests.kit.bars.params_dict`` (NaN = not set).
"""

from __future__ import annotations

import math

from hbbacktest.core.enums import CloseType, TradeType

TIME_LIMIT = int(CloseType.TIME_LIMIT)
STOP_LOSS = int(CloseType.STOP_LOSS)
TAKE_PROFIT = int(CloseType.TAKE_PROFIT)
EARLY_STOP = int(CloseType.EARLY_STOP)
TRAILING_STOP = int(CloseType.TRAILING_STOP)
BUY = int(TradeType.BUY)


def is_set(x: float) -> bool:
    return not math.isnan(x)


# ---------------------------------------------------------------------------------------------
# row helpers


def window_end(ts: list[int], k: int, seconds: float) -> int:
    """Last row r >= k with ts[r] <= ts[k] + seconds; the last row when seconds is NaN."""
    if not is_set(seconds):
        return len(ts) - 1
    last = k
    for r in range(k, len(ts)):
        if ts[r] - ts[k] <= seconds:
            last = r
    return last


def first_row_after(ts: list[int], k: int, seconds: float) -> int:
    """First row r > k with ts[r] - ts[k] > seconds; len(ts) when none or NaN."""
    if not is_set(seconds):
        return len(ts)
    for r in range(k + 1, len(ts)):
        if ts[r] - ts[k] > seconds:
            return r
    return len(ts)


def first_row_from(ts: list[int], k: int, seconds: float) -> int:
    """First row r >= k with ts[r] - ts[k] >= seconds; len(ts) when none."""
    for r in range(k, len(ts)):
        if ts[r] - ts[k] >= seconds:
            return r
    return len(ts)


# ---------------------------------------------------------------------------------------------
# position executors


def _unfilled(close_row: int, close_type: int) -> dict:
    return {
        "fill_row": -1,
        "close_row": close_row,
        "close_type": close_type,
        "fill_price": math.nan,
        "exit_price": math.nan,
        "net_pnl_pct": 0.0,
        "net_pnl_quote": 0.0,
        "cum_fees_quote": 0.0,
        "filled_amount_quote": 0.0,
    }


def _book_unfilled(stop_row: int, w_end: int) -> dict:
    # EARLY_STOP at the refresh when it comes (strictly) before the time limit, else TIME_LIMIT.
    if stop_row < w_end:
        return _unfilled(stop_row, EARLY_STOP)
    return _unfilled(w_end, TIME_LIMIT)


def position_hummingbot(o, h, l, c, k, stop_row, w_end, side, entry, amount, params) -> dict:
    """Hummingbot's fill model: everything decided on closes, except the stop loss (low/high)."""
    buy = side == BUY
    fee = params["fee"]

    # entry
    fill = None
    if params["open_is_limit"] == 0.0:
        fill = k
    else:
        for t in range(k, min(stop_row, w_end) + 1):
            crossed = c[t] <= entry if buy else c[t] >= entry
            if crossed:
                fill = t
                break
    if fill is None:
        return _book_unfilled(stop_row, w_end)
    pf = c[fill]

    def net_pct(t: int) -> float:
        ret = (c[t] / pf - 1.0) if buy else (1.0 - c[t] / pf)
        return ret - 2.0 * fee

    rows = list(range(fill, w_end + 1))

    # each barrier's first row, found separately (as upstream's vectorised simulator does)
    first_tp = None
    if is_set(params["take_profit"]):
        hits = [t for t in rows if net_pct(t) > params["take_profit"]]
        first_tp = hits[0] if hits else None

    first_sl = None
    if is_set(params["stop_loss"]):
        sl = params["stop_loss"]
        sl_price = pf * (1.0 - sl) if buy else pf * (1.0 + sl)
        # the fix: the scan starts on the row AFTER the fill
        hits = [t for t in rows if t > fill and (l[t] <= sl_price if buy else h[t] >= sl_price)]
        first_sl = hits[0] if hits else None

    first_ts = None
    act, delta = params["trail_activation"], params["trail_delta"]
    if is_set(act) and is_set(delta):
        peak = None  # best net pct since activation
        for t in rows:
            x = net_pct(t)
            if peak is None:
                if x > act:
                    peak = x
                continue
            if x < peak - delta:
                first_ts = t
                break
            peak = max(peak, x)

    # the earliest event wins; ties on one row: TP > SL > trailing > time limit
    candidates = [(w_end, 3, TIME_LIMIT)]
    for priority, (row, kind) in enumerate(
        ((first_tp, TAKE_PROFIT), (first_sl, STOP_LOSS), (first_ts, TRAILING_STOP))
    ):
        if row is not None:
            candidates.append((row, priority, kind))
    close_row, _, close_type = min(candidates)

    pnl = net_pct(close_row)
    return {
        "fill_row": fill,
        "close_row": close_row,
        "close_type": close_type,
        "fill_price": pf,
        "exit_price": c[close_row],
        "net_pnl_pct": pnl,
        "net_pnl_quote": pnl * amount * pf,
        "cum_fees_quote": 2.0 * fee * amount * pf,
        "filled_amount_quote": 2.0 * amount * pf,
    }


def position_touch(o, h, l, c, k, stop_row, w_end, side, entry, amount, params) -> dict:
    """The touch fill model: orders fill when the bar's range reaches their price."""
    buy = side == BUY
    fee = params["fee"]

    def adverse_reached(price: float, level: float) -> bool:  # price at or beyond level, against us
        return price <= level if buy else price >= level

    def favourable_reached(price: float, level: float) -> bool:
        return price >= level if buy else price <= level

    # entry
    marketable = entry >= c[k] if buy else entry <= c[k]
    if params["open_is_limit"] == 0.0 or marketable:
        fill, pf = k, c[k]
    else:
        fill = pf = None
        # the limit rests from the bar after k; the unfilled window is the hummingbot model's
        # (UNSPECIFIED in the touch docstring: rests up to min(stop_row, w_end) inclusive).
        for t in range(k + 1, min(stop_row, w_end) + 1):
            touched = l[t] <= entry if buy else h[t] >= entry
            if touched:
                fill, pf = t, entry
                break
        if fill is None:
            return _book_unfilled(stop_row, w_end)

    tp, sl = params["take_profit"], params["stop_loss"]
    act, delta = params["trail_activation"], params["trail_delta"]
    has_tp, has_sl, has_trail = is_set(tp), is_set(sl), is_set(act) and is_set(delta)
    tp_price = (pf * (1.0 + tp) if buy else pf * (1.0 - tp)) if has_tp else None
    sl_price = (pf * (1.0 - sl) if buy else pf * (1.0 + sl)) if has_sl else None

    result = None  # (row, type, exit price)
    # On the fill bar (a limit filled inside a later bar) only the stop loss is checked. A fill at
    # the close of k leaves nothing of bar k to check.
    if fill > k and has_sl and adverse_reached(l[fill] if buy else h[fill], sl_price):
        result = (fill, STOP_LOSS, sl_price)

    # UNSPECIFIED: the best favourable return starts at 0 (the fill price) and counts bars after
    # the fill bar only; activation when it reaches (>=) the activation return, effective from the
    # next bar; on one bar the adverse exits come first (SL, then trailing, then TP), at the open
    # as well as inside the bar.
    best = 0.0
    activated = False
    t = fill + 1
    while result is None and t <= w_end:
        adverse = l[t] if buy else h[t]
        favourable = h[t] if buy else l[t]
        trail_price = None
        if activated:
            trail_price = pf * (1.0 + (best - delta)) if buy else pf * (1.0 - (best - delta))
        # the bar opens beyond a level: filled at the open (a limit TP still at its price)
        if has_sl and adverse_reached(o[t], sl_price):
            result = (t, STOP_LOSS, o[t])
        elif trail_price is not None and adverse_reached(o[t], trail_price):
            result = (t, TRAILING_STOP, o[t])
        elif has_tp and favourable_reached(o[t], tp_price):
            result = (t, TAKE_PROFIT, tp_price if params["tp_is_limit"] != 0.0 else o[t])
        # inside the bar: at the level's price
        elif has_sl and adverse_reached(adverse, sl_price):
            result = (t, STOP_LOSS, sl_price)
        elif trail_price is not None and adverse_reached(adverse, trail_price):
            result = (t, TRAILING_STOP, trail_price)
        elif has_tp and favourable_reached(favourable, tp_price):
            result = (t, TAKE_PROFIT, tp_price)
        else:
            ret = (favourable / pf - 1.0) if buy else (1.0 - favourable / pf)
            best = max(best, ret)
            if has_trail and best >= act:
                activated = True
        t += 1
    if result is None:
        result = (w_end, TIME_LIMIT, c[w_end])

    close_row, close_type, exit_price = result
    gross = (exit_price - pf) * amount if buy else (pf - exit_price) * amount
    fees = fee * amount * pf + fee * amount * exit_price
    net = gross - fees
    return {
        "fill_row": fill,
        "close_row": close_row,
        "close_type": close_type,
        "fill_price": pf,
        "exit_price": exit_price,
        "net_pnl_pct": net / (amount * pf),
        "net_pnl_quote": net,
        "cum_fees_quote": fees,
        "filled_amount_quote": amount * pf + amount * exit_price,
    }


def simulate_position(ts, o, h, l, c, k, stop_row, side, entry, amount, params) -> dict:
    """One executor created at row k, with the run's fill model; the full record minus level."""
    w_end = window_end(ts, k, params["time_limit_s"])
    model = position_hummingbot if params["fill_model"] == 0.0 else position_touch
    rec = model(o, h, l, c, k, stop_row, w_end, side, entry, amount, params)
    return {
        "side": int(side),
        "created_row": k,
        "entry_price": entry,
        "amount_base": amount,
        "kind": 0,  # position executor
        "hold_base": 0.0,
        "hold_price": math.nan,
        **rec,
    }


# ---------------------------------------------------------------------------------------------
# market making


def market_making(
    ts,
    o,
    h,
    l,
    c,
    start_row,
    reference_price,
    spread_multiplier,
    level_side,
    level_spread,
    level_amount_quote,
    level_amount_base,
    params,
) -> list[dict]:
    """Hummingbot's market-making loop, each level on its own; records level by level."""
    n = len(ts)
    out = []
    refresh, cooldown = params["refresh_s"], params["cooldown_s"]
    for lv, side in enumerate(level_side):
        k = start_row  # the first row at which the level is free
        while k < n:
            ref, mult = reference_price[k], spread_multiplier[k]
            if side == BUY:
                price = ref * (1.0 - level_spread[lv] * mult)
            else:
                price = ref * (1.0 + level_spread[lv] * mult)
            if not (math.isfinite(price) and price > 0.0):
                k += 1  # no quote while a feature is missing (or the price is not positive)
                continue
            amount = level_amount_base[lv]
            if not is_set(amount):
                amount = level_amount_quote[lv] / price
            if not (math.isfinite(amount) and amount > 0.0):
                k += 1
                continue
            stop_row = first_row_after(ts, k, refresh)
            rec = simulate_position(ts, o, h, l, c, k, stop_row, side, price, amount, params)
            out.append({"level": lv, **rec})
            close_row, close_type = rec["close_row"], rec["close_type"]
            if close_type == EARLY_STOP:
                free = close_row + 1  # upstream creates the next one before stopping this one
            elif close_type == STOP_LOSS and is_set(cooldown) and cooldown > 0:
                free = first_row_from(ts, close_row, cooldown)
            else:
                free = close_row
            k = max(free, k + 1)  # at most one executor per level and row
    return out
