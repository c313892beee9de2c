"""Condensing: only hesitations, comma-closed openers, asides and stammers go, and only from a
cue that cannot be read in time."""

from __future__ import annotations

import dataclasses

import pytest

from cues import build_cues, check, profile_for
from cues._condense import condensed
from records import Segment, Transcript, Word


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        ("Oh, I'm originally from Chicago also.", "I'm originally from Chicago also."),
        ("I thought, you know, I heard a beep.", "I thought, I heard a beep."),
        ("I I think um the the plan is fine, uh.", "I think the plan is fine."),
        ("Well, there isn't that much difference.", "There isn't that much difference."),
        ("You know, I mean it.", "I mean it."),
        # grammar stays: a repeat that is meant, an opener without its comma, a lone word
        ("I know that that is true.", "I know that that is true."),
        ("So I don't hear that now.", "So I don't hear that now."),
        ("Um.", "Um."),
    ],
)
def test_what_goes_and_what_stays(said: str, shown: str) -> None:
    assert " ".join(condensed(said.split(), "en")) == shown


def test_a_language_without_a_list_keeps_every_word() -> None:
    said = ["Oh,", "je", "ne", "sais", "pas,", "um."]
    assert condensed(said, "fr") == said


def fast(text: str, start: float, seconds: float, speaker: str | None = None) -> Segment:
    """``text`` said evenly over ``seconds``, with no pause to read into."""
    parts = text.split()
    step = seconds / len(parts)
    words = tuple(
        Word(w, round(start + k * step, 3), round(start + (k + 1) * step, 3), 0.9)
        for k, w in enumerate(parts)
    )
    return Segment(start, start + seconds, text, words=words, speaker=speaker)


def test_a_cue_too_fast_to_read_loses_its_fillers_and_passes() -> None:
    said = "Well, you know, I I thought um the train had left."  # 49 characters
    # the other speaker answers at once: no silence to read into
    follow = fast("And then it came.", 3.2, 1.0, "SPEAKER_01")
    transcript = Transcript("en", (fast(said, 1.0, 2.1, "SPEAKER_00"), follow))
    netflix = profile_for("netflix", "en")
    cues = build_cues(transcript, netflix)
    assert cues[0].text == "I thought the train had left."
    assert check(cues, netflix, "en").passed
    assert cues[0].speech_start == 1.0  # still in on the first word said
    # SUBTITLE_CONDENSE=false: every word, and the QC says it cannot be read
    verbatim = build_cues(transcript, dataclasses.replace(netflix, condense=False))
    assert " ".join(c.text for c in verbatim) == f"{said} And then it came."
    assert not check(verbatim, netflix, "en").passed


def test_a_cue_read_in_time_keeps_every_word() -> None:
    said = "Well, you know, I thought the train had left."
    cues = build_cues(Transcript("en", (fast(said, 1.0, 4.0),)), profile_for("netflix", "en"))
    assert " ".join(c.text for c in cues) == said
