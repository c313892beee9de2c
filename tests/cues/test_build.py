"""Cues from timed words: the profile's every number met on a realistic monologue."""

from __future__ import annotations

from itertools import pairwise

from cues import Cue, build_cues, check, cue_end, profile_for
from records import Segment, Transcript, Word

TEXT = (
    "Where were you last night? I waited for you at the station until eleven. Rahul Sharma "
    "said you had gone to the market with your brother and the old man from the shop. That is "
    "not true. I was at home the whole evening, reading the letters my mother sent me from Delhi."
)


def spoken(text: str, start: float = 0.5, speaker: str | None = None) -> Segment:
    """A segment of words with times a speaker at ~13 chars/s would give them."""
    words, t = [], start
    for w in text.split():
        length = 0.07 * len(w) + 0.1
        words.append(Word(w, round(t, 3), round(t + length, 3), 0.9))
        t += length + (0.6 if w.endswith((".", "?")) else 0.05)
    return Segment(start, words[-1].end or t, text, words=tuple(words), speaker=speaker)


def test_every_cue_meets_the_netflix_profile() -> None:
    p = profile_for("netflix", "en")
    cues = build_cues(Transcript("en", (spoken(TEXT),)), p)
    assert " ".join(c.text for c in cues) == TEXT
    assert check(cues, p, "en").passed  # the QC's line-break rule too
    for n, c in enumerate(cues):
        assert len(c.lines) <= 2 and all(len(line) <= 42 for line in c.lines), c
        assert p.min_duration - 1e-6 <= c.duration <= p.max_duration + 1e-6, c
        assert c.cps <= p.max_cps + 1e-6, c
        assert c.speech_start is not None and abs(c.start - c.speech_start) <= 2 * p.frame
        if n + 1 < len(cues):
            gap = cues[n + 1].start - c.end
            assert gap >= p.min_gap - 1e-3, (c, cues[n + 1])  # times are whole ms
            assert gap <= p.min_gap + 1e-3 or gap >= p.chain_gap - 1e-3


def test_cues_end_sentences_rather_than_start_them() -> None:
    cues = build_cues(Transcript("en", (spoken(TEXT),)), profile_for("netflix", "en"))
    assert cues[0].text == "Where were you last night?"
    for c, following in pairwise(cues):
        # a cue ends on punctuation, or where the next one opens a clause
        assert c.text.endswith((".", "?", ",")) or following.text.startswith("and "), c
    assert not any(line.endswith(("the", "Rahul")) for c in cues for line in c.lines)


def test_no_cue_holds_two_speakers_or_spans_a_long_pause() -> None:
    a = spoken("Where were you last night?", 0.5, "SPEAKER_00")
    b = spoken("At home.", 2.3, "SPEAKER_01")
    c = spoken("I waited at the station.", 10.0, "SPEAKER_01")
    cues = build_cues(Transcript("en", (a, b, c)), profile_for("netflix", "en"))
    assert [(x.text, x.speaker) for x in cues] == [
        ("Where were you last night?", "SPEAKER_00"),
        ("At home.", "SPEAKER_01"),
        ("I waited at the station.", "SPEAKER_01"),
    ]


def test_untimed_segments_are_spread_and_still_split() -> None:
    long = Segment(10.0, 40.0, " ".join(["word"] * 60) + ". Short end.")
    cues = build_cues(Transcript("en", (long,)), profile_for("bbc", "en"))
    assert len(cues) >= 4
    assert cues[0].start == 10.0
    assert all(c.duration <= 7.0 and len(c.lines) <= 2 for c in cues)


def test_a_short_cue_reads_into_the_silence_after_it() -> None:
    p = profile_for("netflix", "en")
    # 26 characters need 1.3 s at 20 cps; the speech lasts 1.0 s: 0.3 s into the silence.
    assert cue_end(1.0, 2.0, 26, None, p) == 2.3
    # and at most extend_seconds, unless the minimum duration needs more
    assert cue_end(1.0, 2.0, 60, None, p) == 2.5
    assert cue_end(1.0, 1.2, 5, None, p) == 1.0 + p.min_duration
    # a following cue 5 frames after: chained to 2 frames before it
    assert cue_end(1.0, 2.0, 10, 2.0 + 5 / 24, p) == 2.0 + 3 / 24


def test_hindi_reads_at_its_own_speed() -> None:
    assert profile_for("netflix", "hi").max_cps == 22
    assert isinstance(build_cues(Transcript("hi", ()), profile_for("netflix", "hi")), list)
    assert Cue(0.0, 1.0, ("नमस्ते",)).chars == 6


def _said(text: str, start: float, end: float, speaker: str) -> Segment:
    return Segment(start, end, text, words=(Word(text, start, end, 0.9),), speaker=speaker)


def test_a_quick_exchange_is_one_dialogue_pair() -> None:
    p = profile_for("netflix", "en")
    exchange = (
        _said("Coming?", 0.5, 0.9, "SPEAKER_00"),
        _said("Yes.", 1.0, 1.3, "SPEAKER_01"),
        spoken("Then hurry, we are late.", 1.5, "SPEAKER_00"),
    )
    cues = build_cues(Transcript("en", exchange), p)
    assert cues[0].lines == ("- Coming?", "- Yes.")
    assert cues[0].speaker == "SPEAKER_00" and cues[1].text == "Then hurry, we are late."
    assert check(cues, p, "en").passed
    # Readable apart, two speakers keep their own cues.
    apart = build_cues(Transcript("en", (exchange[0], _said("Yes.", 3.0, 3.3, "B"))), p)
    assert [c.lines for c in apart] == [("Coming?",), ("Yes.",)]


def test_speaker_labels_lead_each_change_and_fit_the_line() -> None:
    p = profile_for("netflix", "en")
    a = spoken("Where were you last night? I waited for you at the station.", 0.5, "Jai")
    b = spoken("At home.", 5.3, "SPEAKER_01")
    c = spoken("I was at home the whole evening, reading letters.", 7.0, "SPEAKER_01")
    cues = build_cues(Transcript("en", (a, b, c)), p, speaker_labels=True)
    assert cues[0].lines[0].startswith("[Jai] Where")
    assert [x.text for x in cues].count("[SPEAKER_01] At home.") == 1
    assert not any("[" in x.text for x in cues[2:])  # the same speaker goes on unlabelled
    assert all(len(line) <= p.max_chars_per_line for x in cues for line in x.lines)
