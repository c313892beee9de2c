"""Planning ASR reuse from an alignment, merging, and chunking the rest."""

from __future__ import annotations

import numpy as np
import pytest

from cuts import Alignment, Span, merge_segments, plan_reuse, split_ranges
from records import Segment, Word


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


def _worded(start: float, count: int) -> Segment:
    """One segment of ``count`` words, a second apart, each 0.8 s long."""
    words = tuple(Word(f"w{n}", start + n, start + n + 0.8, 0.9) for n in range(count))
    return Segment(start, start + count - 0.2, " ".join(w.word for w in words) + ".", 0.9, words)


def test_an_edit_inside_a_segment_spoils_only_the_words_around_it() -> None:
    """One 10-word segment; the new cut drops old 5-6 s (the word w5). The words either side
    of the edit are reused, and only the edit's neighbourhood is heard again."""
    spans = (Span(0, 5, 0, 5), Span(5, 9, 6, 10))
    plan = plan_reuse("old", (_worded(0, 10),), Alignment(spans, 9, 10, 1.0), 9)
    assert [(s.text, s.start, s.end) for s in plan.reused] == [
        ("w0 w1 w2 w3", 0.0, 3.8),
        ("w7 w8 w9.", 6.0, 8.8),
    ]
    assert plan.reused[1].words[0] == Word("w7", 6.0, 6.8, 0.9)  # moved into the new timeline
    assert plan.ranges == ((3.8, 6.0),)  # w4 and w6 around the edit: 2.2 s, not all 9 s
    # Untimed words: the segment is heard again whole, as before word times existed.
    untimed = Segment(0, 9.8, "w0 w1.", 0.9, (Word("w0"), Word("w1")))
    assert plan_reuse("old", (untimed,), Alignment(spans, 9, 10, 1.0), 9).ranges == ((0.0, 9.0),)


def test_a_segment_keeps_the_words_within_a_window_with_their_spacing() -> None:
    segment = Segment(
        0,
        3.8,
        "Hello,  my friend. Bye",
        0.8,
        tuple(
            Word(w, n * 1.0, n * 1.0 + 0.8)
            for n, w in enumerate(["Hello,", "my", "friend.", "Bye"])
        ),
    )
    part = segment.within(0.9, 2.9)
    assert part is not None and (part.text, part.start, part.end) == ("my friend.", 1.0, 2.8)
    assert segment.within(-1, 10) is segment and segment.within(5, 6) is None


def test_a_cut_edited_every_few_seconds_costs_more_to_reuse_than_to_hear_whole() -> None:
    """A range heard again is padded to a whole encoder window: a few edits cost little, while
    an edit every few seconds leaves ranges whose cost adds up past the cut's own length (the
    job then hears it whole)."""
    old = tuple(_worded(10.0 * n, 9) for n in range(60))  # 600 s of words
    few = (Span(0, 295, 0, 295), Span(295, 595, 300, 600))
    plan = plan_reuse("old", old, Alignment(few, 595, 600, 1.0), 595)
    assert plan.transcribed_seconds < plan.cost_seconds < 30.0 * len(plan.ranges)
    assert not plan.costs_more_than_whole(595)
    # 5 s kept, 1 s dropped, over and over: a hundred edits
    many = tuple(Span(5.0 * k, 5.0 * k + 5, 6.0 * k, 6.0 * k + 5) for k in range(100))
    choppy = plan_reuse("old", old, Alignment(many, 500, 600, 1.0), 500)
    assert len(choppy.ranges) > 20 and choppy.costs_more_than_whole(500)
    # A short clip costs a window whole: one range heard again costs no more.
    short = plan_reuse("old", old, Alignment((Span(0, 20, 0, 20),), 25, 600, 1.0), 25)
    assert len(short.ranges) == 1 and not short.costs_more_than_whole(25)
