"""A film's cast: the voices heard in its jobs, each under a label the film keeps across jobs
and, once the user gives one, a name.

Diarization labels speakers afresh in every job (its SPEAKER_00 may be last job's SPEAKER_01);
the cast tells the same voice again by its voice, the unit-length mean of its speaker
embeddings, so a re-cut or the next episode shows the same speaker under the same name.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from records import Diarization

from ._model import GlossaryError, check_movie_id

__all__ = ["SAME_VOICE", "Cast", "CastMember"]

# Euclidean distance between two unit voices under which they are one person (cosine >= 0.78).
# The diarizer merges clusters closer than 0.6; across recordings a voice drifts further.
SAME_VOICE = 0.66
_MAX_HEARD_FROM = 1000  # audio hashes remembered, so re-runs of one audio count once
_NAME = re.compile(r"[^\[\]\n]{1,64}")


@dataclass(frozen=True)
class CastMember:
    label: str  # the film's own label, stable across its jobs ("SPEAKER_00")
    voice: tuple[float, ...]  # unit length
    name: str | None = None  # given by the user; never set by learning
    seconds: float = 0.0  # speech heard from this voice so far: the weight of its voice

    @property
    def shown(self) -> str:
        """What the job's JSON and cues call this speaker."""
        return self.name or self.label

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "name": self.name,
            "seconds": round(self.seconds, 3),
            "voice": [round(x, 6) for x in self.voice],
        }


def _distance(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    if len(a) != len(b):
        return math.inf  # a voice from another embedding model is nobody's
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def _mean(a: tuple[float, ...], wa: float, b: tuple[float, ...], wb: float) -> tuple[float, ...]:
    total = wa + wb or 1.0
    mixed = [(x * wa + y * wb) / total for x, y in zip(a, b, strict=True)]
    norm = math.sqrt(sum(x * x for x in mixed)) or 1.0
    return tuple(x / norm for x in mixed)


@dataclass(frozen=True)
class Cast:
    movie_id: str
    members: tuple[CastMember, ...] = ()
    heard_from: tuple[str, ...] = ()  # audio hashes whose voices are already counted

    def member(self, label: str) -> CastMember:
        for m in self.members:
            if m.label == label or (m.name is not None and m.name == label):
                return m
        known = ", ".join(m.shown for m in self.members) or "none yet"
        raise GlossaryError(
            f"{self.movie_id} has no speaker {label!r} (its speakers: {known}); "
            "run a job on the film first, then name a label its subtitles show"
        )

    def named(self, label: str, name: str) -> Cast:
        """The cast with the speaker ``label`` (or the one already called that) named."""
        name = name.strip()
        if not _NAME.fullmatch(name):
            raise GlossaryError(f"bad speaker name {name!r}: 1 to 64 characters, no brackets")
        target = self.member(label)
        members = tuple(
            dataclasses.replace(m, name=name) if m is target else m for m in self.members
        )
        return dataclasses.replace(self, members=members)

    def recognise(self, diarization: Diarization, audio_hash: str) -> tuple[Cast, dict[str, str]]:
        """Each of the job's speakers as the film knows them (job label -> name, else the film's
        label), closest voices first, one job speaker to one member; voices the film has not
        heard join it under new labels. The cast learns the voices once per audio."""
        seconds = diarization.seconds()
        pairs = sorted(
            (_distance(voice, m.voice), label, k)
            for label, voice in diarization.voices.items()
            for k, m in enumerate(self.members)
        )
        members = list(self.members)
        matched: dict[str, int] = {}
        for distance, label, k in pairs:
            if distance > SAME_VOICE:
                break
            if label not in matched and k not in matched.values():
                matched[label] = k
        learn = audio_hash not in self.heard_from
        used = {m.label for m in members}
        for label, voice in diarization.voices.items():
            heard = seconds.get(label, 0.0)
            if label in matched:
                k = matched[label]
                if learn:
                    m = members[k]
                    mixed = _mean(m.voice, m.seconds, voice, heard)
                    members[k] = dataclasses.replace(m, voice=mixed, seconds=m.seconds + heard)
                continue
            if not learn:
                continue  # a voice no longer close to any member: shown under the job's label
            new = label if label not in used else _free_label(used)
            used.add(new)
            matched[label] = len(members)
            members.append(CastMember(new, voice, None, heard))
        names = {label: members[k].shown for label, k in matched.items()}
        heard_from = (*self.heard_from, audio_hash) if learn else self.heard_from
        cast = dataclasses.replace(
            self, members=tuple(members), heard_from=heard_from[-_MAX_HEARD_FROM:]
        )
        return cast, names

    def to_dict(self) -> dict[str, Any]:
        return {
            "movie_id": self.movie_id,
            "members": [m.to_dict() for m in self.members],
            "heard_from": list(self.heard_from),
        }

    @classmethod
    def from_dict(cls, d: object) -> Cast:
        try:
            assert isinstance(d, Mapping)
            members = tuple(
                CastMember(
                    label=str(m["label"]),
                    voice=tuple(float(x) for x in m["voice"]),
                    name=None if m.get("name") is None else str(m["name"]),
                    seconds=float(m.get("seconds", 0.0)),
                )
                for m in d["members"]
            )
            return cls(
                check_movie_id(str(d["movie_id"])),
                members,
                tuple(str(h) for h in d.get("heard_from", ())),
            )
        except (AssertionError, KeyError, TypeError, ValueError) as exc:
            raise GlossaryError(f"not a cast: {type(exc).__name__} {exc}") from None


def _free_label(used: set[str]) -> str:
    n = 0
    while f"SPEAKER_{n:02d}" in used:
        n += 1
    return f"SPEAKER_{n:02d}"
