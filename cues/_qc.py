"""Quality control: each cue checked against a style profile's rules, in the spirit of Subtitle
Edit's Netflix checker, so a file's problems are counted and located before anyone watches it.

Files hold whole milliseconds (5/6 s is written as 833 ms), so every time comparison allows
1 ms; ASS holds centiseconds, so cues whose every time is a whole centisecond are allowed 10.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from records import spoken_words

from ._lines import splits_phrase
from ._model import Cue
from ._profile import Profile

__all__ = ["QcReport", "RuleResult", "check"]

TOLERANCE = 0.001  # seconds: what rounding to whole milliseconds may move a time
_CENTISECOND = 0.01
_SHOWN = 10  # offenders a rule lists


@dataclass(frozen=True)
class RuleResult:
    rule: str
    description: str
    failed: int  # cues that break it
    offenders: tuple[int, ...]  # the first of them, numbered from 1 as in an SRT file

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "description": self.description,
            "failed": self.failed,
            "offenders": list(self.offenders),
        }


@dataclass(frozen=True)
class QcReport:
    profile: str
    cues: int
    rules: tuple[RuleResult, ...]
    passing_cues: int  # cues that break no rule (offenders are capped, so it is kept)

    @property
    def passed(self) -> bool:
        return all(r.failed == 0 for r in self.rules)

    @property
    def passing_share(self) -> float:
        return self.passing_cues / self.cues if self.cues else 1.0

    @property
    def failed_rules(self) -> tuple[RuleResult, ...]:
        return tuple(r for r in self.rules if r.failed)

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile,
            "cues": self.cues,
            "passing_cues": self.passing_cues,
            "passing_share": self.passing_share,
            "passed": self.passed,
            "rules": [r.to_dict() for r in self.rules],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QcReport:
        return cls(
            profile=str(d["profile"]),
            cues=int(d["cues"]),
            rules=tuple(
                RuleResult(
                    rule=str(r["rule"]),
                    description=str(r["description"]),
                    failed=int(r["failed"]),
                    offenders=tuple(int(n) for n in r["offenders"]),
                )
                for r in d["rules"]
            ),
            passing_cues=int(d["passing_cues"]),
        )


def _seconds(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def _ms(value: float) -> str:
    return f"{round(value * 1000)} ms"


def _normal(text: str) -> str:
    """The text as the ear hears it: case, punctuation and spacing gone."""
    return " ".join(spoken_words(text))


@dataclass(frozen=True)
class _Cues:
    """What a rule looks at: the cues, the profile they are held to, their language."""

    cues: Sequence[Cue]
    p: Profile
    language: str | None
    tol: float  # seconds a time may be off by the file's rounding

    def gap_after(self, k: int) -> float | None:
        return self.cues[k + 1].start - self.cues[k].end if k + 1 < len(self.cues) else None


def _chars_per_line(c: _Cues, k: int) -> bool:
    return any(len(line) > c.p.max_chars_per_line for line in c.cues[k].lines)


def _lines(c: _Cues, k: int) -> bool:
    return len(c.cues[k].lines) > c.p.max_lines


def _reading_speed(c: _Cues, k: int) -> bool:
    return c.cues[k].chars / c.p.max_cps > c.cues[k].duration + c.tol


def _min_duration(c: _Cues, k: int) -> bool:
    return c.cues[k].duration < c.p.min_duration - c.tol


def _max_duration(c: _Cues, k: int) -> bool:
    return c.cues[k].duration > c.p.max_duration + c.tol


def _gap(c: _Cues, k: int) -> bool:
    gap = c.gap_after(k)
    return gap is not None and gap < c.p.min_gap - c.tol


def _chaining(c: _Cues, k: int) -> bool:
    gap = c.gap_after(k)
    return gap is not None and c.p.min_gap + c.tol < gap < c.p.chain_gap - c.tol


def _sync(c: _Cues, k: int) -> bool:
    cue = c.cues[k]
    limit = c.p.sync_frames * c.p.frame + c.tol
    return cue.speech_start is not None and abs(cue.start - cue.speech_start) > limit


def _line_breaks(c: _Cues, k: int) -> bool:
    return splits_phrase(c.cues[k].lines, c.language)


def _repetition(c: _Cues, k: int) -> bool:
    text = _normal(c.cues[k].text)
    return (
        k >= 2 and bool(text) and _normal(c.cues[k - 1].text) == _normal(c.cues[k - 2].text) == text
    )


def _empty(c: _Cues, k: int) -> bool:
    return not c.cues[k].text.strip()


def _tolerance(cues: Sequence[Cue]) -> float:
    """How far rounding may have moved the cues' times: a centisecond where every one is
    whole centiseconds (an ASS file), else a millisecond."""
    times = [t for cue in cues for t in (cue.start, cue.end)]
    coarse = bool(times) and all(abs(t * 100 - round(t * 100)) < 1e-6 for t in times)
    return _CENTISECOND if coarse else TOLERANCE


def _rules(p: Profile) -> tuple[tuple[str, str, Callable[[_Cues, int], bool]], ...]:
    """Each rule's name, its description under ``p``, and whether cue k breaks it."""
    return (
        ("chars_per_line", f"at most {p.max_chars_per_line} characters a line", _chars_per_line),
        ("lines", f"at most {p.max_lines} lines", _lines),
        ("reading_speed", f"at most {p.max_cps:g} characters a second", _reading_speed),
        ("min_duration", f"on screen at least {_seconds(p.min_duration)}", _min_duration),
        ("max_duration", f"on screen at most {_seconds(p.max_duration)}", _max_duration),
        ("gap", f"at least {p.min_gap_frames} frames ({_ms(p.min_gap)}) to the next cue", _gap),
        (
            "chaining",
            f"a gap under {p.chain_frames} frames ({_ms(p.chain_gap)}) closed to "
            f"{p.min_gap_frames} frames",
            _chaining,
        ),
        ("sync", f"in within {p.sync_frames} frames of its first word", _sync),
        (
            "line_breaks",
            "no line ends on a word that leads into the next (an article, a first name)",
            _line_breaks,
        ),
        ("repetition", "no cue the same as the two before it", _repetition),
        ("empty", "no cue without text", _empty),
    )


def check(cues: Sequence[Cue], profile: Profile, language: str | None = None) -> QcReport:
    """Every cue against every rule of ``profile`` (at ``language``'s reading speed, when
    given): how many cues break each rule, the first of them, and how many break none."""
    p = profile.for_language(language) if language else profile
    held = _Cues(cues, p, language, _tolerance(cues))
    failing: set[int] = set()
    results = []
    for name, description, breaks in _rules(p):
        offenders = [k for k in range(len(cues)) if breaks(held, k)]
        failing.update(offenders)
        shown = tuple(k + 1 for k in offenders[:_SHOWN])
        results.append(RuleResult(name, description, len(offenders), shown))
    return QcReport(p.name, len(cues), tuple(results), len(cues) - len(failing))
