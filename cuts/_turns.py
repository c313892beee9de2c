"""Reusing another cut's speaker turns: diarization is the dearest stage on a CPU (about 90 s of
a 10-minute program), and who speaks when in the audio two cuts share does not change with the
edit. The old cut's turns inside each shared span carry over, moved into the new timeline; only
the audio no span covers is diarized, and each voice found there takes the old cut's label for
the same voice (its speaker embedding within ``same_voice``), so a speaker keeps one label
across the edit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from records import Diarization, SpeakerTurn

from ._align import Alignment

__all__ = ["TurnReuse", "merge_turns", "plan_turn_reuse"]

MIN_GAP = 1.0  # seconds: new audio shorter than this holds no turn worth diarizing


@dataclass(frozen=True)
class TurnReuse:
    carried: tuple[SpeakerTurn, ...]  # the old cut's turns, in new time
    ranges: tuple[tuple[float, float], ...]  # new-time audio no shared span covers

    @property
    def carried_seconds(self) -> float:
        return round(sum(t.end - t.start for t in self.carried), 3)

    @property
    def diarized_seconds(self) -> float:
        return round(sum(b - a for a, b in self.ranges), 3)


def plan_turn_reuse(old: Diarization, alignment: Alignment, new_seconds: float) -> TurnReuse:
    """The old turns clipped to each span and moved; the gaps between spans to diarize."""
    carried: list[SpeakerTurn] = []
    ranges: list[tuple[float, float]] = []
    cursor = 0.0
    for span in alignment.spans:
        if span.new_start - cursor >= MIN_GAP:
            ranges.append((round(cursor, 3), round(span.new_start, 3)))
        for t in old.turns:
            start, end = max(t.start, span.old_start), min(t.end, span.old_end)
            if end > start:
                a, b = round(span.to_new(start), 3), round(span.to_new(end), 3)
                carried.append(SpeakerTurn(a, b, t.speaker))
        cursor = max(cursor, span.new_end)
    if new_seconds - cursor >= MIN_GAP:
        ranges.append((round(cursor, 3), round(new_seconds, 3)))
    return TurnReuse(tuple(sorted(carried, key=lambda t: t.start)), tuple(ranges))


def merge_turns(
    old: Diarization, plan: TurnReuse, fresh: Diarization, same_voice: float
) -> Diarization:
    """The carried turns and the fresh ones in one time order, each fresh voice under the old
    label of the nearest old voice within ``same_voice`` (Euclidean, unit vectors), else under
    a label the old cut does not use."""
    names = _names(old.voices, fresh.voices, same_voice)
    taken = set(old.speakers) | set(old.voices) | set(names.values())
    number = 0
    for label in fresh.speakers:
        if label not in names:
            while f"SPEAKER_{number:02d}" in taken:
                number += 1
            names[label] = f"SPEAKER_{number:02d}"
            taken.add(names[label])
    turns = [*plan.carried, *(replace(t, speaker=names[t.speaker]) for t in fresh.turns)]
    voices = dict(old.voices)
    for label, voice in fresh.voices.items():
        voices.setdefault(names.get(label, label), voice)
    return Diarization(tuple(sorted(turns, key=lambda t: t.start)), voices)


def _names(
    old: Mapping[str, Sequence[float]], fresh: Mapping[str, Sequence[float]], same_voice: float
) -> dict[str, str]:
    """Fresh label -> old label, nearest pairs first, each old voice taken once."""
    pairs = sorted(
        (math.dist(v, w), new, known)
        for new, v in fresh.items()
        for known, w in old.items()
        if len(v) == len(w)
    )
    names: dict[str, str] = {}
    for distance, new, known in pairs:
        if distance < same_voice and new not in names and known not in names.values():
            names[new] = known
    return names
