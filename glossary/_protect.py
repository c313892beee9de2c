"""Carrying glossary terms through machine translation intact: placeholders the model copies,
or the text cut at its terms when it does not; and, where the speech was translated directly
(no text went in), the renderings put into what came out."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._model import WORD_CHARS, Glossary, GlossaryEntry
from ._terms import LATIN, NAME_MATCH_SCORE, name_similarity

__all__ = ["PLACEHOLDER", "Protected", "protect", "render_terms", "split_on_terms"]


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


def _whole(word: str) -> re.Pattern[str]:
    return re.compile(f"(?<![{WORD_CHARS}]){re.escape(word)}(?![{WORD_CHARS}])", re.IGNORECASE)


def _cased(rendering: str, replaced: str) -> str:
    """``rendering`` with the capital of the word it replaces ("Son," -> "Beta,")."""
    if replaced[:1].isupper() and rendering[:1].islower():
        return rendering[:1].upper() + rendering[1:]
    return rendering


def render_terms(
    source: str, translated: str, glossary: Glossary, target_language: str
) -> tuple[str, tuple[GlossaryEntry, ...]]:
    """``translated`` (a translation of the speech ``source`` transcribes) with each of
    ``source``'s terms as the glossary renders it, and the terms applied. A rendering already
    there stays; else the first of the term's meanings there (its ``alternatives``: "son" for
    beta) becomes it, or, for a name, the word spelt closest to it; else it cannot be placed
    and the text stays as it is."""
    text = translated
    found = {
        e.term.casefold(): (r, e) for _, _, r, e in _applicable(source, glossary, target_language)
    }
    for rendering, entry in found.values():
        if _whole(rendering).search(text):
            continue
        spots = [m for alt in entry.alternatives if (m := _whole(alt).search(text))]
        if entry.type == "character_name":
            spots += [
                m
                for m in LATIN.finditer(text)
                if name_similarity(m[0], rendering) >= NAME_MATCH_SCORE
            ]
        if spots:
            m = min(spots, key=lambda m: m.start())
            text = text[: m.start()] + _cased(rendering, m[0]) + text[m.end() :]
    return text, tuple(e for _, e in found.values())
