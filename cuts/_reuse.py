"""Reusing another cut's transcript: which cached words carry over, and what is left to hear.

A cached segment is reused when it lies wholly inside a shared span, with a margin at the span's
edges (an edit can clip a word there); one an edit falls in keeps the run of its words that lie
inside the span (where its words are timed), so an edit spoils the audio around it rather than
the whole segment. What is reused is moved, and scaled for a speed change, into the new
timeline. Everything else, the unshared audio plus the words around each edit, is transcribed
fresh with a little context either side, and fresh segments that overlap a reused one are
dropped, so nothing is said twice.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from records import Segment, Word

from ._align import Alignment, Span

__all__ = ["ReusePlan", "merge_segments", "plan_reuse", "split_ranges"]

EDGE_MARGIN = 0.25  # seconds a reused segment keeps from a span's edge
CONTEXT = 1.0  # seconds of audio either side of a range to transcribe
MIN_RANGE = 0.5  # shorter leftovers hold no speech worth a model call
WINDOW = 30.0  # seconds Whisper's encoder hears at once: a shorter range is padded to it
# What a padded second costs against a heard one: the encoder pays for it, the decoder does not.
# Measured (benchmarks/reuse_run.py): a 97%-shared cut's ASR took what this makes of its ranges.
PADDING_COST = 0.5


@dataclass(frozen=True)
class ReusePlan:
    source: str  # audio hash of the cut whose transcript is reused
    reused: tuple[Segment, ...]  # in the new timeline
    ranges: tuple[tuple[float, float], ...]  # new-time ranges to transcribe fresh

    @property
    def reused_seconds(self) -> float:
        return round(sum(s.end - s.start for s in self.reused), 3)

    @property
    def transcribed_seconds(self) -> float:
        return round(sum(b - a for a, b in self.ranges), 3)

    @property
    def cost_seconds(self) -> float:
        """What hearing the ranges costs, as seconds of audio heard in one pass: each range its
        own audio, plus the padding of it to a whole encoder window at ``PADDING_COST``. A cut
        edited every few seconds leaves so many ranges that this passes the cut's own length."""
        return round(sum(_cost(b - a) for a, b in self.ranges), 3)

    def costs_more_than_whole(self, new_seconds: float) -> bool:
        """Whether hearing the ranges costs more than hearing the whole cut."""
        whole = math.ceil(new_seconds / WINDOW) * WINDOW - new_seconds
        return self.cost_seconds > new_seconds + PADDING_COST * whole


def _cost(seconds: float) -> float:
    return seconds + PADDING_COST * max(0.0, WINDOW - seconds)


def _moved(segment: Segment, span: Span) -> Segment:
    def word(w: Word) -> Word:
        return dataclasses.replace(
            w,
            start=None if w.start is None else round(span.to_new(w.start), 3),
            end=None if w.end is None else round(span.to_new(w.end), 3),
        )

    return dataclasses.replace(
        segment,
        start=round(span.to_new(segment.start), 3),
        end=round(span.to_new(segment.end), 3),
        words=tuple(word(w) for w in segment.words),
    )


def _merged(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def plan_reuse(
    source: str, old: tuple[Segment, ...], alignment: Alignment, new_seconds: float
) -> ReusePlan:
    """Reuse what lies inside the spans; hear again everything between reused segments that
    holds unshared audio, from the end of one reused segment to the start of the next, so a
    fresh segment never repeats a reused one's words."""
    reused: list[Segment] = []
    holes: list[tuple[float, float]] = []  # new-time audio no reused segment covers
    cursor = 0.0
    for span in alignment.spans:
        holes.append((cursor, span.new_start))
        # No edit at the old cut's own start or end: no margin needed there.
        lo = span.old_start + (EDGE_MARGIN if span.old_start > EDGE_MARGIN else -1.0)
        at_end = span.old_end >= alignment.old_seconds - 2 * EDGE_MARGIN
        hi = span.old_end + (1.0 if at_end else -EDGE_MARGIN)
        kept = (s if s.start >= lo and s.end <= hi else s.within(lo, hi) for s in old)
        inside = [_moved(s, span) for s in kept if s is not None]
        reused += inside
        first = min((s.start for s in inside), default=span.new_end)
        last = max((s.end for s in inside), default=span.new_start)
        holes += [(span.new_start, first), (last, span.new_end)]
        cursor = span.new_end
    holes.append((cursor, new_seconds))
    reused.sort(key=lambda s: s.start)
    ranges = [_between(reused, a, b, new_seconds) for a, b in holes if b - a >= MIN_RANGE]
    return ReusePlan(source, tuple(reused), tuple(_merged(ranges)))


def _between(reused: list[Segment], a: float, b: float, new_seconds: float) -> tuple[float, float]:
    """A hole widened to the reused segments either side of it (context for the model that
    nobody else transcribes), or by ``CONTEXT`` where there is none."""
    before = max((s.end for s in reused if s.end <= a + 1e-6), default=None)
    after = min((s.start for s in reused if s.start >= b - 1e-6), default=None)
    start = max(before, a - CONTEXT) if before is not None else max(0.0, a - CONTEXT)
    end = min(after, b + CONTEXT) if after is not None else min(new_seconds, b + CONTEXT)
    return (round(start, 3), round(end, 3))


def merge_segments(reused: tuple[Segment, ...], fresh: tuple[Segment, ...]) -> tuple[Segment, ...]:
    """One transcript: reused segments, and the fresh ones that do not repeat them (a fresh
    segment overlapping a reused one by more than half of itself came from the context)."""

    def repeats(f: Segment) -> bool:
        length = max(f.end - f.start, 1e-6)
        return any(min(f.end, r.end) - max(f.start, r.start) > length / 2 for r in reused)

    return tuple(sorted((*reused, *(f for f in fresh if not repeats(f))), key=lambda s: s.start))


def split_ranges(
    ranges: list[tuple[float, float]],
    energies: npt.NDArray[np.floating],
    frame_seconds: float,
    chunk_seconds: float,
    search: float = 10.0,
) -> list[tuple[float, float]]:
    """Ranges cut into chunks of about ``chunk_seconds``, each cut at the quietest frame within
    ``search`` seconds of where it would fall, so no word is split; each chunk is then one
    unit of work that a killed job need not redo."""
    out: list[tuple[float, float]] = []
    for start, end in ranges:
        cut = start
        while end - cut > chunk_seconds + search:
            lo = int((cut + chunk_seconds - search) / frame_seconds)
            hi = int((cut + chunk_seconds + search) / frame_seconds)
            window = energies[lo:hi]
            at = (
                (lo + int(np.argmin(window))) * frame_seconds
                if len(window)
                else cut + chunk_seconds
            )
            out.append((round(cut, 3), round(at, 3)))
            cut = at
        out.append((round(cut, 3), round(end, 3)))
    return out
