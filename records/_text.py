"""Text as the ear hears it, for comparing what was said, and as people type it: any script.

Romanization goes through Aksharamukha: its colloquial romanization with Hindi schwa deletion
writes ``राहुल`` as "rahul", not "rAhula" (indic-transliteration's ITRANS/OPTITRANS keep every
inherent vowel and case-code the long ones). A nasal closing a word is typed "n" ("main",
"nahin", "hain"), so it is written as one before romanizing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

__all__ = ["INDIC_SCRIPTS", "indic_language", "romanized", "spoken_words"]

# Whisper's language code: the script Aksharamukha reads it in.
INDIC_SCRIPTS = {
    "hi": "Devanagari",
    "mr": "Devanagari",
    "ne": "Devanagari",
    "sa": "Devanagari",
    "bn": "Bengali",
    "as": "Bengali",
    "gu": "Gujarati",
    "pa": "Gurmukhi",
    "ta": "Tamil",
    "te": "Telugu",
    "kn": "Kannada",
    "ml": "Malayalam",
    "or": "Oriya",
}
# Unicode's Indic blocks, 128 code points each from U+0900: a language written in each.
_BLOCK_LANGUAGES = ("hi", "bn", "pa", "gu", "or", "ta", "te", "kn", "ml")
_FINAL_NASAL = re.compile("[\u0901\u0902](?=[^\u0900-\u0963\u0966-\u097f]*$)")


def spoken_words(text: str) -> list[str]:
    """``text``'s words, lower-cased, without punctuation or symbols. Letters, digits and
    combining marks stay (``\\w`` drops Devanagari's vowel signs and splits every Hindi word);
    an apostrophe inside a word stays ("don't")."""
    kept = "".join(
        c if unicodedata.category(c)[0] in "LMN" or c == "'" else " " for c in text.lower()
    )
    return [w.strip("'") for w in kept.split() if w.strip("'")]


def indic_language(text: str) -> str | None:
    """A language written in the Indic script of ``text``'s first Indic letter (Devanagari:
    Hindi), or None for text without one."""
    for ch in text:
        block = (ord(ch) - 0x0900) >> 7
        if 0 <= block < len(_BLOCK_LANGUAGES) and ch.isalpha():
            return _BLOCK_LANGUAGES[block]
    return None


def romanized(texts: Sequence[str], language: str) -> list[str]:
    """Each of ``texts`` (in ``language``'s Indic script) in Latin letters as people type them,
    lower case, in one call (Aksharamukha costs ~8 ms a call, ~0.5 ms a line)."""
    from aksharamukha import transliterate  # type: ignore[import-untyped]

    source = INDIC_SCRIPTS[language]
    lines = list(texts)
    if source == "Devanagari":
        lines = [" ".join(_FINAL_NASAL.sub("न्", w) for w in t.split(" ")) for t in lines]
    options = ["RemoveSchwaHindi"] if language == "hi" else []
    joined = transliterate.process(source, "RomanColloquial", "\n".join(lines), pre_options=options)
    out = str(joined).split("\n")
    if len(out) != len(lines):  # a text that held a line break of its own
        out = [
            str(transliterate.process(source, "RomanColloquial", t, pre_options=options))
            for t in lines
        ]
    return out
