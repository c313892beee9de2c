"""What the glossary knows before any film: Hindi/Bollywood cultural terms, the capitalised
words that are never names, how a transcript splits into scored tokens, and when two spellings
are one name. Learning (``_learn``) and name correction (``_names``) both build on it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from rapidfuzz import fuzz

from records import Segment

from ._model import WORD_CHARS, GlossaryEntry
from ._scripts import spelling_key

__all__ = [
    "CAPITALISED",
    "CULTURAL_BY_FORM",
    "CULTURAL_TERMS",
    "LATIN",
    "MIN_NAME_LEN",
    "NAME_MATCH_SCORE",
    "STOPWORDS",
    "CulturalTerm",
    "name_similarity",
    "tokens",
]

# Confidence of an occurrence with neither a word score nor a segment confidence: below the
# default GLOSSARY_GLOBAL_MIN_CONFIDENCE (0.85), so an unscored name is learned for its film
# but is not promoted to the global glossary on no evidence.
UNSCORED_CONFIDENCE = 0.8
NAME_MATCH_SCORE = 85.0  # rapidfuzz scale, for folding variants and correcting names
MIN_NAME_LEN = 3

_TOKEN = re.compile(f"[{WORD_CHARS}]+")
LATIN = re.compile("(?<![\\w'\u2019])[A-Za-z]+(?!\\w)")
CAPITALISED = re.compile(r"[A-Z][a-z]+")
_SENTENCE_END = re.compile(r"[.!?…।]")


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
CULTURAL_BY_FORM = {form.casefold(): ct for ct in CULTURAL_TERMS for form in (ct.term, *ct.forms)}

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
STOPWORDS = frozenset(w for line in _STOPWORD_LINES for w in line.split()) | frozenset(
    CULTURAL_BY_FORM
)


def name_similarity(a: str, b: str) -> float:
    """0-100: rapidfuzz ratio of the two names, or of their romanisation keys when higher
    ("Jay"/"Jai", "Adithi"/"Aditi" are one Hindi name spelt two ways). Names with different
    first letters, or shorter than 3, are never similar."""
    a, b = a.casefold(), b.casefold()
    if a[:1] != b[:1] or min(len(a), len(b)) < MIN_NAME_LEN:
        return 0.0
    return max(float(fuzz.ratio(a, b)), float(fuzz.ratio(spelling_key(a), spelling_key(b))))


def tokens(segment: Segment) -> Iterator[tuple[str, float, bool]]:
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
