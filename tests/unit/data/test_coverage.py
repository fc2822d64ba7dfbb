"""Ranges of candle open times: merge, what is missing from a window, JSON round trip."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbbacktest.data.coverage import (
    Range,
    merge_ranges,
    missing_ranges,
    ranges_from_json,
    ranges_to_json,
)

STEP = 60


# --- merge_ranges -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ranges, expected",
    [
        ([], []),
        ([(0, 0)], [(0, 0)]),
        ([(120, 180), (0, 60), (240, 300)], [(0, 300)]),  # touching ranges join
        ([(0, 60), (180, 240)], [(0, 60), (180, 240)]),  # one candle apart: a hole
        ([(0, 600), (60, 120)], [(0, 600)]),  # contained
        ([(0, 300), (240, 600)], [(0, 600)]),  # overlapping
        ([(0, 0), (60, 60), (120, 120)], [(0, 120)]),  # single candles
        ([(300, 240)], []),  # inverted: dropped
        ([(600, 660), (0, 60), (0, 60)], [(0, 60), (600, 660)]),  # duplicates, unsorted
    ],
)
def test_merge_ranges(ranges: list[Range], expected: list[Range]) -> None:
    assert merge_ranges(ranges, STEP) == expected


def test_merge_ranges_accepts_any_iterable_of_pairs() -> None:
    pairs = iter([[60, 120], [0, 0]])
    assert merge_ranges(pairs, STEP) == [(0, 120)]  # type: ignore[arg-type]


# --- missing_ranges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, end, covered, expected",
    [
        (0, 600, [], [(0, 600)]),
        (0, 600, [(120, 240)], [(0, 60), (300, 600)]),
        (0, 600, [(0, 600)], []),
        (0, 600, [(-600, 6000)], []),
        (0, 600, [(0, 60), (540, 600)], [(120, 480)]),
        (0, 600, [(60, 60), (180, 180)], [(0, 0), (120, 120), (240, 600)]),
        (0, 600, [(-120, -60), (660, 720)], [(0, 600)]),  # coverage outside the window
        (0, 600, [(300, 360), (120, 180)], [(0, 60), (240, 240), (420, 600)]),  # unsorted
        (30, 590, [], [(60, 540)]),  # the window is aligned inwards
        (30, 50, [], []),  # no candle opens in it
        (600, 0, [], []),  # an empty window
        (0, 0, [], [(0, 0)]),
        (0, 0, [(0, 0)], []),
    ],
)
def test_missing_ranges(start: int, end: int, covered: list[Range], expected: list[Range]) -> None:
    assert missing_ranges(start, end, covered, STEP) == expected


@pytest.mark.parametrize(
    "covered, expected",
    [
        ([(30, 90)], [(0, 0), (120, 300)]),  # holds the candle at 60 only
        ([(0, 90)], [(120, 300)]),
        ([(0, 90), (180, 300)], [(120, 120)]),
        ([(10, 50)], [(0, 300)]),  # holds no candle
        ([(-30, 330)], []),
    ],
)
def test_missing_ranges_reads_coverage_off_the_grid_on_the_grid(
    covered: list[Range], expected: list[Range]
) -> None:
    assert missing_ranges(0, 300, covered, STEP) == expected


# --- properties on the step grid --------------------------------------------------------------

_slots = st.integers(min_value=-50, max_value=250)
_ranges = st.lists(
    st.tuples(_slots, st.integers(min_value=0, max_value=60)).map(
        lambda r: (r[0] * STEP, (r[0] + r[1]) * STEP)
    ),
    max_size=8,
)
_seconds = st.integers(min_value=-3000, max_value=15_000)
_any_ranges = st.lists(  # off the grid too: only the candles inside a range are covered
    st.tuples(_seconds, st.integers(min_value=0, max_value=3600)).map(
        lambda r: (r[0], r[0] + r[1])
    ),
    max_size=8,
)


def _grid(ranges: list[Range], lo: int, hi: int) -> set[int]:
    """The open times on the step grid in ``[lo, hi]`` that ``ranges`` hold."""
    return {t for t in range(lo, hi + 1, STEP) if any(a <= t <= b for a, b in ranges)}


@settings(max_examples=300, deadline=None, database=None)
@given(
    covered=st.one_of(_ranges, _any_ranges),
    start=st.integers(min_value=-1000, max_value=8000),
    length=st.integers(min_value=-120, max_value=9000),
)
def test_missing_and_covered_partition_the_window(
    covered: list[Range], start: int, length: int
) -> None:
    end = start + length
    holes = missing_ranges(start, end, covered, STEP)
    first, last = -(-start // STEP) * STEP, (end // STEP) * STEP
    window = _grid([(first, last)], first, last) if first <= last else set()
    missing = _grid(holes, first, last)
    have = _grid(covered, first, last)
    assert missing | have >= window  # nothing in the window is forgotten
    assert not missing & have  # nothing covered is asked again
    for a, b in holes:  # holes are real ranges on the grid, inside the window
        assert a <= b and a % STEP == 0 and b % STEP == 0
        assert first <= a and b <= last
    assert holes == merge_ranges(holes, STEP)  # sorted, disjoint, not touching


@settings(max_examples=300, deadline=None, database=None)
@given(ranges=_ranges)
def test_merge_keeps_the_same_candles_in_sorted_disjoint_ranges(ranges: list[Range]) -> None:
    merged = merge_ranges(ranges, STEP)
    lo, hi = -60 * STEP, 320 * STEP
    assert _grid(merged, lo, hi) == _grid(ranges, lo, hi)
    for (_, b), (c, _) in pairwise(merged):
        assert b + STEP < c
    assert merge_ranges(merged, STEP) == merged


@settings(max_examples=200, deadline=None, database=None)
@given(ranges=_ranges)
def test_json_round_trip(ranges: list[Range]) -> None:
    merged = merge_ranges(ranges, STEP)
    assert ranges_from_json(json.loads(json.dumps(ranges_to_json(merged)))) == merged


# --- ranges_from_json -------------------------------------------------------------------------


def test_ranges_from_json_reads_pairs() -> None:
    assert ranges_from_json([]) == []
    assert ranges_from_json([[0, 60], [120, 120]]) == [(0, 60), (120, 120)]
    assert ranges_from_json(json.loads("[[1704067200, 1704070800]]")) == [(1704067200, 1704070800)]


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "[[0, 60]]",
        {"a": [0, 60]},
        [[0, 60], "x"],
        [(0, 60)],  # JSON gives lists, never tuples
        [[0]],
        [[0, 60, 120]],
        [[0.0, 60]],
        [[0, 60.5]],
        [[True, 60]],
        [[0, None]],
        [["0", "60"]],
        [[120, 60]],  # inverted
    ],
)
def test_ranges_from_json_refuses_anything_else(raw: object) -> None:
    assert ranges_from_json(raw) is None


def test_ranges_to_json_is_plain_ints() -> None:
    out = ranges_to_json([(np.int64(0), np.int64(60))])  # type: ignore[list-item]
    assert out == [[0, 60]] and all(type(v) is int for v in out[0])
    assert json.dumps(out) == "[[0, 60]]"
