"""Condensing a cue that cannot be read in time: hesitations, fillers and stammered repeats
go, as Netflix's style guides allow ("truncating the original dialogue should be limited to
instances where reading speed and synchronicity to the audio are an issue"). Words are only
taken out, never changed, so what is left is still what was said."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["condensed"]

# Sounds that carry no words, anywhere in a line.
_HESITATIONS: dict[str, frozenset[str]] = {
    "en": frozenset(
        ["um", "umm", "uh", "uhh", "er", "erm", "ah", "ahh", "eh", "hmm", "hm", "mm", "mmm"]
    ),
    "hi": frozenset(["अं", "उम्म", "हम्म", "अम्म", "ऊं"]),
}
# Openers that go when a comma closes them at the start of a sentence ("Oh, I'm ...").
_OPENERS: dict[str, frozenset[str]] = {
    "en": frozenset(["oh", "well", "so", "okay", "ok", "yeah", "like", "now"]),
    "hi": frozenset(["अरे", "अच्छा", "तो"]),
}
# Two-word fillers set off by a comma anywhere ("I thought, you know, I heard").
_ASIDES: dict[str, frozenset[tuple[str, str]]] = {
    "en": frozenset({("you", "know"), ("i", "mean")}),
}
# Repeats that are grammar, not a stammer ("I know that that is true").
_DOUBLES = frozenset(["that", "had", "is"])
_END = (".", "?", "!", "\u2026", "\u0964")
_STRIP = ".,;:!?\"'\u2026\u0964"


def _bare(word: str) -> str:
    return word.strip(_STRIP).lower()


def _stammer(word: str) -> bool:
    """Whether ``word`` said twice in a row is a stammer (its first saying goes)."""
    bare = _bare(word)
    return bool(bare) and bare not in _DOUBLES and not word.endswith(_END)


def _capitalised(word: str) -> str:
    return re.sub(r"^(\W*)(\w)", lambda m: m[1] + m[2].upper(), word, count=1)


def condensed(words: Sequence[str], language: str | None) -> list[str]:
    """``words`` without the hesitations, comma-closed openers and asides, and immediate
    repeats of ``language`` (its base code); a sentence that loses its first word starts with
    a capital, one that loses its last keeps its full stop."""
    lang = (language or "").split("-")[0].lower()
    hesitations = _HESITATIONS.get(lang, frozenset())
    openers, asides = _OPENERS.get(lang, frozenset()), _ASIDES.get(lang, frozenset())
    drop = [False] * len(words)
    for k, word in enumerate(words):
        bare = _bare(word)
        starts = k == 0 or words[k - 1].endswith(_END)
        pair = (bare, _bare(words[k + 1])) if k + 1 < len(words) else None
        if (
            bare in hesitations
            or (starts and bare in openers and word.endswith(",") and k + 1 < len(words))
            or (pair is not None and bare == pair[1] and _stammer(word))
        ):
            drop[k] = True
        elif pair in asides and words[k + 1].endswith(",") and (starts or words[k - 1][-1:] == ","):
            drop[k] = drop[k + 1] = True
    kept: list[str] = []
    capital = False
    for k, word in enumerate(words):
        starts = k == 0 or words[k - 1].endswith(_END)
        if drop[k]:
            capital = capital or starts
            if word.endswith(_END) and kept and not kept[-1].endswith(_END):
                kept[-1] = kept[-1].rstrip(",;:") + word[-1]
            continue
        kept.append(_capitalised(word) if capital else word)
        capital = False
    return kept if kept else list(words)
