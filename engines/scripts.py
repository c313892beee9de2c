"""Romanized subtitles (``--script latin``): Hindi as people type it ("main ghar ja raha hun"),
and the other Indic scripts the same way (``records.romanized``), sentences capitalised."""

from __future__ import annotations

import re
from dataclasses import replace

from records import INDIC_SCRIPTS, Transcript, romanized

__all__ = ["SCRIPTS", "ScriptError", "check_script", "romanize"]

SCRIPTS = ("native", "latin")
_FIRST_LETTER = re.compile(r"^(\W*)(\w)")


class ScriptError(ValueError):
    """A script the subtitles cannot be written in."""


def check_script(script: str) -> None:
    if script not in SCRIPTS:
        raise ScriptError(f"unknown script {script!r}: use one of {', '.join(SCRIPTS)}")


def _capitalised(texts: list[str]) -> list[str]:
    """Each sentence's first word with a capital, sentences running on from text to text."""
    out, start = [], True
    for text in texts:
        words = []
        for said in text.split(" "):
            word = _FIRST_LETTER.sub(lambda m: m[1] + m[2].upper(), said, 1) if start else said
            words.append(word)
            start = word.endswith((".", "?", "!")) if word else start
        out.append(" ".join(words))
    return out


def romanize(transcript: Transcript) -> Transcript:
    """``transcript`` in Latin letters, word by word (times kept), sentences capitalised;
    unchanged for a language not written in an Indic script."""
    if transcript.language not in INDIC_SCRIPTS:
        return transcript
    segments = transcript.segments
    words = _capitalised(
        romanized([w.word for s in segments for w in s.words], transcript.language)
    )
    texts = _capitalised(romanized([s.text for s in segments], transcript.language))
    latin = iter(words)
    return replace(
        transcript,
        segments=tuple(
            replace(s, text=text, words=tuple(replace(w, word=next(latin)) for w in s.words))
            for s, text in zip(segments, texts, strict=True)
        ),
    )
