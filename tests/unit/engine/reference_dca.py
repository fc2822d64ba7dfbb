"""A slow, obvious pure-Python reference of the DCA executor (``hbbacktest.engine.dca_nb``).

Written from the docstrings of ``dca_nb`` (module), ``dca_hummingbot_nb``, ``dca_touch_nb`` and
``simulate_dca_nb``, not from their code: plain loops over lists, Python floats, the result a
dict keyed like ``records.EXECUTOR_DTYPE`` (minus ``level``, which the kernel does not write).
Where the docstrings are silent or ambiguous, the choice made here is stated in a comment
("UNSPECIFIED: ...").

Inputs: ``ts`` a list of ints, ``o, h, l, c`` lists of floats, ``prices`` / ``amounts_quote``
lists of floats, ``params`` a dict as returned by ``tests.kit.bars.params_dict`` (NaN = not set).
"""

from __future__ import annotations

import math

from .reference import window_end

TIME_LIMIT = 1
STOP_LOSS = 2
TAKE_PROFIT = 3
EARLY_STOP = 5
TRAILING_STOP = 6
POSITION_HOLD = 10
BUY = 1
KIND_DCA = 1

STOP_IF_UNFILLED = 0
STOP_ALWAYS = 1
STOP_KEEP_POSITION = 2


def _set(x: float) -> bool:
    # UNSPECIFIED: a take profit / stop loss of 0 (or below) counts as "not set", as upstream's
    # truthiness test (``if config.take_profit:``); a trailing stop is set when both its
    # activation and its delta are set (0 allowed).
    return not math.isnan(x) and x > 0.0


class _Walk:
    """How the walk ended: ``close_row``, ``close_type``, the fills, the exit price."""

    def __init__(self) -> None:
        self.fill_rows: list[int] = []
        self.fill_prices: list[float] = []
        self.close_row = -1
        self.close_type = 0
        self.exit_price = math.nan


def _end_without_exit(walk: _Walk, c, stop, stop_mode, w_end) -> _Walk:
    """No barrier fired: the stop (when it comes strictly before the window's end) or the time
    limit."""
    # UNSPECIFIED: a stop on the window's last row itself (stop_row == w_end) is a TIME_LIMIT,
    # as ``engine/nb.py``'s position executor books an unfilled refresh on the time-limit row.
    if stop < w_end and (stop_mode != STOP_IF_UNFILLED or not walk.fill_rows):
        walk.close_row = stop
        # UNSPECIFIED: STOP_KEEP_POSITION with nothing filled still reports POSITION_HOLD (with
        # nothing held), as the live executor's ``early_stop(keep_position=True)`` does.
        walk.close_type = POSITION_HOLD if stop_mode == STOP_KEEP_POSITION else EARLY_STOP
    else:
        walk.close_row = w_end
        walk.close_type = TIME_LIMIT
    walk.exit_price = c[walk.close_row]
    return walk


def _last_row(stop, stop_mode, w_end) -> int:
    """The last bar the executor can see: a STOP_IF_UNFILLED stop does not end a filled
    executor, the other stops end it whatever its state."""
    # UNSPECIFIED: the stop row (and the window's last row) is walked like any other bar first:
    # its barriers can still close the executor (a take profit beats the stop), and its new
    # fills count (STOP_ALWAYS then closes them at the same close, STOP_KEEP_POSITION holds
    # them).
    return w_end if stop_mode == STOP_IF_UNFILLED else min(w_end, stop)


# ---------------------------------------------------------------------------------------------
# the hummingbot model


def walk_hummingbot(h, l, c, k, stop, stop_mode, w_end, side, prices, amounts_quote, params):
    buy = side == BUY
    n_levels = len(prices)
    tp, sl = params["take_profit"], params["stop_loss"]
    act, delta = params["trail_activation"], params["trail_delta"]
    has_trail = not math.isnan(act) and not math.isnan(delta)

    def crossed(price: float, level: float) -> bool:  # at or beyond the level, against us
        return price <= level if buy else price >= level

    walk = _Walk()
    activated = False
    best = math.nan  # the best close since activation
    for t in range(k, _last_row(stop, stop_mode, w_end) + 1):
        if stop_mode == STOP_IF_UNFILLED and t > stop and not walk.fill_rows:
            break  # refreshed at ``stop``: nothing filled up to and including it
        close = c[t]
        filled = len(walk.fill_rows)
        if filled:
            # the target average of the filled levels: Σ a_i p_i / Σ a_i
            be = sum(amounts_quote[i] * prices[i] for i in range(filled)) / sum(
                amounts_quote[i] for i in range(filled)
            )
            tp_hit = _set(tp) and (close >= be * (1 + tp) if buy else close <= be * (1 - tp))
            # (``t > last fill row`` always holds here: this bar's fills come after its exits)
            sl_hit = (
                _set(sl)
                and filled == n_levels
                and t > walk.fill_rows[-1]
                and (l[t] <= be * (1 - sl) if buy else h[t] >= be * (1 + sl))
            )
            ts_hit = False
            if has_trail:
                if activated:
                    # UNSPECIFIED: the running best includes this bar's close, and the check is
                    # "at or beyond" (so a delta of 0 stops on the first bar after activation).
                    best = max(best, close) if buy else min(best, close)
                    ts_hit = close <= best * (1 - delta) if buy else close >= best * (1 + delta)
                elif close >= be * (1 + act) if buy else close <= be * (1 - act):
                    # UNSPECIFIED: the activation bar is not checked for a stop (from the next
                    # bar on only).
                    activated = True
                    best = close
            for hit, kind in ((tp_hit, TAKE_PROFIT), (sl_hit, STOP_LOSS), (ts_hit, TRAILING_STOP)):
                if hit:
                    walk.close_row, walk.close_type, walk.exit_price = t, kind, close
                    return walk
        # new fills, in level order, at this close
        # UNSPECIFIED: level i can only fill once levels 0..i-1 have (levels are "in order of
        # distance from the market"; with monotone prices this changes nothing).
        new = False
        while len(walk.fill_rows) < n_levels and crossed(close, prices[len(walk.fill_rows)]):
            walk.fill_rows.append(t)
            walk.fill_prices.append(close)
            new = True
        if new:  # the trailing stop restarts at each new level
            activated = False
            best = math.nan
    return _end_without_exit(walk, c, stop, stop_mode, w_end)


# ---------------------------------------------------------------------------------------------
# the touch model


def walk_touch(o, h, l, c, k, stop, stop_mode, w_end, side, prices, amounts_base, params):
    buy = side == BUY
    n_levels = len(prices)
    tp, sl = params["take_profit"], params["stop_loss"]
    act, delta = params["trail_activation"], params["trail_delta"]
    has_trail = not math.isnan(act) and not math.isnan(delta)
    taker = params["open_is_limit"] == 0.0

    def against(price: float, level: float) -> bool:  # at or beyond the level, against us
        return price <= level if buy else price >= level

    def favour(price: float, level: float) -> bool:  # at or beyond the level, in our favour
        return price >= level if buy else price <= level

    def at(avg: float, ret: float) -> float:  # the price ``ret`` away from avg, in our favour
        return avg * (1 + ret) if buy else avg * (1 - ret)

    walk = _Walk()

    def average() -> float:  # the actual average fill price, by base
        n = len(walk.fill_rows)
        cost = sum(amounts_base[i] * walk.fill_prices[i] for i in range(n))
        return cost / sum(amounts_base[i] for i in range(n))

    def done(t: int, kind: int, price: float) -> _Walk:
        walk.close_row, walk.close_type, walk.exit_price = t, kind, price
        return walk

    # At the creation close: levels already marketable fill at c[k] (MAKER); a TAKER level
    # whose trigger (the close reaching it) is met at c[k] fills there too.
    # UNSPECIFIED: TAKER levels may fill at the creation close (the first bar "whose close
    # reaches the level" counts from k, as in the hummingbot model).
    while len(walk.fill_rows) < n_levels and against(c[k], prices[len(walk.fill_rows)]):
        walk.fill_rows.append(k)
        walk.fill_prices.append(c[k])

    best = 0.0  # the best favourable return since the last fill
    activated = False
    for t in range(k + 1, _last_row(stop, stop_mode, w_end) + 1):
        if stop_mode == STOP_IF_UNFILLED and t > stop and not walk.fill_rows:
            break
        adverse = l[t] if buy else h[t]
        favourable = h[t] if buy else l[t]
        filled = len(walk.fill_rows)
        sl_price = tp_price = trail_price = None
        if filled:
            avg = average()
            if _set(sl) and filled == n_levels:
                sl_price = at(avg, -sl)
            if has_trail and activated:
                trail_price = at(avg, best - delta)
            if _set(tp):
                tp_price = at(avg, tp)
            # 1. exits at the open: a stop at the open, the take profit at its price
            # UNSPECIFIED: at the open the order is stop loss, trailing stop, take profit (as
            # inside the bar).
            if sl_price is not None and against(o[t], sl_price):
                return done(t, STOP_LOSS, o[t])
            if trail_price is not None and against(o[t], trail_price):
                return done(t, TRAILING_STOP, o[t])
            if tp_price is not None and favour(o[t], tp_price):
                return done(t, TAKE_PROFIT, tp_price)
        # 2. new fills, in level order
        new = False
        while len(walk.fill_rows) < n_levels:
            level = prices[len(walk.fill_rows)]
            if taker:
                if not against(c[t], level):
                    break
                price = c[t]
            else:
                if not against(adverse, level):
                    break
                # UNSPECIFIED (the docstring says "at their price"; the brief says "and at the
                # open on a gap"): a bar that opens beyond the level fills it at the open.
                price = o[t] if against(o[t], level) else level
            walk.fill_rows.append(t)
            walk.fill_prices.append(price)
            new = True
        if not walk.fill_rows:
            continue
        if new:
            # on a fill bar only the stop loss is checked (worst case: the low came after the
            # fill); the trailing stop restarts.
            # UNSPECIFIED: that check is against the new average (this bar's fills included),
            # and only once this bar's fills complete the levels.
            best = 0.0
            activated = False
            if _set(sl) and len(walk.fill_rows) == n_levels:
                sl_new = at(average(), -sl)
                if against(adverse, sl_new):
                    return done(t, STOP_LOSS, sl_new)
            continue
        # 3. inside the bar, at each exit's price: stop loss, trailing stop, take profit
        if sl_price is not None and against(adverse, sl_price):
            return done(t, STOP_LOSS, sl_price)
        if trail_price is not None and against(adverse, trail_price):
            return done(t, TRAILING_STOP, trail_price)
        if tp_price is not None and favour(favourable, tp_price):
            return done(t, TAKE_PROFIT, tp_price)
        # UNSPECIFIED: the best return starts at 0 and counts bars after the last fill's bar
        # only; it activates the trailing stop when it reaches (>=) the activation, effective
        # from the next bar.
        ret = favourable / avg - 1 if buy else 1 - favourable / avg
        best = max(best, ret)
        if has_trail and best >= act:
            activated = True
    return _end_without_exit(walk, c, stop, stop_mode, w_end)


# ---------------------------------------------------------------------------------------------
# one executor


def simulate_dca(ts, o, h, l, c, k, stop_row, stop_mode, side, prices, amounts_quote, params):
    """One DCA executor created at row k; the full record minus ``level``."""
    n = len(ts)
    buy = side == BUY
    sgn = 1.0 if buy else -1.0
    fee = params["fee"]
    hummingbot = params["fill_model"] == 0.0
    w_end = window_end(ts, k, params["time_limit_s"])
    # UNSPECIFIED: any stop_row >= len(ts) means "never", as len(ts) does.
    stop = stop_row if stop_row < n else n
    amounts_base = [a / p for a, p in zip(amounts_quote, prices, strict=True)]
    rec = {
        "side": int(side),
        "created_row": k,
        "entry_price": prices[0] if prices else math.nan,
        "amount_base": sum(amounts_base),
        "kind": KIND_DCA,
        "hold_base": 0.0,
        "hold_price": math.nan,
    }
    if not prices:
        # UNSPECIFIED: an executor without levels never fills; it ends at the stop (EARLY_STOP,
        # whatever the stop mode) when that comes strictly before the window's end, else on
        # the time limit.
        walk = _Walk()
        walk.close_row, walk.close_type = (
            (stop, EARLY_STOP) if stop < w_end else (w_end, TIME_LIMIT)
        )
    elif hummingbot:
        walk = walk_hummingbot(
            h, l, c, k, stop, stop_mode, w_end, side, prices, amounts_quote, params
        )
    else:
        walk = walk_touch(o, h, l, c, k, stop, stop_mode, w_end, side, prices, amounts_base, params)
    rec["close_row"] = walk.close_row
    rec["close_type"] = walk.close_type
    filled = len(walk.fill_rows)
    if filled == 0:
        rec.update(
            fill_row=-1,
            fill_price=math.nan,
            exit_price=math.nan,
            net_pnl_pct=0.0,
            net_pnl_quote=0.0,
            cum_fees_quote=0.0,
            filled_amount_quote=0.0,
        )
        return rec

    exit_price = walk.exit_price
    hold = walk.close_type == POSITION_HOLD
    if hummingbot:
        # level i: amounts_quote[i] of quote at the close f_i of its fill bar
        quotes = amounts_quote[:filled]
        bases = [q / f for q, f in zip(quotes, walk.fill_prices, strict=True)]
        entry_quote = sum(quotes)
        # UNSPECIFIED: a position hold is marked at the stop row's close (``exit`` is "the close
        # of the closing bar") and charged the entry fees only: Σ a_i (side (x / f_i - 1) - fee).
        fee_legs = 1 if hold else 2
        net = sum(
            q * (sgn * (exit_price / f - 1) - fee_legs * fee)
            for q, f in zip(quotes, walk.fill_prices, strict=True)
        )
        fees = fee_legs * fee * entry_quote
        # doubled on a natural close; once on an early stop
        # UNSPECIFIED: once on a position hold too (only the entry traded).
        volume = entry_quote if walk.close_type in (EARLY_STOP, POSITION_HOLD) else 2 * entry_quote
    else:
        # level i: amounts_quote[i] / prices[i] of base at its fill price
        bases = amounts_base[:filled]
        entry_quote = sum(b * f for b, f in zip(bases, walk.fill_prices, strict=True))
        exit_quote = sum(bases) * exit_price
        gross = sum(
            sgn * b * (exit_price - f) for b, f in zip(bases, walk.fill_prices, strict=True)
        )
        fees = fee * entry_quote if hold else fee * (entry_quote + exit_quote)
        net = gross - fees
        # UNSPECIFIED: the touch model's volume is the entry plus the exit notional (entry only
        # on a position hold), early stops included.
        volume = entry_quote if hold else entry_quote + exit_quote
    base = sum(bases)
    avg = sum(b * f for b, f in zip(bases, walk.fill_prices, strict=True)) / base
    rec.update(
        fill_row=walk.fill_rows[0],
        fill_price=avg,
        exit_price=exit_price,
        net_pnl_pct=net / entry_quote,
        net_pnl_quote=net,
        cum_fees_quote=fees,
        filled_amount_quote=volume,
    )
    if hold:
        rec["hold_base"] = base
        rec["hold_price"] = avg
    return rec
