"""Correcting ASR misspellings of the character names a film's glossary knows."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from records import Segment, Transcript, Word

from ._model import Glossary, GlossaryEntry
from ._terms import CAPITALISED, LATIN, MIN_NAME_LEN, NAME_MATCH_SCORE, STOPWORDS, name_similarity

__all__ = ["NameCorrection", "correct_names"]


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
            not CAPITALISED.fullmatch(token)
            or len(token) < MIN_NAME_LEN
            or key in STOPWORDS
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

        return LATIN.sub(repl, text), fixed

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
                    for m in LATIN.finditer(word.word)
                    if m.group(0).casefold() in self.names
                ),
                None,
            )
            if entry is not None:
                boost = 1.2 * (1.1 if speaker is not None and speaker in entry.speakers else 1.0)
                score = min(1.0, score * boost)
        return dataclasses.replace(word, word=text, score=score)
