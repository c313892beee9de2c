"""Layer 5, the learned glossary: character names and cultural terms counted over transcripts,
user entries beside them, and their two uses: correcting ASR misspellings of names, and carrying
terms through machine translation intact.

Files follow the spec's layout, one file per glossary rather than one per term type, so a single
atomic rename updates a film: ``{root}/{movie_id}/learned_glossary.json`` and
``{root}/global/global_glossary.json``. Both are self-verifying payloads (``_payloads``): a
damaged file is a ``PayloadError``, never a half-read glossary. Every read-modify-write holds one
store-wide flock, so two jobs learning at once lose no counts. Each glossary remembers the
digests of the transcripts it counted (``learned_from``), so a cached re-run of the same film
does not count its names twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal, cast

from rapidfuzz import fuzz

from ._locks import exclusive
from ._payloads import PayloadError, decode, encode, read_verified, stage
from ._records import Segment, Transcript, Word

__all__ = [
    "CULTURAL_TERMS",
    "GLOBAL_ID",
    "PLACEHOLDER",
    "TERM_TYPES",
    "CulturalTerm",
    "Glossary",
    "GlossaryEntry",
    "GlossaryError",
    "GlossaryPolicy",
    "GlossaryStore",
    "LearnReport",
    "NameCorrection",
    "Protected",
    "TermType",
    "check_movie_id",
    "correct_names",
    "extract_character_names",
    "extract_cultural_terms",
    "movie_id_from_path",
    "name_similarity",
    "protect",
    "split_on_terms",
    "term_type",
    "transcript_digest",
]

TermType = Literal["character_name", "cultural_term", "technical_term"]
TERM_TYPES: tuple[TermType, ...] = ("character_name", "cultural_term", "technical_term")
EntrySource = Literal["user", "learned"]
_SOURCES: tuple[EntrySource, ...] = ("user", "learned")

GLOBAL_ID = "global"
FORMAT = "cpwx-glossary"
FORMAT_VERSION = 1
MAX_CONTEXTS = 3
MAX_SPEAKERS = 8
MAX_CONTEXT_CHARS = 120
MAX_TERM_CHARS = 100
MAX_LEARNED_FROM = 10_000  # transcript digests remembered per glossary (oldest dropped)
# Confidence of an occurrence with neither a word score nor a segment confidence: below the
# default GLOSSARY_GLOBAL_MIN_CONFIDENCE (0.85), so an unscored name is learned for its film
# but is not promoted to the global glossary on no evidence.
UNSCORED_CONFIDENCE = 0.8
NAME_MATCH_SCORE = 85.0  # rapidfuzz scale, for folding variants and correcting names
_MIN_NAME_LEN = 3

# Word characters for whole-word matching: \w plus Devanagari vowel signs and viramas (\w does
# not include combining marks, so "दिल" would otherwise match inside "दिली").
_WCH = "\\w\u0900-\u0963\u0966-\u097f"
_TOKEN = re.compile(f"[{_WCH}]+")
_LATIN = re.compile("(?<![\\w'\u2019])[A-Za-z]+(?!\\w)")
_CAPITALISED = re.compile(r"[A-Z][a-z]+")
_SENTENCE_END = re.compile(r"[.!?…।]")
_MOVIE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
_LANGUAGE = re.compile(r"[a-z]{2,3}(?:[_-][A-Za-z0-9]{2,8})*")


class GlossaryError(Exception):
    """Bad glossary input (malformed import file, bad term); message is one line for the user."""


def term_type(value: object) -> TermType:
    """Check a term type coming from a file or the command line."""
    if value not in TERM_TYPES:
        raise GlossaryError(f"unknown term type {value!r}: use one of {', '.join(TERM_TYPES)}")
    return value


def check_movie_id(movie_id: str) -> str:
    """The normalised id (lower case), or GlossaryError: an id is a folder name under the store
    root, so anything that could climb out of it ("..", "/", "~") is refused."""
    norm = movie_id.strip().lower() if isinstance(movie_id, str) else ""
    if not _MOVIE_ID.fullmatch(norm):
        raise GlossaryError(
            f"bad movie id {movie_id!r}: use letters, digits, '_', '.' and '-' "
            "(starting with a letter or digit, at most 128)"
        )
    return norm


def _check_term(term: object) -> str:
    if not isinstance(term, str) or not term.strip():
        raise GlossaryError("a glossary term must be a non-empty string")
    if term != term.strip() or len(term) > MAX_TERM_CHARS or not term.isprintable():
        raise GlossaryError(
            f"bad glossary term {term[:40]!r}: one line, no surrounding spaces, "
            f"at most {MAX_TERM_CHARS} characters"
        )
    if not any(ch.isalnum() for ch in term):
        raise GlossaryError(f"bad glossary term {term!r}: it has no letter or digit")
    return term


# --------------------------------------------------------------------------------------------
# Records


@dataclass(frozen=True)
class GlossaryEntry:
    """One term. ``forms`` are other source spellings that count as it (Devanagari, variants);
    ``alternatives`` are target-side meanings (the spec's "dear", "son" for beta)."""

    term: str
    type: TermType
    frequency: int = 0
    confidence: float = 1.0  # mean ASR confidence of its occurrences; 1.0 for user entries
    source: EntrySource = "learned"
    speakers: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()  # up to MAX_CONTEXTS example lines it occurred in
    translations: tuple[tuple[str, str], ...] = ()  # (language, rendering), sorted
    alternatives: tuple[str, ...] = ()
    preserve: bool = False  # keep untranslated in every target language ("ji", names)
    forms: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_term(self.term)
        term_type(self.type)
        if self.source not in _SOURCES:
            raise GlossaryError(f"{self.term!r}: source must be 'user' or 'learned'")
        if isinstance(self.frequency, bool) or self.frequency < 0:
            raise GlossaryError(f"{self.term!r}: frequency must be a non-negative integer")
        if not 0.0 <= self.confidence <= 1.0:
            raise GlossaryError(f"{self.term!r}: confidence must be between 0 and 1")
        for form in self.forms:
            _check_term(form)
        languages = [lang for lang, _ in self.translations]
        for lang, text in self.translations:
            if not _LANGUAGE.fullmatch(lang):
                raise GlossaryError(f"{self.term!r}: bad language code {lang!r}")
            if not text.strip() or not text.isprintable():
                raise GlossaryError(f"{self.term!r}: empty or multi-line translation for {lang}")
        if len(set(languages)) != len(languages):
            raise GlossaryError(f"{self.term!r}: two translations for one language")
        # Canonical order, so equal entries compare (and hash into digests) equal.
        object.__setattr__(self, "translations", tuple(sorted(self.translations)))

    def rendering(self, target_language: str) -> str | None:
        """What the term becomes in that language; None means the glossary does not protect it
        there and the model translates it freely."""
        for lang, text in self.translations:
            if lang == target_language:
                return text
        if self.preserve or self.type == "character_name":
            return self.term
        return None

    @property
    def surface_forms(self) -> tuple[str, ...]:
        return (self.term, *self.forms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "term": self.term,
            "type": self.type,
            "frequency": self.frequency,
            "confidence": self.confidence,
            "source": self.source,
            "speakers": list(self.speakers),
            "contexts": list(self.contexts),
            "translations": dict(self.translations),
            "alternatives": list(self.alternatives),
            "preserve": self.preserve,
            "forms": list(self.forms),
        }

    @classmethod
    def from_dict(cls, d: object) -> GlossaryEntry:
        """Strict: every field has its JSON type, unknown fields are refused (a typo in an
        imported file must not silently drop a translation)."""
        if not isinstance(d, dict):
            raise GlossaryError("a glossary entry must be a JSON object")
        if "term" not in d:
            raise GlossaryError("a glossary entry has no 'term'")
        term = _check_term(d["term"])
        if "type" not in d:
            raise GlossaryError(f"glossary entry {term!r} has no 'type'")
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise GlossaryError(f"glossary entry {term!r}: unknown field {unknown[0]!r}")
        frequency = d.get("frequency", 0)
        if not isinstance(frequency, int) or isinstance(frequency, bool):
            raise GlossaryError(f"glossary entry {term!r}: frequency must be an integer")
        confidence = d.get("confidence", 1.0)
        if not isinstance(confidence, int | float) or isinstance(confidence, bool):
            raise GlossaryError(f"glossary entry {term!r}: confidence must be a number")
        source = d.get("source", "learned")
        if source not in _SOURCES:
            raise GlossaryError(f"glossary entry {term!r}: source must be 'user' or 'learned'")
        preserve = d.get("preserve", False)
        if not isinstance(preserve, bool):
            raise GlossaryError(f"glossary entry {term!r}: preserve must be true or false")
        translations = d.get("translations", {})
        if not isinstance(translations, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in translations.items()
        ):
            raise GlossaryError(
                f"glossary entry {term!r}: translations must map language codes to text"
            )
        return cls(
            term=term,
            type=term_type(d["type"]),
            frequency=frequency,
            confidence=float(confidence),
            source=cast(EntrySource, source),
            speakers=_strings(d, "speakers", term),
            contexts=_strings(d, "contexts", term),
            translations=tuple(translations.items()),
            alternatives=_strings(d, "alternatives", term),
            preserve=preserve,
            forms=_strings(d, "forms", term),
        )


def _strings(d: dict[str, Any], key: str, term: str) -> tuple[str, ...]:
    value = d.get(key, [])
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise GlossaryError(f"glossary entry {term!r}: {key} must be a list of strings")
    return tuple(value)


@dataclass(frozen=True)
class _Matcher:
    """Every surface form of a glossary, as one whole-word, case-insensitive regex."""

    by_term: dict[str, GlossaryEntry]
    by_form: dict[str, GlossaryEntry]
    pattern: re.Pattern[str] | None

    def occurrences(self, text: str) -> Iterator[tuple[int, int, GlossaryEntry]]:
        if self.pattern is None:
            return
        for m in self.pattern.finditer(text):
            entry = self.by_form.get(m.group(0).casefold())
            if entry is not None:
                yield m.start(), m.end(), entry


@dataclass(frozen=True)
class Glossary:
    """A film's (or the global) glossary: entries unique by term, case-insensitively."""

    movie_id: str  # GLOBAL_ID for the global glossary
    entries: tuple[GlossaryEntry, ...] = ()
    learned_from: tuple[str, ...] = ()  # digests of the transcripts already counted

    def __post_init__(self) -> None:
        if check_movie_id(self.movie_id) != self.movie_id:
            raise GlossaryError(f"movie id {self.movie_id!r} is not normalised (lower case)")
        seen: set[str] = set()
        for entry in self.entries:
            key = entry.term.casefold()
            if key in seen:
                raise GlossaryError(f"glossary {self.movie_id}: term {entry.term!r} appears twice")
            seen.add(key)
        ordered = tuple(sorted(self.entries, key=lambda e: (e.term.casefold(), e.term)))
        object.__setattr__(self, "entries", ordered)

    @cached_property
    def _matcher(self) -> _Matcher:
        by_form: dict[str, GlossaryEntry] = {}
        for entry in self.entries:  # a term wins over another entry's form of the same text
            for form in entry.forms:
                by_form.setdefault(form.casefold(), entry)
        by_term = {e.term.casefold(): e for e in self.entries}
        by_form.update(by_term)
        forms = sorted({f for e in self.entries for f in e.surface_forms}, key=lambda f: -len(f))
        pattern = (
            re.compile(
                f"(?<![{_WCH}])(?:{'|'.join(map(re.escape, forms))})(?![{_WCH}])", re.IGNORECASE
            )
            if forms
            else None
        )
        return _Matcher(by_term, by_form, pattern)

    def occurrences(self, text: str) -> Iterator[tuple[int, int, GlossaryEntry]]:
        """(start, end, entry) of each whole-word, case-insensitive occurrence; the longest term
        wins where terms overlap."""
        return self._matcher.occurrences(text)

    def get(self, term: str) -> GlossaryEntry | None:
        return self._matcher.by_term.get(term.casefold())

    def terms_in(self, text: str) -> list[GlossaryEntry]:
        """Entries occurring in ``text`` (whole words, any case), each once, in text order."""
        found: dict[str, GlossaryEntry] = {}
        for _, _, entry in self._matcher.occurrences(text):
            found.setdefault(entry.term.casefold(), entry)
        return list(found.values())

    def digest(self, target_language: str) -> str:
        """Hash of what changes translations into that language: terms, forms, types and
        renderings (not counts, so learning never invalidates); "" when nothing applies."""
        return _digest(self.entries, target_language)

    def digest_for(self, text: str, target_language: str) -> str:
        """The same over the terms in ``text`` only: a changed term invalidates only the
        segments containing it, and a segment with none keeps the constant ""."""
        return _digest(self.terms_in(text), target_language)

    def merged_with(self, other: Glossary) -> Glossary:
        """Self's entries win over other's, except that a user entry always beats a learned one."""
        chosen = {e.term.casefold(): e for e in other.entries}
        for entry in self.entries:
            key = entry.term.casefold()
            previous = chosen.get(key)
            if previous is None or not (previous.source == "user" and entry.source == "learned"):
                chosen[key] = entry
        return Glossary(self.movie_id, tuple(chosen.values()), self.learned_from)

    def with_entry(self, entry: GlossaryEntry) -> Glossary:
        """A copy with ``entry`` replacing any entry of the same term."""
        rest = tuple(e for e in self.entries if e.term.casefold() != entry.term.casefold())
        return dataclasses.replace(self, entries=(*rest, entry))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "movie_id": self.movie_id,
            "entries": [e.to_dict() for e in self.entries],
            "learned_from": list(self.learned_from),
        }

    @classmethod
    def from_dict(cls, d: object) -> Glossary:
        """Strict: the whole document is checked before anything uses it."""
        if not isinstance(d, dict):
            raise GlossaryError("a glossary file must hold one JSON object")
        if d.get("format") != FORMAT or d.get("version") != FORMAT_VERSION:
            raise GlossaryError(
                f"not a {FORMAT} version {FORMAT_VERSION} file "
                f"(format {d.get('format')!r}, version {d.get('version')!r})"
            )
        unknown = sorted(
            set(d) - {"format", "version", "movie_id", "entries", "learned_from", "updated_at"}
        )
        if unknown:
            raise GlossaryError(f"unknown glossary field {unknown[0]!r}")
        movie_id = d.get("movie_id")
        if not isinstance(movie_id, str):
            raise GlossaryError("the glossary has no 'movie_id'")
        entries = d.get("entries")
        if not isinstance(entries, list):
            raise GlossaryError("the glossary has no 'entries' list")
        learned_from = d.get("learned_from", [])
        if not isinstance(learned_from, list) or not all(isinstance(x, str) for x in learned_from):
            raise GlossaryError("'learned_from' must be a list of strings")
        parsed = []
        for i, raw in enumerate(entries):
            try:
                parsed.append(GlossaryEntry.from_dict(raw))
            except GlossaryError as exc:
                raise GlossaryError(f"entry {i + 1}: {exc}") from None
        return cls(check_movie_id(movie_id), tuple(parsed), tuple(learned_from))


def _digest(entries: Iterable[GlossaryEntry], target_language: str) -> str:
    rows = sorted(
        (e.term.casefold(), sorted(f.casefold() for f in e.forms), e.type, rendering)
        for e in entries
        if (rendering := e.rendering(target_language)) is not None
    )
    if not rows:
        return ""
    blob = json.dumps([target_language, rows], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class GlossaryPolicy:
    """The spec's GLOSSARY_* settings, as the caller maps them from Settings."""

    learning_enabled: bool = True  # GLOSSARY_LEARNING_ENABLED
    min_frequency: int = 3  # GLOSSARY_MIN_FREQUENCY
    update_global: bool = True  # GLOSSARY_UPDATE_GLOBAL
    global_min_confidence: float = 0.85  # GLOSSARY_GLOBAL_MIN_CONFIDENCE
    per_movie_enabled: bool = True  # GLOSSARY_PER_MOVIE_ENABLED
    extract_names: bool = True  # GLOSSARY_AUTO_EXTRACT_NAMES
    extract_cultural: bool = True  # GLOSSARY_AUTO_EXTRACT_CULTURAL
    min_word_confidence: float = 0.6  # ours: weaker ASR occurrences do not count

    def __post_init__(self) -> None:
        if self.min_frequency < 1:
            raise GlossaryError("the glossary's minimum frequency must be at least 1")
        for name in ("global_min_confidence", "min_word_confidence"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise GlossaryError(f"glossary {name} must be between 0 and 1")


# --------------------------------------------------------------------------------------------
# Built-in knowledge


@dataclass(frozen=True)
class CulturalTerm:
    """A Hindi/Bollywood term the learner looks for: romanised term, other source forms."""

    term: str
    forms: tuple[str, ...]
    alternatives: tuple[str, ...]
    preserve: bool = False
    translations: tuple[tuple[str, str], ...] = ()

    def entry(self, frequency: int, confidence: float, contexts: tuple[str, ...]) -> GlossaryEntry:
        return GlossaryEntry(
            term=self.term,
            type="cultural_term",
            frequency=frequency,
            confidence=confidence,
            contexts=contexts,
            translations=self.translations,
            alternatives=self.alternatives,
            preserve=self.preserve,
            forms=self.forms,
        )


CULTURAL_TERMS: tuple[CulturalTerm, ...] = (
    CulturalTerm("beta", ("बेटा",), ("dear", "son")),
    CulturalTerm("beti", ("बेटी",), ("dear", "daughter")),
    CulturalTerm("bhai", ("bhaai", "भाई"), ("bro", "brother")),
    CulturalTerm("bhaiya", ("bhaiyya", "bhaiyaa", "भैया", "भइया"), ("brother",)),
    CulturalTerm("didi", ("दीदी",), ("sister",)),
    # The spec's respectful suffix: kept as is in every language, in Devanagari for Hindi.
    CulturalTerm(
        "ji", ("jee", "जी"), ("sir", "madam"), preserve=True, translations=(("hi", "जी"),)
    ),
    CulturalTerm("yaar", ("यार",), ("buddy", "friend", "man")),
    CulturalTerm("arre", ("arrey", "arey", "अरे"), ("hey", "oh")),
    CulturalTerm("maa", ("माँ", "मां"), ("mother", "mom")),
    CulturalTerm("papa", ("पापा",), ("dad", "father")),
    CulturalTerm("dost", ("दोस्त",), ("friend",)),
    CulturalTerm("dil", ("दिल",), ("heart",)),
    CulturalTerm("pyaar", ("pyar", "प्यार"), ("love",)),
    CulturalTerm("rishta", ("rishtaa", "रिश्ता"), ("relationship",)),
    CulturalTerm("namaste", ("namaskar", "नमस्ते", "नमस्कार"), ("hello", "greetings")),
    CulturalTerm("accha", ("achha", "acha", "अच्छा"), ("okay", "good")),
    CulturalTerm("chalo", ("चलो",), ("let's go", "come on")),
    CulturalTerm("haan", ("हाँ", "हां"), ("yes",)),
    CulturalTerm("nahi", ("nahin", "नहीं"), ("no",)),
    CulturalTerm("shaadi", ("shadi", "शादी"), ("wedding", "marriage")),
    CulturalTerm("chai", ("चाय",), ("tea",)),
    CulturalTerm("dadi", ("दादी",), ("grandma", "grandmother")),
    CulturalTerm("nani", ("नानी",), ("grandma", "grandmother")),
    CulturalTerm("chacha", ("चाचा",), ("uncle",)),
)
_CULTURAL_BY_FORM = {form.casefold(): ct for ct in CULTURAL_TERMS for form in (ct.term, *ct.forms)}

# Capitalised words that are not character names: English function words and interjections,
# titles, calendar words, and Hinglish words that start sentences. Compared case-folded.
_STOPWORD_LINES = (
    "i i'm i'll i've i'd a an the and but or so yet nor for of to in on at by with from as is are",
    "was were be been am do does did done have has had will would shall should can could may",
    "might must not no yes yeah yep nope okay ok oh ah ahh aha hey hi hello bye goodbye please",
    "thanks thank sorry well what why how who whom whose where when which this that these those",
    "there here then now it its he him his she her hers we us our ours they them their theirs",
    "you your yours my mine me myself one two three all any some every each just only also very",
    "let lets come go look listen wait stop see tell give take get make say said know think",
    "mr mrs ms miss dr sir madam ma'am maam sahib saab sahab ji uncle aunty auntie mummy mom dad",
    "god lord allah bhagwan jesus christ monday tuesday wednesday thursday friday saturday sunday",
    "january february march april may june july august september october november december",
    "english hindi india indian mumbai delhi bombay christmas diwali holi eid new happy birthday",
    "haan han nahi nahin kya kyun kyon kaise kaun kahan kab hai hain tha thi accha achha acha",
    "chalo chal bas theek thik arre arey are yaar bhai beta didi maa papa mera meri tera",
    "teri apna apni aap tum main hum woh yeh wah waah shabash",
)
_STOPWORDS = frozenset(w for line in _STOPWORD_LINES for w in line.split()) | frozenset(
    _CULTURAL_BY_FORM
)


# --------------------------------------------------------------------------------------------
# Learning


@dataclass
class _Tally:
    """Counted occurrences of one surface form (mutable, local to one extraction)."""

    scores: list[float] = field(default_factory=list)
    non_initial: int = 0
    lower: int = 0  # the same word in lower case: evidence of a common word
    speakers: Counter[str] = field(default_factory=Counter)
    contexts: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.scores)

    def add(self, score: float, initial: bool, segment: Segment) -> None:
        self.scores.append(score)
        self.non_initial += not initial
        if segment.speaker:
            self.speakers[segment.speaker] += 1
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


def _tokens(segment: Segment) -> Iterator[tuple[str, float, bool]]:
    """(token, ASR confidence, sentence-initial) for each word of a segment. The confidence is
    the word's score when aligned, else the segment's, else UNSCORED_CONFIDENCE; a segment's
    first word counts as sentence-initial, since segments mostly start sentences."""
    fallback = segment.confidence if segment.confidence is not None else UNSCORED_CONFIDENCE
    pieces = [(w.word, w.score if w.score is not None else fallback) for w in segment.words] or [
        (segment.text, fallback)
    ]
    initial = True
    for text, score in pieces:
        pos = 0
        for m in _TOKEN.finditer(text):
            if _SENTENCE_END.search(text, pos, m.start()):
                initial = True
            yield m.group(0), score, initial
            initial = False
            pos = m.end()
        if _SENTENCE_END.search(text, pos):
            initial = True


def name_similarity(a: str, b: str) -> float:
    """0-100: rapidfuzz ratio of the two names, or of their romanisation keys when higher
    ("Jay"/"Jai", "Adithi"/"Aditi" are one Hindi name spelt two ways). Names with different
    first letters, or shorter than 3, are never similar."""
    a, b = a.casefold(), b.casefold()
    if a[:1] != b[:1] or min(len(a), len(b)) < _MIN_NAME_LEN:
        return 0.0
    return max(float(fuzz.ratio(a, b)), float(fuzz.ratio(_romanised_key(a), _romanised_key(b))))


_KEY_RULES = (
    (re.compile(r"(?<=[aeiou])y(?![aeiou])"), "i"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"([tdkgbcp])h"), r"\1"),
    (re.compile(r"w"), "v"),
    (re.compile(r"q"), "k"),
    (re.compile(r"(.)\1+"), r"\1"),
)


def _romanised_key(name: str) -> str:
    for pattern, repl in _KEY_RULES:
        name = pattern.sub(repl, name)
    return name


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
    for segment in transcript.segments:
        for token, score, initial in _tokens(segment):
            if token.islower():
                lower[token] += 1
            elif (
                _CAPITALISED.fullmatch(token)
                and len(token) >= _MIN_NAME_LEN
                and token.casefold() not in _STOPWORDS
                and score >= policy.min_word_confidence
            ):
                tallies.setdefault(token, _Tally()).add(score, initial, segment)
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
        for token, score, initial in _tokens(segment):
            term = _CULTURAL_BY_FORM.get(token.casefold())
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


def _absorb(glossary: Glossary, found: Sequence[GlossaryEntry], source: str) -> _Absorbed:
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


# --------------------------------------------------------------------------------------------
# Applying


@dataclass(frozen=True)
class NameCorrection:
    segment: int  # index in transcript.segments
    original: str
    corrected: str
    score: float  # name_similarity, 0-100


def correct_names(
    transcript: Transcript, glossary: Glossary, min_score: float = NAME_MATCH_SCORE
) -> tuple[Transcript, list[NameCorrection]]:
    """Respell ASR misspellings of known character names, in the text and the words.

    Only name-like tokens change: capitalised, at least 3 letters, not a stopword or another
    glossary term, and within ``min_score`` of a name (or its exact lower case, "jai" -> "Jai").
    Word scores follow the spec's ``enhance_asr_with_learned_names``: a word that is a known
    name gets x1.2 (x1.1 more when its segment's speaker is one the name was learned from),
    capped at 1.0; a corrected word gets max(its score, similarity/100 x 0.9), a respelling
    being strong evidence but never certainty.

    Pass the film's own glossary: names learned from other films would respell this film's
    characters. Apply it once per transcript (the boost compounds)."""
    names = {e.term.casefold(): e for e in glossary.entries if e.type == "character_name"}
    if not names:
        return transcript, []
    fixer = _NameFixer(names, glossary, min_score)
    segments: list[Segment] = []
    corrections: list[NameCorrection] = []
    for i, segment in enumerate(transcript.segments):
        text, fixed = fixer.fix_text(segment.text)
        corrections += [NameCorrection(i, a, b, s) for a, b, s in fixed]
        words = tuple(fixer.fix_word(w, segment.speaker) for w in segment.words)
        segments.append(dataclasses.replace(segment, text=text, words=words))
    return dataclasses.replace(transcript, segments=tuple(segments)), corrections


class _NameFixer:
    def __init__(
        self, names: dict[str, GlossaryEntry], glossary: Glossary, min_score: float
    ) -> None:
        self.names = names
        self.glossary = glossary
        self.min_score = min_score
        self.memo: dict[str, tuple[str, float] | None] = {}
        # name_similarity needs the same first letter: compare only against those names.
        self.by_initial: dict[str, list[GlossaryEntry]] = {}
        for key, entry in names.items():
            self.by_initial.setdefault(key[:1], []).append(entry)

    def correction(self, token: str) -> tuple[str, float] | None:
        """(replacement, similarity) for a token to respell, else None."""
        if token not in self.memo:
            self.memo[token] = self._correction(token)
        return self.memo[token]

    def _correction(self, token: str) -> tuple[str, float] | None:
        key = token.casefold()
        exact = self.names.get(key)
        if exact is not None:
            return (exact.term, 100.0) if token == key and token != exact.term else None
        if (
            not _CAPITALISED.fullmatch(token)
            or len(token) < _MIN_NAME_LEN
            or key in _STOPWORDS
            or self.glossary.get(token) is not None
        ):
            return None
        ranked = sorted(
            (
                (name_similarity(token, e.term), e.frequency, e.term)
                for e in self.by_initial.get(key[:1], ())
            ),
            key=lambda r: (-r[0], -r[1], r[2]),
        )
        if ranked and ranked[0][0] >= self.min_score:
            return ranked[0][2], ranked[0][0]
        return None

    def fix_text(self, text: str) -> tuple[str, list[tuple[str, str, float]]]:
        fixed: list[tuple[str, str, float]] = []

        def repl(m: re.Match[str]) -> str:
            found = self.correction(m.group(0))
            if found is None:
                return m.group(0)
            fixed.append((m.group(0), found[0], found[1]))
            return found[0]

        return _LATIN.sub(repl, text), fixed

    def fix_word(self, word: Word, speaker: str | None) -> Word:
        text, fixed = self.fix_text(word.word)
        score = word.score
        if fixed:
            respelt = max(s for _, _, s in fixed) / 100.0 * 0.9
            score = respelt if score is None else max(score, respelt)
        elif score is not None:
            entry = next(
                (
                    self.names[m.group(0).casefold()]
                    for m in _LATIN.finditer(word.word)
                    if m.group(0).casefold() in self.names
                ),
                None,
            )
            if entry is not None:
                boost = 1.2 * (1.1 if speaker is not None and speaker in entry.speakers else 1.0)
                score = min(1.0, score * boost)
        return dataclasses.replace(word, word=text, score=score)


PLACEHOLDER = "ZQX"
_PLACEHOLDER_RE = re.compile(rf"(?<![A-Za-z0-9]){PLACEHOLDER}(\d+)(?!\d)", re.IGNORECASE)


@dataclass(frozen=True)
class Protected:
    """A source line with its glossary terms swapped for placeholders (ZQX0, ZQX1, ...).

    The placeholder is an uppercase non-word with a number: SentencePiece vocabularies (Marian,
    NLLB, M2M100, IndicTrans2) split it into rare pieces that the decoder copies through, where
    markup (``<x>``, ``{0}``) is often dropped or translated. One placeholder per occurrence,
    so ``restore`` can insist that each comes back exactly once."""

    source: str
    text: str  # what to send to the model
    renderings: tuple[str, ...]  # placeholder i becomes renderings[i]
    terms: tuple[GlossaryEntry, ...]  # the entries applied (glossary_terms_applied)
    chunks: tuple[tuple[str, bool], ...]  # split_on_terms, for the guaranteed fallback
    usable: bool = True  # False: the source itself contains a placeholder-like token

    def restore(self, translated: str) -> str | None:
        """The translation with renderings in place, or None when the model lost, doubled or
        invented a placeholder (then translate ``chunks`` instead)."""
        if not self.usable:
            return None
        if not self.renderings:
            return translated
        seen = [int(m.group(1)) for m in _PLACEHOLDER_RE.finditer(translated)]
        if sorted(seen) != list(range(len(self.renderings))):
            return None
        return _PLACEHOLDER_RE.sub(lambda m: self.renderings[int(m.group(1))], translated)


def _applicable(
    text: str, glossary: Glossary, target_language: str
) -> list[tuple[int, int, str, GlossaryEntry]]:
    out = []
    for start, end, entry in glossary.occurrences(text):
        rendering = entry.rendering(target_language)
        if rendering is not None:
            out.append((start, end, rendering, entry))
    return out


def split_on_terms(text: str, glossary: Glossary, target_language: str) -> list[tuple[str, bool]]:
    """``text`` cut at its protected terms: (piece, False) pieces are source text to translate,
    (rendering, True) pieces are final. Whitespace stays in the pieces, so joining the pieces
    with no translation at all gives the source with the renderings in place."""
    pieces: list[tuple[str, bool]] = []
    pos = 0
    for start, end, rendering, _ in _applicable(text, glossary, target_language):
        if start > pos:
            pieces.append((text[pos:start], False))
        pieces.append((rendering, True))
        pos = end
    if pos < len(text):
        pieces.append((text[pos:], False))
    return pieces


def protect(text: str, glossary: Glossary, target_language: str) -> Protected:
    """Swap every term with a rendering in ``target_language`` for a placeholder."""
    found = _applicable(text, glossary, target_language)
    chunks = tuple(split_on_terms(text, glossary, target_language))
    terms = tuple({e.term.casefold(): e for _, _, _, e in found}.values())
    if not found:
        return Protected(text, text, (), (), chunks)
    if _PLACEHOLDER_RE.search(text):
        return Protected(text, text, (), terms, chunks, usable=False)
    out: list[str] = []
    pos = 0
    for i, (start, end, _, _) in enumerate(found):
        out += [text[pos:start], f"{PLACEHOLDER}{i}"]
        pos = end
    out.append(text[pos:])
    return Protected(text, "".join(out), tuple(r for _, _, r, _ in found), terms, chunks)


# --------------------------------------------------------------------------------------------
# Film ids

_MEDIA_SUFFIX = re.compile(r"\.(?=[a-z0-9]*[a-z])[a-z0-9]{2,4}$", re.IGNORECASE)
_LEADING_TAG = re.compile(r"^\s*\[[^\]]*\]")
_CHANNELS = re.compile(r"(?<![a-z0-9])(?:ddp?|aac|ac3|dts|eac3)?[257]\.[01](?![0-9])")
_JOINED = re.compile(r"\b(web|blu|hd|dvd|br|bd)[ ._-]?(dl|rip|ray|tv|cam|scr)\b")
_YEAR = re.compile(r"(?:19|20)\d\d")
# Tokens that never belong to a title: resolution, codec, source, audio, scene tags.
_RELEASE = re.compile(
    r"\d{3,4}[pi]|[48]k|uhd|[xh]26[45]|hevc|xvid|divx|\d+bit|"
    r"bluray|bdrip|brrip|bdremux|remux|webdl|webrip|hdrip|dvdrip|dvdscr|hdtv|hdcam|hdts|"
    r"hdr|hdr10|amzn|aac\d*|ac3|eac3|dts|ddp?\d+|atmos|truehd|esubs?|proper|repack"
)
_EDITIONS = tuple(
    tuple(phrase.split())
    for phrase in (
        "director s cut",
        "directors cut",
        "director cut",
        "extended cut",
        "extended edition",
        "extended version",
        "theatrical cut",
        "theatrical version",
        "special edition",
        "collectors edition",
        "anniversary edition",
        "imax edition",
        "tv edit",
        "tv version",
        "uncut",
        "extended",
        "unrated",
        "remastered",
        "theatrical",
        "imax",
    )
)


def movie_id_from_path(path: Path) -> str:
    """A film id from a file name, stable across releases of one film: lower case, release
    noise (resolution, codec, source, what follows the year) and edition words dropped, the
    year dropped, non-alphanumerics as "_". Names with no Latin letters or digits fall back to
    a short hash of the name."""
    name = _MEDIA_SUFFIX.sub("", path.name).lower()
    name = _JOINED.sub(r"\1\2", _CHANNELS.sub(" ", _LEADING_TAG.sub(" ", name)))
    tokens = re.findall(r"[a-z0-9]+", name)
    for i, token in enumerate(tokens):
        if i > 0 and _RELEASE.fullmatch(token):
            tokens = tokens[:i]  # scene names put the title first, then only noise
            break
    years = [i for i, t in enumerate(tokens) if i > 0 and _YEAR.fullmatch(t)]
    if years:
        tokens = tokens[: years[-1]]  # "2012 (2009)" keeps 2012; what follows a year is noise
    stripped = True
    while stripped:
        stripped = False
        for phrase in _EDITIONS:
            if len(tokens) > len(phrase) and tuple(tokens[-len(phrase) :]) == phrase:
                del tokens[-len(phrase) :]
                stripped = True
                break
    movie_id = "_".join(tokens)[:128].strip("_")
    if not movie_id:
        movie_id = "film_" + hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:12]
    return check_movie_id(movie_id)


# --------------------------------------------------------------------------------------------
# The store


class GlossaryStore:
    """The glossary files under ``{cache_dir}/glossary_learned``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = self.root / ".glossary.lock"

    def path(self, movie_id: str) -> Path:
        movie_id = check_movie_id(movie_id)
        if movie_id == GLOBAL_ID:
            return self.root / GLOBAL_ID / "global_glossary.json"
        return self.root / movie_id / "learned_glossary.json"

    def load(self, movie_id: str) -> Glossary:
        """A film's glossary (GLOBAL_ID: the global one); empty when there is none yet."""
        movie_id = check_movie_id(movie_id)
        path = self.path(movie_id)
        try:
            document, _ = read_verified(path)
        except FileNotFoundError:
            return Glossary(movie_id)
        except PayloadError as exc:
            raise PayloadError(f"glossary {path}: {exc}") from exc
        try:
            glossary = Glossary.from_dict(document)
        except GlossaryError as exc:
            raise PayloadError(f"glossary {path}: {exc}") from exc
        if glossary.movie_id != movie_id:
            raise PayloadError(f"glossary {path}: it belongs to {glossary.movie_id!r}")
        return glossary

    def load_global(self) -> Glossary:
        return self.load(GLOBAL_ID)

    def for_job(self, movie_id: str | None) -> Glossary:
        """What a job applies: the film's entries over the global ones (user entries over
        learned ones); ``None`` (GLOSSARY_PER_MOVIE_ENABLED=false, or no film id) gives the
        global glossary alone."""
        if movie_id is None:
            return self.load_global()
        return self.load(movie_id).merged_with(self.load_global())

    def save(self, glossary: Glossary) -> None:
        with exclusive(self._lock):
            self._write(glossary)

    def add(self, movie_id: str, entry: GlossaryEntry) -> Glossary:
        """Store a user entry (replacing the same term, learned or not); returns the glossary."""
        with exclusive(self._lock):
            glossary = self.load(movie_id).with_entry(dataclasses.replace(entry, source="user"))
            self._write(glossary)
        return glossary

    def learn(
        self, movie_id: str, transcript: Transcript, policy: GlossaryPolicy | None = None
    ) -> LearnReport:
        """Count a transcript's names and cultural terms into the film's glossary and, when the
        policy says so, its confident ones into the global glossary. A transcript already
        counted by a glossary is not counted again there."""
        policy = policy or GlossaryPolicy()
        movie_id = check_movie_id(movie_id)
        if movie_id == GLOBAL_ID:
            raise GlossaryError(f"{GLOBAL_ID!r} is the global glossary, not a film id")
        if not policy.learning_enabled or not (policy.per_movie_enabled or policy.update_global):
            return LearnReport(movie_id)
        source = transcript_digest(transcript)
        with exclusive(self._lock):
            film, world = self.load(movie_id), self.load_global()
            film_due = policy.per_movie_enabled and source not in film.learned_from
            world_due = policy.update_global and source not in world.learned_from
            if not (film_due or world_due):
                return LearnReport(movie_id, already_counted=True)
            known = [e.term for e in film.merged_with(world).entries if e.type == "character_name"]
            found: list[GlossaryEntry] = []
            if policy.extract_names:
                found += extract_character_names(transcript, policy, known)
            if policy.extract_cultural:
                found += extract_cultural_terms(transcript, policy)
            confident = [e for e in found if e.confidence >= policy.global_min_confidence]
            into_film = _absorb(film, found, source)
            into_world = _absorb(world, confident, source)
            if film_due and found:
                self._write(into_film.glossary)
            if world_due and confident:
                self._write(into_world.glossary)
        return LearnReport(
            movie_id,
            added=into_film.added if film_due else (),
            updated=into_film.updated if film_due else (),
            kept_user=into_film.kept_user if film_due else (),
            global_terms=(into_world.added + into_world.updated) if world_due else (),
        )

    def export(self, movie_id: str, path: Path) -> Glossary:
        """Write a film's glossary as plain, editable JSON (atomically)."""
        movie_id = check_movie_id(movie_id)
        if not self.path(movie_id).exists():
            raise GlossaryError(f"no glossary for {movie_id!r} in {self.root}")
        glossary = self.load(movie_id)
        data = (json.dumps(glossary.to_dict(), ensure_ascii=False, indent=2) + "\n").encode()
        try:
            staged = stage(Path(path).absolute(), data, "")
            try:
                staged.commit()
            except BaseException:
                staged.discard()
                raise
        except OSError as exc:
            raise GlossaryError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return glossary

    def import_file(self, path: Path) -> Glossary:
        """Validate a whole exported file (or a stored one), then merge it into the store: its
        entries win over stored ones, except that a stored user entry beats an imported
        learned one. Returns the file's glossary; on any error the store is untouched."""
        imported = _read_import(Path(path))
        with exclusive(self._lock):
            stored = self.load(imported.movie_id)
            merged = imported.merged_with(stored)
            sources = tuple(dict.fromkeys((*stored.learned_from, *imported.learned_from)))
            self._write(dataclasses.replace(merged, learned_from=sources[-MAX_LEARNED_FROM:]))
        return imported

    def movies(self) -> list[str]:
        """Film ids with a glossary (not GLOBAL_ID)."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.parent.name
            for p in self.root.glob("*/learned_glossary.json")
            if p.parent.name != GLOBAL_ID and _MOVIE_ID.fullmatch(p.parent.name)
        )

    def _write(self, glossary: Glossary) -> None:
        document = glossary.to_dict() | {"updated_at": datetime.now(UTC).isoformat()}
        data, checksum = encode(document)
        staged = stage(self.path(glossary.movie_id), data, checksum)
        try:
            staged.commit()
        except BaseException:
            staged.discard()
            raise


def _read_import(path: Path) -> Glossary:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GlossaryError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        if raw.startswith(b"#cpwx-payload"):
            document: object = decode(raw)[0]
        else:
            document = json.loads(raw.decode("utf-8"))
    except (PayloadError, UnicodeDecodeError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise GlossaryError(f"{path}: not a valid glossary file ({reason})") from None
    try:
        return Glossary.from_dict(document)
    except GlossaryError as exc:
        raise GlossaryError(f"{path}: {exc}") from None
