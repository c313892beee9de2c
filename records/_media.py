"""What a film's audio is known as: its fingerprint (layer 1) and its transcript (layer 3)."""

from __future__ import annotations

import base64
import itertools
import re
import struct
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from typing import Any

__all__ = [
    "AudioFingerprint",
    "Diarization",
    "NoiseProfile",
    "Segment",
    "SpeakerTurn",
    "Transcript",
    "Word",
]

# A word that ends a sentence: its last letter followed by a full stop, question or exclamation
# mark (Latin, Devanagari's danda, Arabic, CJK), then perhaps a closing quote or bracket.
_SENTENCE_END = re.compile("[.!?\u2026\u0964\u0965\u061f\u3002\uff01\uff1f][\"'\u201d\u2019)\\]]*$")


@dataclass(frozen=True)
class Word:
    word: str
    start: float | None = None
    end: float | None = None
    score: float | None = None
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if self.speaker is None:  # transcripts without speakers are stored as they always were
            del out["speaker"]
        return out


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str
    confidence: float | None = None
    words: tuple[Word, ...] = ()
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "text": self.text}
        if self.confidence is not None:
            out["confidence"] = self.confidence
        if self.words:
            out["words"] = [w.to_dict() for w in self.words]
        if self.speaker is not None:
            out["speaker"] = self.speaker
        return out

    def sentences(self) -> tuple[Segment, ...]:
        """This segment cut after each word that ends a sentence, each piece timed by its
        words and keeping its own spacing: a translation's lines (a 30 s segment holds many,
        and a line translated alone lines up with the source's cues). Whole where a word is
        untimed or its text is not the words'."""
        ends = self._word_ends()
        if ends is None:
            return (self,)
        cuts = [
            n + 1 for n, w in enumerate(self.words[:-1]) if _SENTENCE_END.search(w.word.strip())
        ]
        if not cuts:
            return (self,)
        bounds = [0, *cuts, len(self.words)]
        return tuple(self._piece(a, b, ends) for a, b in itertools.pairwise(bounds))

    def within(self, lo: float, hi: float) -> Segment | None:
        """The run of this segment's words that lie wholly within ``lo``-``hi`` seconds, as a
        segment of its own (another cut reuses what an edit left whole); None where no word
        does, or a word is untimed or its text is not the words'."""
        ends = self._word_ends()
        if ends is None:
            return None
        inside = [
            n
            for n, w in enumerate(self.words)
            if w.start is not None and w.end is not None and lo <= w.start and w.end <= hi
        ]
        if not inside:
            return None
        if len(inside) == len(self.words):
            return self
        return self._piece(inside[0], inside[-1] + 1, ends)

    @property
    def timed(self) -> bool:
        """Every word has its times: the word stage need not see this segment again."""
        return bool(self.words) and all(
            w.start is not None and w.end is not None for w in self.words
        )

    def _word_ends(self) -> list[int] | None:
        """Where each word's text ends in ``text``; None where a word is untimed or its text
        is not found in order."""
        if not self.timed:
            return None
        ends, pos = [], 0
        for word in self.words:
            said = word.word.strip()
            found = self.text.find(said, pos)
            if not said or found < 0:
                return None
            pos = found + len(said)
            ends.append(pos)
        return ends

    def _piece(self, a: int, b: int, ends: list[int]) -> Segment:
        """Words ``a`` to ``b`` (exclusive), timed by them, with the text between the end of
        the word before and the end of the last (keeping its own spacing)."""
        words = self.words[a:b]
        start, stop = words[0].start, words[-1].end
        assert start is not None and stop is not None
        begin = ends[a - 1] if a else 0
        end = ends[b - 1] if b < len(self.words) else len(self.text)
        text = self.text[begin:end].strip()
        speaker = _most_said(words) or self.speaker  # each piece its own speaker
        return Segment(start, stop, text, self.confidence, words, speaker)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Segment:
        return cls(
            start=float(d["start"]),
            end=float(d["end"]),
            text=str(d["text"]),
            confidence=None if d.get("confidence") is None else float(d["confidence"]),
            words=tuple(Word(**w) for w in d.get("words", ())),
            speaker=d.get("speaker"),
        )


@dataclass(frozen=True)
class Transcript:
    """WhisperX-like result: the payload of the ASR and translation layers."""

    language: str
    segments: tuple[Segment, ...]
    language_probs: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return " ".join(s.text.strip() for s in self.segments).strip()

    @property
    def mean_confidence(self) -> float | None:
        """The segments' confidence weighted by their length; None when none has one."""
        timed = [s for s in self.segments if s.confidence is not None]
        length = sum(s.end - s.start for s in timed)
        if length <= 0:
            return None
        return sum((s.confidence or 0.0) * (s.end - s.start) for s in timed) / length

    def to_dict(self) -> dict[str, Any]:
        return {
            "language": self.language,
            "language_probs": dict(self.language_probs),
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transcript:
        return cls(
            language=str(d.get("language", "")),
            segments=tuple(Segment.from_dict(s) for s in d["segments"]),
            language_probs={str(k): float(v) for k, v in d.get("language_probs", {}).items()},
        )


@dataclass(frozen=True)
class NoiseProfile:
    snr_db: float
    noise_floor_dbfs: float
    background_noise_level: str  # low | medium | high
    clarity: float | None = None  # share of the speech-like frames 20 dB clear of the floor


@dataclass(frozen=True)
class AudioFingerprint:
    """Layer 1: what we know about a decoded audio stream, keyed by the SHA-256 of its samples."""

    audio_hash: str
    duration: float
    sample_rate: int
    channels: int
    noise_profile: NoiseProfile
    chromaprint: tuple[int, ...]
    source_file: str
    created_at: str
    language_detected: str | None = None
    language_probs: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # Raw Chromaprint is ~8 uint32 a second: pack it, not 60k JSON integers per film.
        d["chromaprint"] = base64.b64encode(
            struct.pack(f"<{len(self.chromaprint)}I", *self.chromaprint)
        ).decode("ascii")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AudioFingerprint:
        raw = base64.b64decode(d["chromaprint"])
        return cls(
            audio_hash=d["audio_hash"],
            duration=float(d["duration"]),
            sample_rate=int(d["sample_rate"]),
            channels=int(d["channels"]),
            noise_profile=NoiseProfile(**d["noise_profile"]),
            chromaprint=struct.unpack(f"<{len(raw) // 4}I", raw),
            source_file=d["source_file"],
            created_at=d["created_at"],
            language_detected=d.get("language_detected"),
            language_probs={str(k): float(v) for k, v in d.get("language_probs", {}).items()},
        )


def _most_said(words: Sequence[Word]) -> str | None:
    """Who speaks most of ``words``' time; None when no timed word has a speaker."""
    said: dict[str, float] = {}
    for w in words:
        if w.speaker is not None and w.start is not None and w.end is not None:
            said[w.speaker] = said.get(w.speaker, 0.0) + max(w.end - w.start, 0.01)
    return max(said, key=said.__getitem__) if said else None


# A change of speaker this many words or fewer from a sentence's end is moved to it: turn edges
# from diarization are a few hundred ms off, and a sentence is rarely shared by two people.
SNAP_WORDS = 2


def _snapped(texts: list[str], speakers: list[str | None]) -> list[str | None]:
    """``speakers`` (one per word of ``texts``) with each change of speaker inside a sentence
    moved to the nearest sentence end at most SNAP_WORDS words away (nearer first, earlier on
    a tie), unless another change lies between."""
    out = list(speakers)
    ends = {n + 1 for n, text in enumerate(texts) if _SENTENCE_END.search(text.strip())}
    known = [n for n, who in enumerate(out) if who is not None]
    for a, b in pairwise(known):
        if out[a] == out[b] or b in ends:
            continue  # no change, or one at a sentence's end already
        for shift in sorted(range(-SNAP_WORDS, SNAP_WORDS + 1), key=lambda k: (abs(k), k)):
            edge = b + shift
            if shift == 0 or edge not in ends or not 0 < edge < len(out):
                continue
            lo, hi = min(b, edge), max(b, edge)
            span = [n for n in range(lo, hi) if out[n] is not None]
            if shift > 0 and all(out[n] == out[b] for n in span):
                for n in span:
                    out[n] = out[a]  # the speaker before goes on to the sentence's end
                break
            if shift < 0 and all(out[n] == out[a] for n in span):
                for n in span:
                    out[n] = out[b]  # the new speaker starts the sentence
                break
    return out


@dataclass(frozen=True)
class SpeakerTurn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class Diarization:
    """Who speaks when (turns in time order, none overlapping) and each speaker's voice: the
    unit-length mean of their speaker embeddings, to tell the same voice in another job."""

    turns: tuple[SpeakerTurn, ...]
    voices: dict[str, tuple[float, ...]] = field(default_factory=dict)

    @property
    def speakers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.speaker for t in self.turns))

    @cached_property
    def _ends(self) -> list[float]:
        return [t.end for t in self.turns]

    def speaker_at(self, start: float, end: float) -> str | None:
        """Who speaks most between ``start`` and ``end``; for a span no turn overlaps, the
        speaker of the nearest turn within a second, else None."""
        # Turns are in time order and never overlap, so their ends are sorted too: only the
        # turns from the first one ending after ``start`` can overlap, and where none does,
        # the nearest is that one or the one before it.
        first = bisect_right(self._ends, start)
        talk: dict[str, float] = {}
        for t in self.turns[first:]:
            if t.start >= end:
                break
            overlap = min(end, t.end) - max(start, t.start)
            if overlap > 0:
                talk[t.speaker] = talk.get(t.speaker, 0.0) + overlap
        if talk:
            return max(talk, key=talk.__getitem__)
        nearby = self.turns[max(first - 1, 0) : first + 1]
        gaps = [(max(t.start - end, start - t.end), t.speaker) for t in nearby]
        near = min(gaps, default=None)
        return near[1] if near is not None and near[0] <= 1.0 else None

    def seconds(self) -> dict[str, float]:
        """Each speaker's speech, in seconds."""
        said: dict[str, float] = {}
        for t in self.turns:
            said[t.speaker] = said.get(t.speaker, 0.0) + t.end - t.start
        return said

    def renamed(self, names: Mapping[str, str]) -> Diarization:
        """The turns under ``names`` (job label -> what the film calls that voice); the voices
        stay with the film, which has just recognised them."""
        turns = tuple(replace(t, speaker=names.get(t.speaker, t.speaker)) for t in self.turns)
        return Diarization(turns=turns)

    def label(self, transcript: Transcript) -> Transcript:
        """``transcript`` with a speaker on every word (whoever speaks most over it, a change
        moved to a sentence's end within ``SNAP_WORDS`` words, see ``_snapped``) and on every
        segment (whoever speaks most of its words' time, or of its span when its words are
        untimed)."""
        heard = [
            self.speaker_at(w.start, w.end) if w.start is not None and w.end is not None else None
            for seg in transcript.segments
            for w in seg.words
        ]
        words = [w for seg in transcript.segments for w in seg.words]
        speakers = iter(_snapped([w.word for w in words], heard))
        segments = []
        for segment in transcript.segments:
            labelled = tuple(
                replace(w, speaker=who) if (who := next(speakers)) is not None else w
                for w in segment.words
            )
            speaker = _most_said(labelled) or self.speaker_at(segment.start, segment.end)
            segments.append(replace(segment, words=labelled, speaker=speaker))
        return replace(transcript, segments=tuple(segments))

    def to_dict(self) -> dict[str, Any]:
        return {
            "turns": [[t.start, t.end, t.speaker] for t in self.turns],
            "voices": {k: list(v) for k, v in self.voices.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diarization:
        return cls(
            turns=tuple(SpeakerTurn(float(a), float(b), str(s)) for a, b, s in d["turns"]),
            voices={str(k): tuple(float(x) for x in v) for k, v in d.get("voices", {}).items()},
        )
