"""Pure functions over inclusive ranges of candle open times (epoch s).

A dataset's *coverage* is the list of ranges its candles were asked for (from an exchange, or
an imported file's span). Inside coverage a missing candle is a real gap (asked, nothing
there); outside it is a hole (never asked), which is what a fetch fills.
"""

from __future__ import annotations

from collections.abc import Iterable

Range = tuple[int, int]

#: A candle counts as final this long after it closed: exchanges publish with a small delay,
#: and the local clock may run ahead of theirs.
SETTLE_S = 30


def merge_ranges(ranges: Iterable[Range], step: int) -> list[Range]:
    """Sorted, disjoint ranges; ranges that touch (``b + step == c``) or overlap are joined.

    Example:
        >>> merge_ranges([(120, 180), (0, 60), (240, 300)], 60)
        [(0, 300)]
    """
    ordered = sorted((int(a), int(b)) for a, b in ranges if b >= a)
    merged: list[Range] = []
    for a, b in ordered:
        if merged and a <= merged[-1][1] + step:
            if b > merged[-1][1]:
                merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return merged


def missing_ranges(start: int, end: int, covered: Iterable[Range], step: int) -> list[Range]:
    """The parts of ``[start, end]`` (aligned on ``step``) that ``covered`` does not hold.

    Both are read on the ``step`` grid: a candle open time is covered when a range holds it.

    Example:
        >>> missing_ranges(0, 600, [(120, 240)], 60)
        [(0, 60), (300, 600)]
    """
    first = -(-start // step) * step
    last = (end // step) * step
    holes: list[Range] = []
    cursor = first
    # A range covers the grid points inside it; one off the grid is snapped inwards.
    on_grid = [(-(-a // step) * step, (b // step) * step) for a, b in covered]
    for a, b in merge_ranges(on_grid, step):
        if b < cursor:
            continue
        if a > last:
            break
        if a > cursor:
            holes.append((cursor, min(last, a - step)))
        cursor = max(cursor, b + step)
        if cursor > last:
            break
    if cursor <= last:
        holes.append((cursor, last))
    return holes


def last_complete_open(now_s: float, step: int) -> int:
    """Open time of the last candle that has closed at ``now_s`` (the forming one excluded).

    Example:
        >>> last_complete_open(1_704_067_230, 60)  # 00:00:30: the 23:59 candle is the last
        1704067140
    """
    return (int(now_s) // step) * step - step


def ranges_to_json(ranges: Iterable[Range]) -> list[list[int]]:
    """Ranges as JSON-ready lists."""
    return [[int(a), int(b)] for a, b in ranges]


def ranges_from_json(raw: object) -> list[Range] | None:
    """Ranges read back from JSON, or None when the value is not a list of ``[a, b]`` pairs."""
    if not isinstance(raw, list):
        return None
    out: list[Range] = []
    for item in raw:
        if (
            not isinstance(item, list)
            or len(item) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in item)
            or item[0] > item[1]
        ):
            return None
        out.append((item[0], item[1]))
    return out
