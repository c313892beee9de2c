"""Cues from timed words, to a style profile.

Words are grouped where a subtitler would cut: never across a speaker change or a long pause;
preferably at a sentence's end, a pause or a clause. Among the groupings that fit the lines,
the one with the best breaks and reading speed wins (a shortest path over word boundaries).
Two short lines of a quick exchange share one cue as a dialogue pair, each led by a dash.
Each cue then starts on its first word; its out-time runs into the following silence as far as
reading speed and the minimum duration ask (the profile bounds how far), stops short of the
next cue by the minimum gap, and closes a gap shorter than the chaining threshold.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from records import Segment, Transcript

from ._condense import condensed
from ._lines import break_cost, break_lines, splits_phrase
from ._model import Cue
from ._profile import Profile

__all__ = ["build_cues"]

_SENTENCE_END = re.compile(r"[.?!\u0964\u2026\u3002] ")
HARD_PAUSE = 1.2  # seconds of silence no cue spans
_CUE_COST = 2.0  # each cue costs this much: fewer, fuller cues when breaks are equal
_OVER = 40.0  # cost of a second of reading time a cue lacks
_FAIL = 30.0  # cost of a cue that fails a QC rule
_SLACK = 0.001  # seconds: the QC's tolerance
_TRIM = 1.0  # cost of each word condensing drops
DASH = "- "  # leads each line of a dialogue pair (Netflix: one line per speaker)
PAIR_GAP = 1.0  # seconds: at most this between two lines of a pair, a quick exchange


@dataclass(frozen=True)
class _Word:
    text: str
    start: float
    end: float
    speaker: str | None


def _words_of(segment: Segment) -> Iterator[_Word]:
    """The segment's timed words; where it has none (a translation, an untimed transcript),
    its text spread over its time by length, so a cue still starts near its speech."""
    timed = [w for w in segment.words if w.word.strip()]
    if timed and all(w.start is not None and w.end is not None for w in timed):
        for w in timed:
            assert w.start is not None and w.end is not None
            speaker = w.speaker or segment.speaker  # a segment may hold a change of speaker
            yield _Word(w.word.strip(), w.start, max(w.end, w.start), speaker)
        return
    texts = segment.text.split()
    total = sum(len(t) + 1 for t in texts) or 1
    at, span = segment.start, max(segment.end - segment.start, 0.0)
    for text in texts:
        length = span * (len(text) + 1) / total
        yield _Word(text, round(at, 3), round(at + length, 3), segment.speaker)
        at += length


def _phrases(words: Sequence[_Word]) -> Iterator[list[_Word]]:
    """Runs of words that no cue splits across: a speaker change or a long pause ends one."""
    run: list[_Word] = []
    for w in words:
        if run and (w.speaker != run[-1].speaker or w.start - run[-1].end >= HARD_PAUSE):
            yield run
            run = []
        run.append(w)
    if run:
        yield run


class _Planner:
    """The cues of one phrase, as a shortest path over its word boundaries."""

    def __init__(
        self,
        words: list[_Word],
        after: float | None,
        profile: Profile,
        lang: str | None,
        label: str | None = None,
    ):
        self.words, self.after, self.profile, self.lang = words, after, profile, lang
        self.label = label  # "[Jai]": leads the phrase's first cue, and takes room in its line

    def _labelled(self, i: int, texts: list[str]) -> list[str]:
        return [self.label, *texts] if self.label and i == 0 else texts

    def next_start(self, j: int) -> float | None:
        return self.words[j].start if j < len(self.words) else self.after

    def cost(self, i: int, j: int) -> tuple[float, tuple[str, ...]] | None:
        """The cost of words[i:j] as one cue, and its lines; None where they cannot be one.
        Where the words cannot be read in time, their condensed text (``condensed``) is
        tried too."""
        words, p = self.words[i:j], self.profile
        start, end = words[0].start, words[-1].end
        if end - start > p.max_duration and j - i > 1:
            return None
        texts = [w.text for w in words]
        found = self._shown(self._labelled(i, texts), i, j)
        if p.condense and (found is None or found[2] > 0):
            short = condensed(texts, self.lang)
            trimmed = (
                self._shown(self._labelled(i, short), i, j) if len(short) < len(texts) else None
            )
            if trimmed is not None and (found is None or trimmed[0] < found[0]):
                found = (trimmed[0] + _TRIM * (len(texts) - len(short)), *trimmed[1:])
        if found is None:
            if j - i > 1:
                return None
            found = 50.0, (texts[0],), 0.0  # a word longer than a line: shown as it is
        cost, lines, _ = found
        if j < len(self.words):
            gap = self.words[j].start - words[-1].end
            cut = 3.0 * break_cost(texts[-1], self.words[j].text, self.lang)
            cost += max(0.0, cut - 8.0 * gap)
        return cost, lines

    def _shown(
        self, texts: list[str], i: int, j: int
    ) -> tuple[float, tuple[str, ...], float] | None:
        """``texts`` shown for words[i:j]: the cost, the lines and the seconds of reading time
        they lack; None where they do not fit the lines. A cue that breaks a rule the QC
        checks (reading speed, a line break inside a phrase) costs ``_FAIL`` on top, so the
        plan has as few failing cues as it can."""
        p = self.profile
        fitted = break_lines(texts, p.max_chars_per_line, p.max_lines, self.lang)
        if fitted is None:
            return None
        lines, cost = fitted
        chars = sum(len(line) for line in lines)
        start, end = self.words[i].start, self.words[j - 1].end
        shown = cue_end(start, end, chars, self.next_start(j), p) - start
        lacking = max(0.0, max(p.min_duration, chars / p.max_cps) - shown)
        cost += _CUE_COST + _OVER * lacking + 0.5 * max(0.0, shown - 5.0)
        cost += _FAIL * ((lacking > _SLACK) + splits_phrase(lines, self.lang))
        # A sentence that ends inside a line, not at its end, runs into the next one.
        cost += 3.0 * sum(_SENTENCE_END.search(line[:-1]) is not None for line in lines)
        return cost, lines, lacking

    def plan(self) -> list[Cue]:
        n = len(self.words)
        none: tuple[str, ...] = ()
        best = [(0.0, -1, none)] + [(math.inf, -1, none)] * n
        for j in range(1, n + 1):
            for i in range(j - 1, -1, -1):
                if best[i][0] == math.inf:
                    continue
                found = self.cost(i, j)
                if found is None:
                    break  # too long to show or to read: longer groups are longer still
                total = best[i][0] + found[0]
                if total < best[j][0]:
                    best[j] = (total, i, found[1])
        cues: list[Cue] = []
        j = n
        while j > 0:
            _, i, lines = best[j]
            first, last = self.words[i], self.words[j - 1]
            cues.append(Cue(first.start, last.end, lines, first.speaker, first.start, last.end))
            j = i
        return cues[::-1]


def cue_end(
    start: float, speech_end: float, chars: int, next_start: float | None, p: Profile
) -> float:
    """Where a cue on screen from ``start`` over speech ending at ``speech_end`` goes out:
    late enough to be read (into silence, at most ``extend_seconds`` past the speech, or as far
    as the minimum duration needs), never longer than the maximum, a minimum gap before the
    next cue, and chained to it when the gap left would be shorter than the chaining one."""
    read = max(speech_end, start + chars / p.max_cps)
    end = min(read, speech_end + p.extend_seconds)
    end = max(end, start + p.min_duration)
    end = min(end, start + p.max_duration)
    if next_start is not None:
        limit = next_start - p.min_gap
        if end > limit or (
            limit - end < p.chain_gap - p.min_gap and limit - start <= p.max_duration
        ):
            end = limit
    return end


def build_cues(transcript: Transcript, profile: Profile, speaker_labels: bool = False) -> list[Cue]:
    """The transcript's cues under ``profile`` (its reading speed already the language's).
    With ``speaker_labels``, a cue where the speaker changes starts with "[Speaker]"."""
    words = [w for seg in transcript.segments for w in _words_of(seg)]
    phrases = list(_phrases(words))
    planned: list[Cue] = []
    for k, phrase in enumerate(phrases):
        after = phrases[k + 1][0].start if k + 1 < len(phrases) else None
        speaker = phrase[0].speaker
        changed = speaker is not None and (k == 0 or phrases[k - 1][0].speaker != speaker)
        label = f"[{speaker}]" if speaker_labels and changed else None
        planned.extend(_Planner(phrase, after, profile, transcript.language, label).plan())
    return list(_timed(_paired(planned, profile), profile))


def _lacking(cue: Cue, next_start: float | None, p: Profile) -> float:
    """Seconds of reading time ``cue`` lacks before ``next_start``."""
    shown = cue_end(cue.start, cue.end, cue.chars, next_start, p) - cue.start
    return max(0.0, max(p.min_duration, cue.chars / p.max_cps) - shown)


def _paired(cues: Sequence[Cue], p: Profile) -> list[Cue]:
    """Two one-line cues of two speakers in a quick exchange, where either alone is on screen
    too briefly to be read, as one cue: "- Are you coming?" over "- In a minute." (cues are
    in speech time here)."""
    out: list[Cue] = []
    k = 0
    while k < len(cues):
        a = cues[k]
        b = cues[k + 1] if k + 1 < len(cues) else None
        if b is not None and _pairs(a, b, cues[k + 2].start if k + 2 < len(cues) else None, p):
            out.append(_pair(a, b))
            k += 2
            continue
        out.append(a)
        k += 1
    return out


def _pairs(a: Cue, b: Cue, after: float | None, p: Profile) -> bool:
    if a.speaker is None or b.speaker is None or a.speaker == b.speaker:
        return False
    if len(a.lines) != 1 or len(b.lines) != 1 or p.max_lines < 2:
        return False
    width = len(DASH) + max(len(a.lines[0]), len(b.lines[0]))
    if width > p.max_chars_per_line or b.start - a.end > PAIR_GAP:
        return False
    if b.end - a.start > p.max_duration:
        return False
    alone = max(_lacking(a, b.start, p), _lacking(b, after, p))
    if alone <= _SLACK:
        return False
    return _lacking(_pair(a, b), after, p) < alone


def _pair(a: Cue, b: Cue) -> Cue:
    return Cue(a.start, b.end, (DASH + a.lines[0], DASH + b.lines[0]), a.speaker, a.start, b.end)


def _timed(cues: Sequence[Cue], p: Profile) -> Iterator[Cue]:
    """Screen times: in on the first word (after the previous cue's gap, where alignment put
    words closer than that), out by :func:`cue_end`."""
    previous_end: float | None = None
    for k, cue in enumerate(cues):
        start = cue.start if previous_end is None else max(cue.start, previous_end + p.min_gap)
        following = cues[k + 1].start if k + 1 < len(cues) else None
        end = cue_end(start, max(cue.end, start), cue.chars, following, p)
        end = max(end, start + p.frame)
        previous_end = end
        yield Cue(round(start, 3), round(end, 3), cue.lines, cue.speaker, cue.start, cue.end)
