"""Learning from a transcript: character names and cultural terms counted over it (misspelt
variants folded into the name they are), and the counts merged into a glossary.

Each glossary remembers the digests of the transcripts it counted (``learned_from``), so a
cached re-run of the same film does not count its names twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from records import Segment, Transcript

from ._model import Glossary, GlossaryEntry, GlossaryPolicy
from ._terms import (
    CAPITALISED,
    CULTURAL_BY_FORM,
    CULTURAL_TERMS,
    MIN_NAME_LEN,
    NAME_MATCH_SCORE,
    STOPWORDS,
    name_similarity,
    tokens,
)

__all__ = [
    "MAX_LEARNED_FROM",
    "LearnReport",
    "absorb",
    "extract_character_names",
    "extract_cultural_terms",
    "transcript_digest",
]

MAX_CONTEXTS = 3
MAX_SPEAKERS = 8
MAX_CONTEXT_CHARS = 120
MAX_LEARNED_FROM = 10_000  # transcript digests remembered per glossary (oldest dropped)


@dataclass
class _Tally:
    """Counted occurrences of one surface form (mutable, local to one extraction)."""

    scores: list[float] = field(default_factory=list)
    non_initial: int = 0
    lower: int = 0  # the same word in lower case: evidence of a common word
    speakers: Counter[str] = field(default_factory=Counter)  # whom the word was said to
    contexts: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.scores)

    def add(self, score: float, initial: bool, segment: Segment, to: str | None = None) -> None:
        self.scores.append(score)
        self.non_initial += not initial
        if to:
            self.speakers[to] += 1
        line = segment.text.strip()[:MAX_CONTEXT_CHARS]
        if line and line not in self.contexts and len(self.contexts) < MAX_CONTEXTS:
            self.contexts.append(line)

    def absorb(self, other: _Tally) -> None:
        self.scores += other.scores
        self.non_initial += other.non_initial
        self.lower += other.lower
        self.speakers.update(other.speakers)
        for line in other.contexts:
            if line not in self.contexts and len(self.contexts) < MAX_CONTEXTS:
                self.contexts.append(line)

    @property
    def confidence(self) -> float:
        return round(sum(self.scores) / len(self.scores), 4) if self.scores else 0.0

    @property
    def speaker_names(self) -> tuple[str, ...]:
        return tuple(sorted(s for s, _ in self.speakers.most_common(MAX_SPEAKERS)))


def extract_character_names(
    transcript: Transcript,
    policy: GlossaryPolicy | None = None,
    known: Iterable[str] = (),
) -> list[GlossaryEntry]:
    """Character names: capitalised Latin words that are not stopwords, occur capitalised at
    least once mid-sentence, and are not mostly seen in lower case. A rarer word within
    NAME_MATCH_SCORE of a more frequent (or ``known``) name is that name misheard and counts
    for it. Entries reach ``min_frequency``; confidence is the mean score of the counted
    occurrences (those at or above ``min_word_confidence``)."""
    policy = policy or GlossaryPolicy()
    tallies: dict[str, _Tally] = {}
    lower: Counter[str] = Counter()
    for k, segment in enumerate(transcript.segments):
        to = _addressee(transcript.segments, k)
        for token, score, initial in tokens(segment):
            if token.islower():
                lower[token] += 1
            elif (
                CAPITALISED.fullmatch(token)
                and len(token) >= MIN_NAME_LEN
                and token.casefold() not in STOPWORDS
                and score >= policy.min_word_confidence
            ):
                tallies.setdefault(token, _Tally()).add(score, initial, segment, to)
    for token, tally in tallies.items():
        tally.lower = lower[token.lower()]
    return [
        GlossaryEntry(
            term=name,
            type="character_name",
            frequency=tally.count,
            confidence=tally.confidence,
            speakers=tally.speaker_names,
            contexts=tuple(tally.contexts),
        )
        for name, tally in _fold_variants(tallies, known).items()
        if tally.count >= policy.min_frequency
    ]


def _addressee(segments: Sequence[Segment], k: int) -> str | None:
    """Whom segment k is most likely said to: the speaker who answers it, else the one it
    answers. A name said to someone is a hint of who that someone is (a user's naming of a
    speaker is the fact, and learning never overwrites it)."""
    own = segments[k].speaker
    if own is None:
        return None
    for j in (k + 1, k - 1):
        if 0 <= j < len(segments) and segments[j].speaker not in (None, own):
            return segments[j].speaker
    return None


def _fold_variants(tallies: dict[str, _Tally], known: Iterable[str]) -> dict[str, _Tally]:
    """Fold each misspelling into the name it is closest to; keep the real names."""
    known_by_key = {k.casefold(): k for k in known}
    fixed = set(known_by_key.values())  # names already in a glossary anchor regardless of count
    names: dict[str, _Tally] = {}
    for token in sorted(tallies, key=lambda t: (-tallies[t].count, t)):
        tally = tallies[token]
        if tally.lower > tally.non_initial:
            continue  # "Will", "Rose": a common word that starts sentences
        target = known_by_key.get(token.casefold()) or _closest(token, [*names, *fixed])
        if target is not None and target not in fixed and names[target].count <= tally.count:
            target = None  # as frequent as its look-alike: two names, not a misspelling
        if target is not None:
            names.setdefault(target, _Tally()).absorb(tally)
        elif tally.non_initial > 0:
            names[token] = tally
    return names


def _closest(token: str, names: Sequence[str]) -> str | None:
    scored = ((name_similarity(token, n), n) for n in names)  # ties: the first, most frequent
    score, name = max(scored, key=lambda s: s[0], default=(0.0, ""))
    return name if score >= NAME_MATCH_SCORE else None


def extract_cultural_terms(
    transcript: Transcript, policy: GlossaryPolicy | None = None
) -> list[GlossaryEntry]:
    """Terms of CULTURAL_TERMS seen at least ``min_frequency`` times, in any of their forms."""
    policy = policy or GlossaryPolicy()
    tallies: dict[str, _Tally] = {}
    for segment in transcript.segments:
        for token, score, initial in tokens(segment):
            term = CULTURAL_BY_FORM.get(token.casefold())
            if term is not None and score >= policy.min_word_confidence:
                tallies.setdefault(term.term, _Tally()).add(score, initial, segment)
    by_term = {ct.term: ct for ct in CULTURAL_TERMS}
    return [
        by_term[term].entry(tally.count, tally.confidence, tuple(tally.contexts))
        for term, tally in sorted(tallies.items())
        if tally.count >= policy.min_frequency
    ]


def transcript_digest(transcript: Transcript) -> str:
    """Identity of a transcript for ``learned_from``: the same ASR result is counted once."""
    blob = json.dumps(transcript.to_dict(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _merge_learned(old: GlossaryEntry, new: GlossaryEntry) -> GlossaryEntry:
    total = old.frequency + new.frequency
    confidence = (
        (old.confidence * old.frequency + new.confidence * new.frequency) / total
        if total
        else new.confidence
    )
    contexts = list(old.contexts)
    contexts += [c for c in new.contexts if c not in contexts]
    return dataclasses.replace(
        old,
        frequency=total,
        confidence=round(confidence, 4),
        speakers=tuple(sorted({*old.speakers, *new.speakers}))[:MAX_SPEAKERS],
        contexts=tuple(contexts[:MAX_CONTEXTS]),
        translations=tuple({**dict(new.translations), **dict(old.translations)}.items()),
        forms=tuple(dict.fromkeys((*old.forms, *new.forms))),
    )


@dataclass(frozen=True)
class _Absorbed:
    glossary: Glossary
    added: tuple[str, ...]
    updated: tuple[str, ...]
    kept_user: tuple[str, ...]


def absorb(glossary: Glossary, found: Sequence[GlossaryEntry], source: str) -> _Absorbed:
    """Count ``found`` into ``glossary``: new terms are added, learned ones grow, user entries
    are never touched."""
    added: list[str] = []
    updated: list[str] = []
    kept: list[str] = []
    for entry in found:
        existing = glossary.get(entry.term)
        if existing is None:
            glossary = glossary.with_entry(entry)
            added.append(entry.term)
        elif existing.source == "user":
            kept.append(existing.term)
        else:
            glossary = glossary.with_entry(_merge_learned(existing, entry))
            updated.append(existing.term)
    sources = (*glossary.learned_from, source)[-MAX_LEARNED_FROM:]
    return _Absorbed(
        dataclasses.replace(glossary, learned_from=sources),
        tuple(added),
        tuple(updated),
        tuple(kept),
    )


@dataclass(frozen=True)
class LearnReport:
    """What one transcript taught the store (term lists, for the job log)."""

    movie_id: str
    added: tuple[str, ...] = ()  # new in the film glossary
    updated: tuple[str, ...] = ()  # learned terms whose counts grew
    kept_user: tuple[str, ...] = ()  # found, but the user's entry stands
    global_terms: tuple[str, ...] = ()  # added to or counted in the global glossary
    already_counted: bool = False  # this transcript had been learned before: nothing changed
