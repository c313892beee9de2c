from __future__ import annotations

from records import Segment, Transcript


def test_mean_confidence_weighs_segments_by_length_and_skips_unknown() -> None:
    transcript = Transcript(
        "en",
        (
            Segment(0.0, 3.0, "long and sure", confidence=0.9),
            Segment(3.0, 4.0, "short and unsure", confidence=0.5),
            Segment(4.0, 9.0, "no score"),
        ),
    )
    assert transcript.mean_confidence == (0.9 * 3 + 0.5 * 1) / 4
    assert Transcript("en", (Segment(0.0, 1.0, "x"),)).mean_confidence is None
