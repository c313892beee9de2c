"""Layer 4, translation memory: entries, their keys, and tiered matching.

Matching follows the spec's levels and the industry's bands (Trados, memoQ):

1. exact segment + exact context: 1.0 (a Trados "context match")
2. exact segment + similar context (>= 0.80): 0.9
3. similar segment: the rapidfuzz ratio of the normalised texts, times 0.9 when both sides
   know a context and the contexts differ (a memoQ-style penalty, not a refusal: a line heard
   in another scene is still the same line).

A 1M-entry memory answers a fuzzy query in milliseconds because it never scans: entries are
numbered in order of normalised length, so a length window (Translate Toolkit's idea, sized
here from the threshold) is an id range, and an inverted index of normalised tokens (CSR
arrays) yields the entries sharing the query's rarest tokens within that range. Only those few
are scored with rapidfuzz.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process

__all__ = [
    "HUMAN",
    "TM_COLUMNS",
    "TmContext",
    "TmEntry",
    "TmMatch",
    "TmPolicy",
    "TranslationMemory",
    "canonical",
    "normalise",
    "tm_key",
]

HUMAN = "human"  # model_used of imported (TMX) and user-approved translations
MatchLevel = Literal["context", "exact", "fuzzy"]

_CONTEXT_BAR = 0.80  # spec: "exact segment + similar context (>80% match)"
_CONTEXT_PENALTY = 0.9
_POSTING_BUDGET = 20_000  # ids gathered per query at most: bounds the worst case
_RESCORED = 512  # candidates scored with rapidfuzz per query (one cdist-like batch)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


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


def _carry_numbers(query: str, source: str, target: str) -> str | None:
    """memoQ-style auto-fix: a match differing only in numbers gets the query's numbers."""
    new, old = _NUMBER.findall(query), _NUMBER.findall(source)
    if new == old:
        return target
    if len(new) != len(old) or any(target.count(n) != 1 for n in old):
        return None
    for a, b in zip(old, new, strict=True):
        target = target.replace(a, f"\0{b}\0", 1)
    return target.replace("\0", "")


class TranslationMemory:
    """An in-memory, read-only matcher over the entries of one language pair."""

    def __init__(self, entries: pa.Table) -> None:
        norm = normalise(entries.column("source_segment").combine_chunks())
        lengths = pc.utf8_length(norm).to_numpy(zero_copy_only=False).astype(np.int64)
        order = np.argsort(lengths, kind="stable")
        self._table = entries.take(pa.array(order))
        self._norm: list[str] = norm.take(pa.array(order)).to_pylist()
        self._lengths = lengths[order]
        self._rows: dict[int, TmEntry] = {}
        self._exact: dict[str, list[int]] = {}
        for i, text in enumerate(self._table.column("source_segment").to_pylist()):
            self._exact.setdefault(text, []).append(i)
        self._build_postings(pa.array(self._norm, pa.string()))
        self._models = self._codes("model_used")
        self._glossaries = self._codes("glossary_hash")
        approved = self._table.column("user_approved").to_numpy(zero_copy_only=False)
        self._human = approved.astype(bool) | (self._models[1] == self._models[0].get(HUMAN, -1))

    def _codes(self, column: str) -> tuple[dict[str, int], np.ndarray]:
        encoded = pc.dictionary_encode(self._table.column(column).combine_chunks())
        vocab = {v: i for i, v in enumerate(encoded.dictionary.to_pylist())}
        return vocab, encoded.indices.to_numpy(zero_copy_only=False)

    def _usable(
        self, ids: np.ndarray, models: Iterable[str] | None, glossary_hash: str | None
    ) -> np.ndarray:
        """Human translations always qualify; machine ones only from the given models and
        made under the same glossary terms."""
        ok = np.ones(len(ids), bool)
        for wanted, (vocab, codes) in (
            (None if models is None else set(models), self._models),
            (None if glossary_hash is None else {glossary_hash}, self._glossaries),
        ):
            if wanted is not None:
                allowed = [vocab[w] for w in wanted if w in vocab]
                ok &= np.isin(codes[ids], allowed)
        keep: np.ndarray = ids[ok | self._human[ids]]
        return keep

    def __len__(self) -> int:
        return len(self._norm)

    def _build_postings(self, norm: pa.Array) -> None:
        tokens = pc.split_pattern(norm, " ")
        flat = pc.list_flatten(tokens)
        owner = pc.list_parent_indices(tokens).to_numpy().astype(np.int32)
        encoded = pc.dictionary_encode(flat)
        ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        vocab = encoded.dictionary.to_pylist()
        self._vocab = {t: i for i, t in enumerate(vocab)}
        # Sort by (token, entry): each token's posting list is a sorted run of entry ids, so a
        # length window (an id range) is two binary searches into it.
        order = np.lexsort((owner, ids))
        ids, owner = ids[order], owner[order]
        first = np.ones(len(ids), bool)  # a token twice in one entry is posted once
        first[1:] = (ids[1:] != ids[:-1]) | (owner[1:] != owner[:-1])
        ids, self._postings = ids[first], owner[first]
        counts = np.bincount(ids, minlength=len(vocab))
        self._offsets = np.concatenate(([0], np.cumsum(counts)))

    def entry(self, i: int) -> TmEntry:
        if i not in self._rows:
            self._rows[i] = TmEntry.from_row(self._table.slice(i, 1).to_pylist()[0])
        return self._rows[i]

    def match(
        self,
        source: str,
        context: TmContext = TmContext(),
        *,
        threshold: float = 0.80,
        models: Iterable[str] | None = None,
        glossary_hash: str | None = None,
    ) -> TmMatch | None:
        """The best match at or above ``threshold``, trying the levels in order.

        ``models`` limits machine translations to those models (human ones always qualify);
        ``glossary_hash`` limits them to those made under the same glossary terms.
        """
        exact_ids = np.array(self._exact.get(canonical(source), ()), np.int64)
        exact = [int(i) for i in self._usable(exact_ids, models, glossary_hash)]
        found = [
            (1.0, "context", i) for i in exact if self.entry(i).context.digest == context.digest
        ]
        if not found:
            found = [
                (0.9, "exact", i)
                for i in exact
                if (self.entry(i).context.similarity(context) or 1.0) >= _CONTEXT_BAR
            ]
        if not found:
            found = self._fuzzy(source, context, threshold, models, glossary_hash)
        best = max(found, key=lambda f: (f[0], *self._rank(f[2])), default=None)
        if best is None:
            return None
        score, level, i = best
        entry = self.entry(i)
        target = _carry_numbers(source, entry.source, entry.target)
        if target is None:  # numbers differ and cannot be carried: never good enough as-is
            target, score = entry.target, min(score, 0.89)
        return TmMatch(entry, round(score, 4), level, target)  # type: ignore[arg-type]

    def _rank(self, i: int) -> tuple[bool, float, int, float]:
        """Ties: approved first, then confidence, reuse, recency."""
        e = self.entry(i)
        used = e.last_used.timestamp() if e.last_used else 0.0
        return (e.user_approved, e.confidence, e.reuse_count, used)

    def candidates(self, norm: str, threshold: float) -> np.ndarray:
        """Entries in the length window sharing the query's rarest tokens, most shared first.

        ``fuzz.ratio >= t`` needs the shorter text to be at least t / (2 - t) of the longer
        (0.6 at 0.75): that window loses no match by length, where tmdb's fixed 0.75 does.
        """
        n, window = len(norm), threshold / (2 - threshold)
        lo = int(np.searchsorted(self._lengths, math.ceil(n * window), "left"))
        hi = int(np.searchsorted(self._lengths, math.floor(n / window), "right"))
        if hi <= lo:
            return np.empty(0, np.int32)
        token_ids = {self._vocab[t] for t in norm.split(" ") if t in self._vocab}
        start, end = np.int32(lo), np.int32(hi)
        runs = sorted(
            (
                run[np.searchsorted(run, start) : np.searchsorted(run, end)]
                for run in (
                    self._postings[self._offsets[t] : self._offsets[t + 1]] for t in token_ids
                )
            ),
            key=len,
        )
        # Probe the rarest tokens first: an entry sharing at least half the query's tokens
        # holds one of the rarest half + 1 (pigeonhole), and rare runs are short.
        picked: list[np.ndarray] = []
        gathered = 0
        for run in runs[: len(runs) // 2 + 1]:
            if picked and gathered + len(run) > _POSTING_BUDGET:
                break
            picked.append(run)
            gathered += len(run)
        if not gathered:
            return np.empty(0, np.int64)
        counts = np.bincount(np.concatenate(picked) - start)
        ids = np.flatnonzero(counts)
        if len(ids) > _RESCORED:
            ids = ids[np.argpartition(-counts[ids], _RESCORED)[:_RESCORED]]
        return ids + lo

    def _fuzzy(
        self,
        source: str,
        context: TmContext,
        threshold: float,
        models: Iterable[str] | None,
        glossary_hash: str | None,
    ) -> list[tuple[float, str, int]]:
        norm = normalise([source])[0].as_py()
        if not norm:
            return []
        ids = [
            int(i) for i in self._usable(self.candidates(norm, threshold), models, glossary_hash)
        ]
        scored = process.extract(
            norm,
            [self._norm[i] for i in ids],
            scorer=fuzz.ratio,
            score_cutoff=threshold * 100,
            limit=None,
        )
        found = []
        for _, ratio, pos in scored:
            i = ids[pos]
            similar = self.entry(i).context.similarity(context)
            factor = _CONTEXT_PENALTY if similar is not None and similar < _CONTEXT_BAR else 1.0
            score = float(ratio) / 100.0 * factor
            if score >= threshold:
                found.append((score, "fuzzy", i))
        return found
