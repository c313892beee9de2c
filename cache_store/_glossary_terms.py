"""Layer 5's knowledge of terms: the built-in cultural terms and stopwords, learning (character
names and cultural terms counted over a transcript, misspelt variants folded into the name they
are, counts merged into a glossary), and a glossary's two uses: correcting ASR misspellings of
names, and carrying terms through machine translation intact (placeholders, or the text cut at
its terms).

Each glossary remembers the digests of the transcripts it counted (``learned_from``), so a
cached re-run of the same film does not count its names twice.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from ._glossary import _WCH, Glossary, GlossaryEntry, GlossaryPolicy
from ._records import Segment, Transcript, Word

__all__ = [
    "CULTURAL_TERMS",
    "PLACEHOLDER",
    "CulturalTerm",
    "LearnReport",
    "NameCorrection",
    "Protected",
    "correct_names",
    "extract_character_names",
    "extract_cultural_terms",
    "name_similarity",
    "protect",
    "split_on_terms",
    "transcript_digest",
]

MAX_CONTEXTS = 3
MAX_SPEAKERS = 8
MAX_CONTEXT_CHARS = 120
MAX_LEARNED_FROM = 10_000  # transcript digests remembered per glossary (oldest dropped)
# Confidence of an occurrence with neither a word score nor a segment confidence: below the
# default GLOSSARY_GLOBAL_MIN_CONFIDENCE (0.85), so an unscored name is learned for its film
# but is not promoted to the global glossary on no evidence.
UNSCORED_CONFIDENCE = 0.8
NAME_MATCH_SCORE = 85.0  # rapidfuzz scale, for folding variants and correcting names
_MIN_NAME_LEN = 3

_TOKEN = re.compile(f"[{_WCH}]+")
_LATIN = re.compile("(?<![\\w'\u2019])[A-Za-z]+(?!\\w)")
_CAPITALISED = re.compile(r"[A-Z][a-z]+")
_SENTENCE_END = re.compile(r"[.!?…।]")


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
