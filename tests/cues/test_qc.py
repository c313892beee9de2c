"""The QC report: each rule caught where it is broken, and only there, on hand-made cues; what
build_cues makes passes every Netflix rule."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cues import PROFILES, Cue, QcReport, build_cues, check, profile_for
from records import Transcript
from tests.cues.test_build import TEXT, spoken

NETFLIX = PROFILES["netflix"]  # 20 characters a second; Hindi's 22 with language="hi"


def _cues(n: int = 4) -> list[Cue]:
    """Cues that break no rule: 1.5 s each, 0.6 s apart, on time. Times are not whole
    centiseconds, so the 1 ms tolerance applies."""
    return [
        Cue(t, t + 1.5, (f"Line number {k}.",), None, t, t + 1.4)
        for k in range(n)
        for t in [round(0.001 + 2.1 * k, 3)]
    ]


def _with(k: int, **changes: object) -> list[Cue]:
    cues = _cues()
    cues[k] = dataclasses.replace(cues[k], **changes)  # type: ignore[arg-type]
    return cues


def _failed(cues: list[Cue], language: str | None = None) -> dict[str, tuple[int, ...]]:
    return {r.rule: r.offenders for r in check(cues, NETFLIX, language).failed_rules}


def test_good_cues_pass() -> None:
    report = check(_cues(), NETFLIX)
    assert report.passed and report.passing_share == 1.0 and report.failed_rules == ()
    assert [r.rule for r in report.rules] == [
        "chars_per_line",
        "lines",
        "reading_speed",
        "min_duration",
        "max_duration",
        "gap",
        "chaining",
        "sync",
        "line_breaks",
        "repetition",
        "empty",
    ]


def test_lines_and_reading_speed() -> None:
    assert _failed(_with(1, lines=("x" * 43,))) == {"chars_per_line": (2,), "reading_speed": (2,)}
    assert _failed(_with(1, lines=("x" * 42,))) == {"reading_speed": (2,)}  # 28 a second
    assert _failed(_with(2, lines=("One.", "Two.", "Three."))) == {"lines": (3,)}
    thirty = "Thirty characters a line, yes."
    assert len(thirty) == 30
    assert _failed(_with(0, lines=(thirty,)), "hi") == {}  # 1.5 s: 20 a second
    fast = _with(0, lines=(thirty,), end=0.001 + 1.4)  # 21.4 a second
    assert _failed(fast) == {"reading_speed": (1,)}
    assert _failed(fast, "hi") == {}  # Hindi's 22


def test_durations_allow_a_millisecond() -> None:
    def lasting(seconds: float) -> list[Cue]:
        return _with(3, lines=("Yes.",), end=round(_cues()[3].start + seconds, 3))

    assert _failed(lasting(0.833)) == {}  # 5/6 s, as a file holds it
    assert _failed(lasting(0.831)) == {"min_duration": (4,)}
    assert _failed(lasting(7.001)) == {}
    assert _failed(lasting(7.01)) == {"max_duration": (4,)}


def test_gaps_and_chaining() -> None:
    def gap_after_first(gap: float) -> list[Cue]:
        cues = _cues()
        return [dataclasses.replace(cues[0], end=round(cues[1].start - gap, 3)), *cues[1:]]

    assert _failed(gap_after_first(0.083)) == {}  # 2 frames, in whole ms
    assert _failed(gap_after_first(0.081)) == {"gap": (1,)}
    assert _failed(gap_after_first(-0.2)) == {"gap": (1,)}  # an overlap
    assert _failed(gap_after_first(0.3)) == {"chaining": (1,)}  # not closed to 2 frames
    assert _failed(gap_after_first(0.5)) == {}  # 12 frames: left open


def test_centisecond_times_are_allowed_a_centisecond() -> None:
    """ASS holds centiseconds: an 83 ms gap is written 80 ms there."""
    cues = [Cue(1.0, 2.0, ("First.",)), Cue(2.08, 3.0, ("Second.",)), Cue(3.6, 4.5, ("Third.",))]
    assert check(cues, NETFLIX).passed
    assert _failed([Cue(1.0, 2.0, ("First.",)), Cue(2.07, 3.0, ("Second.",))]) == {"gap": (1,)}


def test_sync_only_where_the_speech_is_known() -> None:
    assert _failed(_with(1, speech_start=_cues()[1].start + 0.1)) == {"sync": (2,)}
    assert _failed(_with(1, speech_start=_cues()[1].start - 0.084)) == {}  # 2 frames
    assert _failed(_with(1, speech_start=None, start=_cues()[1].start + 0.02)) == {}


@pytest.mark.parametrize(
    ("lines", "bad"),
    [
        (("I saw the", "man yesterday."), True),
        (("I met Rahul", "Sharma at noon."), True),
        (("Where were you,", "my friend?"), False),
        (("I waited", "at the station."), False),
    ],
)
def test_line_breaks(lines: tuple[str, ...], bad: bool) -> None:
    assert _failed(_with(2, lines=lines), "en") == ({"line_breaks": (3,)} if bad else {})


def test_repetition_and_empty() -> None:
    cues = _cues(5)
    said = [("No.",), ("no!",), ("NO",), ("No...",)]
    cues[1:5] = [dataclasses.replace(c, lines=t) for c, t in zip(cues[1:5], said, strict=True)]
    assert _failed(cues) == {"repetition": (4, 5)}
    assert _failed(_with(0, lines=())) == {"empty": (1,)}
    assert _failed(_with(0, lines=("  ",))) == {"empty": (1,)}


def test_offenders_are_numbered_from_one_and_capped_at_ten() -> None:
    cues = [Cue(3 * k + 0.001, 3 * k + 2.501, (f"{k:02d}" + "x" * 41,)) for k in range(15)]
    report = check(cues, NETFLIX)
    [result] = report.failed_rules
    assert result.rule == "chars_per_line" and result.failed == 15
    assert result.offenders == tuple(range(1, 11))
    assert report.passing_share == 0.0 and not report.passed


def test_passing_share_counts_cues_that_break_no_rule() -> None:
    cues = _with(2, lines=("x" * 43, "y", "z"))  # three rules, one cue
    report = check(cues, NETFLIX)
    assert len(report.failed_rules) == 3 and report.passing_share == 0.75
    empty = check([], NETFLIX)
    assert empty.passed and empty.cues == 0 and empty.passing_share == 1.0


def test_report_round_trips_through_json() -> None:
    report = check(_with(2, lines=("x" * 43, "y", "z")), NETFLIX, "hi")
    d = json.loads(json.dumps(report.to_dict()))
    assert QcReport.from_dict(d) == report
    assert d["profile"] == "netflix" and d["cues"] == 4 and d["passed"] is False
    assert d["passing_share"] == 0.75
    assert d["rules"][0] == {
        "rule": "chars_per_line",
        "description": "at most 42 characters a line",
        "failed": 1,
        "offenders": [3],
    }


def test_descriptions_carry_the_profile_numbers() -> None:
    netflix = {r.rule: r.description for r in check([], NETFLIX, "hi").rules}
    assert netflix["reading_speed"] == "at most 22 characters a second"
    assert netflix["min_duration"] == "on screen at least 0.833 s"
    assert netflix["gap"] == "at least 2 frames (83 ms) to the next cue"
    bbc = {r.rule: r.description for r in check([], PROFILES["bbc"]).rules}
    assert bbc["chars_per_line"] == "at most 37 characters a line"
    assert bbc["min_duration"] == "on screen at least 1 s"


def test_build_cues_pass_every_netflix_rule() -> None:
    profile = profile_for("netflix", "en")
    cues = build_cues(Transcript("en", (spoken(TEXT),)), profile)
    report = check(cues, profile, "en")
    assert report.passed, report.failed_rules
    assert report.cues == len(cues) > 4
