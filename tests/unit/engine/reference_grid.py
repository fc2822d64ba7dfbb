"""Slow, obvious pure-Python references of the grid kernels (``hbbacktest.engine.grid_nb``).

Written from the kernels' docstrings: level generation in ``Decimal`` as upstream computes it,
the executor as plain per-level state machines over lists. Results are dicts keyed like
``records.EXECUTOR_DTYPE`` (without ``level``). Where a docstring is silent, the choice made here
is stated in a comment ("UNSPECIFIED: ...").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from hbbacktest.core.enums import CloseType, TradeType

from .reference import window_end

TIME_LIMIT = int(CloseType.TIME_LIMIT)
STOP_LOSS = int(CloseType.STOP_LOSS)
TAKE_PROFIT = int(CloseType.TAKE_PROFIT)
EARLY_STOP = int(CloseType.EARLY_STOP)
POSITION_HOLD = int(CloseType.POSITION_HOLD)
BUY = int(TradeType.BUY)


def grid_levels(
    start: float, end: float, total: float, min_spread: float, min_amount: float, mid: float
) -> tuple[list[float], list[float]]:
    """Upstream's ``_generate_grid_levels`` without trading rules, in Decimal, with the fix."""
    if not all(math.isfinite(x) and x > 0 for x in (start, end, mid)):
        return [], []
    d_start, d_end, d_total = Decimal(repr(start)), Decimal(repr(end)), Decimal(repr(total))
    d_min_amount = Decimal(0) if math.isnan(min_amount) else Decimal(repr(min_amount))
    d_spread = Decimal(0) if math.isnan(min_spread) else Decimal(repr(min_spread))
    min_notional = max(d_min_amount, Decimal(5))
    # upstream: min_base = min_notional * 1.05 / mid, min_quote = min_base * mid; the mid
    # cancels (Decimal rounding aside, which only moves exact multiples by one level)
    min_quote = min_notional * Decimal("1.05")
    grid_range = (d_end - d_start) / d_start
    max_possible = int(d_total / min_quote) if d_total > 0 else 0
    if max_possible == 0:
        n, amount = 1, min_quote
    else:
        max_by_step = int(grid_range / d_spread) if d_spread > 0 else max_possible
        n = max(1, min(max_possible, max_by_step))  # the fix: never divide by zero levels
        amount = d_total / n
        amount = max(amount, min_quote)
        n = min(n, int(float(d_total) / float(amount)))  # floats, as upstream
    n = max(1, n)
    if n > 1:
        prices = [start + (end - start) * i / (n - 1) for i in range(n)]
    else:
        prices = [(start + end) / 2]
    return prices, [float(amount)] * n


@dataclass
class _Level:
    price: float
    quote: float
    tp_price: float
    open: bool = False
    entry: float = 0.0
    base: float = 0.0
    fill_row: int = -1
    freed_now: bool = False


def grid_executor(
    ts: list[int],
    o: list[float],
    h: list[float],
    l: list[float],
    c: list[float],
    k: int,
    stop_row: int,
    side: int,
    start: float,
    end: float,
    limit: float,
    prices: list[float],
    amounts: list[float],
    take_profit: float,
    keep_position: bool,
    params: dict[str, float],
) -> dict:
    buy = side == BUY
    sgn = 1.0 if buy else -1.0
    fee = 0.0 if math.isnan(params["fee"]) else params["fee"]
    touch = params["fill_model"] != 0.0
    sl = params["stop_loss"]
    w_end = window_end(ts, k, params["time_limit_s"])
    if stop_row < w_end:
        last, default_type = max(stop_row, k), EARLY_STOP
    else:
        last, default_type = w_end, TIME_LIMIT
    has_tp = not math.isnan(take_profit)
    levels = [
        _Level(p, q, p * (1 + sgn * take_profit) if has_tp else math.nan)
        for p, q in zip(prices, amounts, strict=True)
    ]
    usable = [lv for lv in levels if lv.price > 0 and lv.quote > 0]

    # realized round trips: (pnl, fees, volume, entry quote)
    trips: list[tuple[float, float, float, float]] = []
    first_fill = -1

    def adverse_reaches(t: int, price: float) -> bool:
        return l[t] <= price if buy else h[t] >= price

    def favourable_reaches(t: int, price: float) -> bool:
        return h[t] >= price if buy else l[t] <= price

    def at_or_beyond(price: float, x: float) -> bool:  # a resting order at `price` is marketable
        return price >= x if buy else price <= x

    def enter(lv: _Level, at: float, t: int) -> None:
        nonlocal first_fill
        lv.open, lv.entry, lv.base, lv.fill_row = True, at, lv.quote / at, t
        if first_fill < 0:
            first_fill = t

    def mark(lv: _Level, x: float) -> tuple[float, float, float]:
        """(pnl, fees, volume) of closing an open level at x."""
        if touch:
            fees = fee * (lv.quote + lv.base * x)
            volume = lv.quote + lv.base * x
        else:
            fees = 2 * fee * lv.quote
            volume = 2 * lv.quote
        return sgn * (x - lv.entry) * lv.base - fees, fees, volume

    close_row, close_type = last, default_type
    for t in range(k, last + 1):
        x = c[t]
        if touch and t > k:
            for lv in usable:
                if not lv.open and adverse_reaches(t, lv.price):
                    enter(lv, lv.price, t)
        ending = None
        if (buy and x > end) or (not buy and x < start):
            ending = TAKE_PROFIT
        elif limit > 0 and ((buy and x <= limit) or (not buy and x >= limit)):
            ending = POSITION_HOLD if keep_position else STOP_LOSS
        for lv in usable:
            lv.freed_now = False
        skip_tps = touch and ending in (POSITION_HOLD, STOP_LOSS)
        if has_tp and t > k and not skip_tps:
            for lv in usable:
                if lv.open and lv.fill_row < t and favourable_reaches(t, lv.tp_price):
                    pnl, fees, volume = mark(lv, lv.tp_price)
                    trips.append((pnl, fees, volume, lv.quote))
                    lv.open, lv.freed_now = False, True
        if ending is None:
            for lv in usable:
                if lv.open:
                    continue
                if t == k:
                    if x > 0 and at_or_beyond(lv.price, x):
                        enter(lv, x, t)  # placed through the market: fills at the market
                elif touch:
                    if lv.freed_now and at_or_beyond(lv.price, x):
                        enter(lv, lv.price, t)
                elif adverse_reaches(t, lv.price):
                    enter(lv, lv.price, t)
        if sl > 0:
            book = sum(tr[0] for tr in trips) + sum(mark(lv, x)[0] for lv in usable if lv.open)
            volume = sum(tr[3] for tr in trips) + sum(lv.quote for lv in usable if lv.open)
            if volume > 0 and book / volume <= -sl:
                ending = STOP_LOSS  # overrides a take profit or limit close on the same bar
        if ending is not None:
            close_row, close_type = t, ending
            break

    x = c[close_row]
    still_open = [lv for lv in usable if lv.open]
    held_base = sum(lv.base for lv in still_open)
    held_quote = sum(lv.quote for lv in still_open)
    if close_type == POSITION_HOLD and not still_open:
        close_type = EARLY_STOP  # nothing to hold
    net = sum(tr[0] for tr in trips)
    fees = sum(tr[1] for tr in trips)
    volume = sum(tr[2] for tr in trips)
    if close_type == POSITION_HOLD:
        # held levels: marked at the close like everything else, entry fee only
        net += sum(sgn * (x - lv.entry) * lv.base for lv in still_open)
        net -= fee * held_quote
        fees += fee * held_quote
        volume += held_quote
        hold_base, hold_price = held_base, held_quote / held_base
    else:
        for lv in still_open:
            pnl, f, v = mark(lv, x)
            net, fees, volume = net + pnl, fees + f, volume + v
        hold_base, hold_price = 0.0, math.nan
    entry_volume = sum(tr[3] for tr in trips) + held_quote
    committed = sum(q for q in amounts if q > 0)
    return {
        "side": side,
        "created_row": k,
        "fill_row": first_fill,
        "close_row": close_row,
        "close_type": close_type,
        "entry_price": c[k],
        "amount_base": committed / c[k] if c[k] > 0 else 0.0,
        "fill_price": held_quote / held_base if still_open else math.nan,
        "exit_price": x,
        "net_pnl_pct": net / entry_volume if entry_volume > 0 else 0.0,
        "net_pnl_quote": net,
        "cum_fees_quote": fees,
        "filled_amount_quote": volume,
        "kind": 2,  # grid executor
        "hold_base": hold_base,
        "hold_price": hold_price,
    }


def grid_strike(
    ts: list[int],
    o: list[float],
    h: list[float],
    l: list[float],
    c: list[float],
    start_row: int,
    side: int,
    start: float,
    end: float,
    limit: float,
    total: float,
    min_spread: float,
    min_amount: float,
    take_profit: float,
    keep_position: bool,
    params: dict[str, float],
) -> list[dict]:
    """One grid at a time, created when none is active and the close is inside the range."""
    out = []
    busy_until = -1  # the close row of the last grid; a new one may start on that row
    for k in range(start_row, len(ts)):
        if k < busy_until or not (start <= c[k] <= end):
            continue
        prices, amounts = grid_levels(start, end, total, min_spread, min_amount, c[k])
        rec = grid_executor(
            ts, o, h, l, c, k, len(ts), side, start, end, limit, prices, amounts,
            take_profit, keep_position, params,
        )  # fmt: skip
        out.append({"level": 0, **rec})
        busy_until = rec["close_row"]
    return out
