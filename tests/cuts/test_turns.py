"""Speaker turns carried from another cut: moved into the new timeline span by span, the gaps
left to diarize, and each fresh voice under the old label of the same voice."""

from __future__ import annotations

import math

from cuts import Alignment, Span, merge_turns, plan_turn_reuse
from glossary import SAME_VOICE
from records import Diarization, SpeakerTurn

A, B, C = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)


def _old() -> Diarization:
    turns = (SpeakerTurn(0, 10, "SPEAKER_00"), SpeakerTurn(10, 40, "SPEAKER_01"))
    return Diarization(turns, {"SPEAKER_00": A, "SPEAKER_01": B})


def test_turns_move_with_their_span_and_the_gap_between_is_left_to_diarize() -> None:
    # The new cut: the old 0-25 s, then 5 s of new audio, then the old 25-40 s.
    spans = (Span(0, 25, 0, 25), Span(30, 45, 25, 40))
    plan = plan_turn_reuse(_old(), Alignment(spans, 45, 40, 1.0), 45)
    assert plan.ranges == ((25.0, 30.0),)
    assert [(t.start, t.end, t.speaker) for t in plan.carried] == [
        (0, 10, "SPEAKER_00"),
        (10, 25, "SPEAKER_01"),
        (30, 45, "SPEAKER_01"),
    ]
    assert plan.carried_seconds == 40 and plan.diarized_seconds == 5


def test_a_cut_at_another_speed_scales_the_turns() -> None:
    speed = 25 / 23.976  # PAL: the new cut plays faster, old seconds per new second
    span = Span(0, 40 / speed, 0, 40)
    plan = plan_turn_reuse(_old(), Alignment((span,), 40 / speed, 40, speed), 40 / speed)
    assert plan.ranges == ()
    assert math.isclose(plan.carried[1].start, 10 / speed, abs_tol=1e-3)


def test_a_fresh_voice_takes_the_old_label_of_the_same_voice_else_a_new_one() -> None:
    old = _old()
    plan = plan_turn_reuse(old, Alignment((Span(0, 40, 0, 40),), 50, 40, 1.0), 50)
    assert plan.ranges == ((40.0, 50.0),)
    near_b = (0.05, 0.998, 0.0)  # SPEAKER_01 again, as another recording hears them
    fresh = Diarization(
        (SpeakerTurn(40, 44, "SPEAKER_00"), SpeakerTurn(44, 50, "SPEAKER_01")),
        {"SPEAKER_00": near_b, "SPEAKER_01": C},
    )
    merged = merge_turns(old, plan, fresh, SAME_VOICE)
    assert [t.speaker for t in merged.turns] == [
        "SPEAKER_00",
        "SPEAKER_01",
        "SPEAKER_01",  # the fresh SPEAKER_00 is the old SPEAKER_01's voice
        "SPEAKER_02",  # a voice the old cut never heard: a label it does not use
    ]
    assert merged.voices["SPEAKER_02"] == C and merged.voices["SPEAKER_01"] == B
    starts = [t.start for t in merged.turns]
    assert starts == sorted(starts)
