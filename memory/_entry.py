"""Layer 4's records: a memory entry, its context and key (the spec's fields), a match, and the
``TM_*`` policy; and the two text forms matching compares (canonical for exact, normalised for
fuzzy)."""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz

__all__ = [
    "HUMAN",
    "TM_COLUMNS",
    "TmContext",
    "TmEntry",
    "TmMatch",
    "TmPolicy",
    "canonical",
    "normalise",
    "tm_key",
]

HUMAN = "human"  # model_used of imported (TMX) and user-approved translations
MatchLevel = Literal["context", "exact", "fuzzy"]


def canonical(text: str) -> str:
    """What "exact segment" compares: NFC text with whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def normalise(texts: pa.Array | Sequence[str]) -> pa.Array:
    """Fuzzy-matching form, vectorised (the same code for a million entries and for a query):
    NFKC, lower case, numbers as one placeholder, punctuation dropped, whitespace collapsed."""
    arr = texts if isinstance(texts, pa.Array) else pa.array(list(texts), pa.string())
    arr = pc.utf8_lower(pc.utf8_normalize(arr, form="NFKC"))
    arr = pc.replace_substring_regex(arr, r"\p{N}+(?:[.,]\p{N}+)*", "0")
    arr = pc.replace_substring_regex(arr, r"[\p{P}\p{S}]+", " ")
    return pc.utf8_trim_whitespace(pc.replace_substring_regex(arr, r"\s+", " "))


def _digest(*parts: Any) -> str:
    blob = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TmContext:
    """Neighbouring source segments, nearest first (``TM_CONTEXT_WINDOW_SIZE`` each side)."""

    prev: tuple[str, ...] = ()
    next: tuple[str, ...] = ()

    @classmethod
    def around(cls, texts: Sequence[str], i: int, window: int) -> TmContext:
        return cls(
            prev=tuple(canonical(t) for t in reversed(texts[max(0, i - window) : i])),
            next=tuple(canonical(t) for t in texts[i + 1 : i + 1 + window]),
        )

    @property
    def empty(self) -> bool:
        return not self.prev and not self.next

    @property
    def digest(self) -> str:
        return _digest(list(self.prev), list(self.next))

    @property
    def flat(self) -> str:
        return " | ".join((*reversed(self.prev), "@", *self.next))

    def similarity(self, other: TmContext) -> float | None:
        """0..1, or None when either side has no context to compare."""
        if self.empty or other.empty:
            return None
        return float(fuzz.ratio(self.flat, other.flat)) / 100.0


def tm_key(
    source: str,
    source_lang: str,
    target_lang: str,
    model: str,
    glossary_hash: str,
    context: TmContext,
) -> str:
    """The spec's translation key (segment, languages, glossary hash, context) plus the model,
    so two models' translations of one line live side by side."""
    return _digest(
        canonical(source), source_lang, target_lang, model, glossary_hash, context.digest
    )


@dataclass(frozen=True)
class TmEntry:
    source: str
    target: str
    source_lang: str
    target_lang: str
    model: str = HUMAN
    glossary_hash: str = ""
    glossary_terms: tuple[str, ...] = ()
    context: TmContext = field(default_factory=TmContext)
    confidence: float = 1.0
    compute_seconds: float = 0.0  # what the model took for it: what a reuse saves
    reuse_count: int = 0
    created_at: datetime | None = None
    last_used: datetime | None = None
    user_approved: bool = False
    movie_id: str | None = None
    audio_hash: str | None = None

    @property
    def key(self) -> str:
        return tm_key(
            self.source,
            self.source_lang,
            self.target_lang,
            self.model,
            self.glossary_hash,
            self.context,
        )

    def row(self) -> dict[str, Any]:
        """The ``tm_entries`` row (spec field names)."""
        return {
            "cache_key": self.key,
            "source_lang": self.source_lang,
            "target_lang": self.target_lang,
            "source_segment": canonical(self.source),
            "translated_segment": self.target,
            "model_used": self.model,
            "glossary_hash": self.glossary_hash,
            "glossary_terms_applied": list(self.glossary_terms),
            "context_prev": list(self.context.prev),
            "context_next": list(self.context.next),
            "confidence": float(self.confidence),
            "compute_seconds": float(self.compute_seconds),
            "reuse_count": int(self.reuse_count),
            "created_at": self.created_at,
            "last_used": self.last_used,
            "user_approved": bool(self.user_approved),
            "movie_id": self.movie_id,
            "audio_hash": self.audio_hash,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TmEntry:
        return cls(
            source=row["source_segment"],
            target=row["translated_segment"],
            source_lang=row["source_lang"],
            target_lang=row["target_lang"],
            model=row["model_used"],
            glossary_hash=row["glossary_hash"],
            glossary_terms=tuple(row["glossary_terms_applied"] or ()),
            context=TmContext(tuple(row["context_prev"] or ()), tuple(row["context_next"] or ())),
            confidence=float(row["confidence"]),
            compute_seconds=float(row.get("compute_seconds") or 0.0),
            reuse_count=int(row["reuse_count"]),
            created_at=row["created_at"],
            last_used=row["last_used"],
            user_approved=bool(row["user_approved"]),
            movie_id=row["movie_id"],
            audio_hash=row["audio_hash"],
        )

    def to_dict(self) -> dict[str, Any]:
        """The spec's cached-data shape, plus ``target`` as ``find_translation_match`` promises."""
        row = self.row()
        row["target"] = self.target
        row["context"] = {"prev": row.pop("context_prev"), "next": row.pop("context_next")}
        for stamp in ("created_at", "last_used"):
            row[stamp] = row[stamp].isoformat() if row[stamp] else None
        return row


TM_COLUMNS = tuple(TmEntry(source="", target="", source_lang="", target_lang="").row())


@dataclass(frozen=True)
class TmPolicy:
    """The spec's ``TRANSLATION_MEMORY_ENABLED`` and ``TM_*`` settings."""

    enabled: bool = True
    fuzzy_threshold: float = 0.80  # TM_FUZZY_MATCH_THRESHOLD: lowest score returned
    reuse_score: float = 0.90  # spec's confidence bar: a match at or above it is used as-is
    context_window: int = 3  # TM_CONTEXT_WINDOW_SIZE
    min_confidence: float = 0.85  # TM_MIN_CONFIDENCE: a translation below it is not stored
    min_reuse_count: int = 2  # TM_MIN_REUSE_COUNT: reused this often, it outlives max_age_days
    max_age_days: int = 180  # TM_MAX_AGE_DAYS: unused this long (and not approved), it expires
    max_bytes: int = 10 << 30  # TM_MAX_CACHE_SIZE_GB


@dataclass(frozen=True)
class TmMatch:
    entry: TmEntry
    score: float
    level: MatchLevel
    target: str  # the entry's target, numbers carried over from the query where they differ
