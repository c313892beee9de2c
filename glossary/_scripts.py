"""Terms across scripts: a name the glossary has as "Rahul" is the ``राहुल`` of a Devanagari
transcript, and a term entered as ``बेटा`` is the "beta" of a romanized one. Both sides are
compared as spelling keys: Indic words romanized as people type them, then the spelling
variants Hindi names are written with folded away ("Jay"/"Jai", "Adithi"/"Aditi")."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from records import indic_language, romanized

__all__ = ["INDIC_WORD", "LATIN_WORD", "spelling_key", "word_keys"]

# A word in one of the Indic scripts (U+0900-U+0DFF: letters, vowel signs, viramas), or in
# Latin letters (with the apostrophe of "Shah's").
INDIC_WORD = re.compile("[\u0900-\u0963\u0966-\u0dff]+")
LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*")

_KEY_RULES = (
    (re.compile(r"(?<=[aeiou])y(?![aeiou])"), "i"),
    (re.compile(r"ee"), "i"),
    (re.compile(r"oo"), "u"),
    (re.compile(r"([tdkgbcp])h"), r"\1"),
    (re.compile(r"w"), "v"),
    (re.compile(r"q"), "k"),
    (re.compile(r"(.)\1+"), r"\1"),
)
_romanized: dict[str, str] = {}  # Indic word: its romanization, for the life of the process


@lru_cache(maxsize=1 << 16)
def spelling_key(latin: str) -> str:
    """A Latin spelling with its Hindi-name variants folded: ``jay`` and ``jai`` are one."""
    key = latin.casefold()
    for pattern, repl in _KEY_RULES:
        key = pattern.sub(repl, key)
    return key


def word_keys(words: Iterable[str]) -> list[str]:
    """Each word's spelling key; Indic words romanized first, all new ones in one call."""
    words = list(words)
    new: dict[str, list[str]] = {}
    for word in dict.fromkeys(words):
        language = indic_language(word)
        if language is not None and word not in _romanized:
            new.setdefault(language, []).append(word)
    for language, batch in new.items():
        _romanized.update(zip(batch, romanized(batch, language), strict=True))
    return [spelling_key(_romanized.get(word, word)) for word in words]
