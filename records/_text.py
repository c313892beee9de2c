"""Text as the ear hears it, for comparing what was said: any script."""

from __future__ import annotations

import unicodedata

__all__ = ["spoken_words"]


def spoken_words(text: str) -> list[str]:
    """``text``'s words, lower-cased, without punctuation or symbols. Letters, digits and
    combining marks stay (``\\w`` drops Devanagari's vowel signs and splits every Hindi word);
    an apostrophe inside a word stays ("don't")."""
    kept = "".join(
        c if unicodedata.category(c)[0] in "LMN" or c == "'" else " " for c in text.lower()
    )
    return [w.strip("'") for w in kept.split() if w.strip("'")]
