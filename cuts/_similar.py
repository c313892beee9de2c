"""Finding a film's other cuts among the stored ones, and what to reuse from them.

A lookup never scans every stored fingerprint: the index keeps each film's Chromaprint subhashes
(``_subhashes``), the few films sharing the most of them with the new one are aligned, and the
share of shared audio is weighed with what else is known, by the spec's weights (fingerprint
0.4, content 0.3, language 0.2, genre/title 0.1; a component nobody knows is left out and the
rest reweighted). The spec's bands then say what may be reused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from records import AudioFingerprint

from ._align import Alignment, Fingerprint, align, best_alignment

__all__ = [
    "BANDS",
    "LENDING_BANDS",
    "SPEEDS",
    "Band",
    "SimilarJob",
    "band_for",
    "compare",
    "similarity",
]

Band = Literal["reuse-all", "reuse-config", "reuse-language", "none"]
# (bar, band, what it allows): the spec's "Similarity-Based Optimization" actions.
BANDS: tuple[tuple[float, Band, str], ...] = (
    (0.95, "reuse-all", "pipeline config, glossary, ASR and translations"),
    (0.80, "reuse-config", "glossary, model choice and config"),
    (0.60, "reuse-language", "language settings; related glossaries suggested"),
)
# The bands in which a stored cut lends this one its transcript, speaker turns and settings.
LENDING_BANDS: tuple[Band, ...] = ("reuse-all", "reuse-config")
_WEIGHTS = {"fingerprint": 0.4, "content": 0.3, "language": 0.2, "title": 0.1}
# Speed changes between releases (old seconds per new second): film (23.976 fps) run at PAL's
# 25 fps, and a PAL master slowed back to film speed.
SPEEDS = (25 / 23.976, 23.976 / 25)


def band_for(score: float) -> Band:
    return next((band for bar, band, _ in BANDS if score > bar), "none")


def similarity(
    shared_ratio: float,
    language: tuple[str | None, str | None] = (None, None),
    title: tuple[str | None, str | None] = (None, None),
) -> float:
    """The spec's weighted similarity. Shared audio stands for both the fingerprint and the
    content component (the same dialogue heard); language and title count only when both sides
    know them."""
    parts = {"fingerprint": shared_ratio, "content": shared_ratio}
    for name, (a, b) in (("language", language), ("title", title)):
        if a and b:
            parts[name] = 1.0 if a == b else 0.0
    total = sum(_WEIGHTS[name] for name in parts)
    return round(sum(_WEIGHTS[name] * value for name, value in parts.items()) / total, 4)


@dataclass(frozen=True)
class SimilarJob:
    audio_hash: str
    source_file: str
    similarity: float
    band: Band
    alignment: Alignment
    shared_keys: int  # subhashes in common: why this film was a candidate
    language: str | None = None  # the stored cut's detected language

    @property
    def shared_ratio(self) -> float:
        return self.alignment.shared_ratio


def compare(
    new: AudioFingerprint,
    old: AudioFingerprint,
    shared_keys: int,
    title: tuple[str | None, str | None] = (None, None),
    at_speeds: Mapping[float, Fingerprint] | None = None,
    speed: float = 1.0,
) -> SimilarJob:
    """Align ``new`` with ``old`` and weigh the result. ``at_speeds`` holds the new audio
    fingerprinted at other speeds (see :func:`best_alignment`); ``speed`` is the one whose
    subhashes found ``old``. A tempo change that kept the pitch is found only by trying: the
    plain alignment of such a cut still covers it, in spans that drift by seconds."""
    others = dict(at_speeds or {})
    if speed != 1.0 and speed in others:
        others = {speed: others[speed]}
    alignment = (
        best_alignment({1.0: new.chromaprint, **others}, old.chromaprint)
        if others
        else align(new.chromaprint, old.chromaprint)
    )
    score = similarity(
        alignment.shared_ratio, (new.language_detected, old.language_detected), title
    )
    return SimilarJob(
        old.audio_hash,
        old.source_file,
        score,
        band_for(score),
        alignment,
        shared_keys,
        old.language_detected,
    )
