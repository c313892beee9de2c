"""Layer 5, the learned glossary: its records. A ``Glossary`` holds a film's (or the global)
character names and cultural terms counted over transcripts, with user entries beside them, as
``GlossaryEntry`` rows; here are what they are, their strict JSON form, the matcher and digests
that translation uses, the errors a bad term or film id raises, and the ``GlossaryPolicy`` the
caller maps from the GLOSSARY_* settings.

How terms are learned is ``_learn``, how they are applied ``_names`` and ``_protect``;
where the files live is ``_store``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal, cast

from ._scripts import INDIC_WORD, LATIN_WORD, word_keys

__all__ = [
    "TERM_TYPES",
    "Glossary",
    "GlossaryEntry",
    "GlossaryError",
    "GlossaryPolicy",
    "TermType",
    "check_movie_id",
    "term_type",
]

TermType = Literal["character_name", "cultural_term", "technical_term"]
TERM_TYPES: tuple[TermType, ...] = ("character_name", "cultural_term", "technical_term")
EntrySource = Literal["user", "learned"]
_SOURCES: tuple[EntrySource, ...] = ("user", "learned")

FORMAT = "cpwx-glossary"
FORMAT_VERSION = 1
MAX_TERM_CHARS = 100

# Word characters for whole-word matching: \w plus Devanagari vowel signs and viramas (\w does
# not include combining marks, so "दिल" would otherwise match inside "दिली").
WORD_CHARS = "\\w\u0900-\u0963\u0966-\u097f"
MOVIE_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,127}")
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
    if not MOVIE_ID.fullmatch(norm):
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
    # The film's speakers a character name belongs to: the user's naming (``cpwx glossary
    # speaker``), or, learned, those the name was said to (a hint).
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
    """Every surface form of a glossary, as one whole-word, case-insensitive regex; and, to
    match across scripts, each form's spelling keys: Latin forms are looked for among Indic
    words, Indic forms among Latin ones (``_scripts``)."""

    by_term: dict[str, GlossaryEntry]
    by_form: dict[str, GlossaryEntry]
    pattern: re.Pattern[str] | None
    across: dict[tuple[bool, tuple[str, ...]], GlossaryEntry]  # (in Indic text, keys): entry
    longest: int  # words in the longest form

    def occurrences(self, text: str) -> Iterator[tuple[int, int, GlossaryEntry]]:
        found = []
        if self.pattern is not None:
            for m in self.pattern.finditer(text):
                entry = self.by_form.get(m.group(0).casefold())
                if entry is not None:
                    found.append((m.start(), m.end(), entry))
        if self.across:
            found += self._across(text, INDIC_WORD, True, found)
            found += self._across(text, LATIN_WORD, False, found)
            found.sort(key=lambda f: f[0])
        yield from found

    def _across(
        self,
        text: str,
        word: re.Pattern[str],
        indic: bool,
        taken: list[tuple[int, int, GlossaryEntry]],
    ) -> list[tuple[int, int, GlossaryEntry]]:
        """Runs of words in one script whose keys are a form's in the other, longest first,
        outside the spans already ``taken``."""
        if not any(side == indic for side, _ in self.across):
            return []
        words = list(word.finditer(text))
        if not words:
            return []
        keys = word_keys(m.group(0) for m in words)
        spans = [(a, b) for a, b, _ in taken]
        out = []
        i = 0
        while i < len(words):
            for n in range(min(self.longest, len(words) - i), 0, -1):
                run = words[i : i + n]
                if any(text[a.end() : b.start()].strip() for a, b in itertools.pairwise(run)):
                    continue  # the words are not next to each other
                entry = self.across.get((indic, tuple(keys[i : i + n])))
                start, end = run[0].start(), run[-1].end()
                if entry is not None and not any(a < end and start < b for a, b in spans):
                    out.append((start, end, entry))
                    i += n - 1
                    break
            i += 1
        return out


def _across(entries: Iterable[GlossaryEntry]) -> dict[tuple[bool, tuple[str, ...]], GlossaryEntry]:
    """Each form's spelling keys, under the script of text it matches in (the other one), for
    the entries that have no form of their own in that script (the others match directly)."""
    out: dict[tuple[bool, tuple[str, ...]], GlossaryEntry] = {}
    for entry in entries:
        scripts = [bool(INDIC_WORD.search(form)) for form in entry.surface_forms]
        for form, indic in zip(entry.surface_forms, scripts, strict=True):
            words = INDIC_WORD.findall(form) if indic else LATIN_WORD.findall(form)
            if words and (all(scripts) if indic else not any(scripts)):  # none in the other
                out.setdefault((not indic, tuple(word_keys(words))), entry)
    return out


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
                f"(?<![{WORD_CHARS}])(?:{'|'.join(map(re.escape, forms))})(?![{WORD_CHARS}])",
                re.IGNORECASE,
            )
            if forms
            else None
        )
        across = _across(self.entries)
        longest = max((len(keys) for _, keys in across), default=0)
        return _Matcher(by_term, by_form, pattern, across, longest)

    def occurrences(self, text: str) -> Iterator[tuple[int, int, GlossaryEntry]]:
        """(start, end, entry) of each whole-word, case-insensitive occurrence, in either
        script (``राहुल`` is an occurrence of "Rahul"); the longest term wins where terms
        overlap."""
        return self._matcher.occurrences(text)

    def read_ahead(self, texts: Iterable[str]) -> None:
        """Romanize the Indic words of all ``texts`` in one call, so that matching each of
        them afterwards is a lookup (a call per text costs ~8 ms)."""
        if self._matcher.across:
            word_keys(w for t in texts for w in INDIC_WORD.findall(t))

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
