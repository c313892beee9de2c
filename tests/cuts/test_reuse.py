"""Planning ASR reuse from an alignment, merging, and chunking the rest."""

from __future__ import annotations

import numpy as np
import pytest

from cuts import Alignment, Span, merge_segments, plan_reuse, split_ranges
from records import Segment


def _seg(a: float, b: float, text: str = "x") -> Segment:
    return Segment(a, b, text)


def test_segments_inside_spans_move_and_the_rest_is_heard() -> None:
    old = (_seg(0.5, 9, "one"), _seg(10, 19, "two"), _seg(20, 29, "three"), _seg(30, 39, "four"))
    # the new cut drops old 19.5-29.5 (segment "three") and inserts 5 s of new audio at its start
    spans = (Span(5, 24.5, 0, 19.5), Span(24.5, 34.5, 29.5, 39.5))
    plan = plan_reuse("old", old, Alignment(spans, 34.5, 39.5, 1.0), 34.5)
    assert [(s.text, s.start, s.end) for s in plan.reused] == [
        ("one", 5.5, 14),
        ("two", 15, 24),
        ("four", 25, 34),
    ]
    assert plan.ranges[0] == (0.0, 5.5)  # the insert, up to where "one" is reused
    assert not any(a < r.end and r.start < b for a, b in plan.ranges for r in plan.reused)
    assert plan.reused_seconds == 26.5 and plan.source == "old"


def test_fresh_segments_repeating_reused_ones_are_dropped() -> None:
    reused = (_seg(5, 14, "one"),)
    fresh = (_seg(0, 5.2, "new"), _seg(4.8, 13, "one again"), _seg(14.5, 16, "after"))
    assert [s.text for s in merge_segments(reused, fresh)] == ["new", "one", "after"]


def test_long_ranges_split_at_the_quietest_frame_near_each_boundary() -> None:
    energies = np.ones(10_000, np.float32)  # 300 s of 30 ms frames
    energies[int(103.0 / 0.03)] = 0.0  # a pause 3 s after the first nominal cut
    chunks = split_ranges([(0.0, 300.0)], energies, 0.03, 100.0, search=10.0)
    assert chunks[0][1] == pytest.approx(103.0, abs=0.05) and chunks[-1][1] == 300.0
    assert all(b - a <= 110 for a, b in chunks)
    assert split_ranges([(5.0, 50.0)], energies, 0.03, 100.0) == [(5.0, 50.0)]
