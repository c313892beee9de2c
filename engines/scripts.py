"""Romanized subtitles (``--script latin``): Hindi as people type it ("main ghar ja raha hun"),
and the other Indic scripts the same way, through Aksharamukha.

Aksharamukha's colloquial romanization with its Hindi schwa deletion writes ``राहुल`` as
"rahul", not "rAhula" (indic-transliteration's ITRANS/OPTITRANS keep every inherent vowel and
case-code the long ones). A nasal closing a word is typed "n" ("main", "nahin", "hain"), so it is
written as one before romanizing.
"""

from __future__ import annotations

import re
from dataclasses import replace

from records import Transcript

__all__ = ["SCRIPTS", "ScriptError", "check_script", "romanize"]

# Whisper's language code: the script Aksharamukha reads it in.
_NATIVE = {
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
SCRIPTS = ("native", "latin")
_FINAL_NASAL = re.compile("[\u0901\u0902](?=[^\u0900-\u0963\u0966-\u097f]*$)")
_FIRST_LETTER = re.compile(r"^(\W*)(\w)")


class ScriptError(ValueError):
    """A script the subtitles cannot be written in."""


def check_script(script: str) -> None:
    if script not in SCRIPTS:
        raise ScriptError(f"unknown script {script!r}: use one of {', '.join(SCRIPTS)}")


def _romanized(texts: list[str], language: str) -> list[str]:
    """Each of ``texts`` in Latin letters, in one call (Aksharamukha costs ~10 ms a call)."""
    from aksharamukha import transliterate  # type: ignore[import-untyped]

    source = _NATIVE[language]
    if source == "Devanagari":
        texts = [" ".join(_FINAL_NASAL.sub("न्", w) for w in t.split(" ")) for t in texts]
    options = ["RemoveSchwaHindi"] if language == "hi" else []
    joined = transliterate.process(source, "RomanColloquial", "\n".join(texts), pre_options=options)
    out = str(joined).split("\n")
    if len(out) != len(texts):  # a text that held a line break of its own
        out = [
            str(transliterate.process(source, "RomanColloquial", t, pre_options=options))
            for t in texts
        ]
    return out


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
    if transcript.language not in _NATIVE:
        return transcript
    segments = transcript.segments
    words = _capitalised(
        _romanized([w.word for s in segments for w in s.words], transcript.language)
    )
    texts = _capitalised(_romanized([s.text for s in segments], transcript.language))
    latin = iter(words)
    return replace(
        transcript,
        segments=tuple(
            replace(s, text=text, words=tuple(replace(w, word=next(latin)) for w in s.words))
            for s, text in zip(segments, texts, strict=True)
        ),
    )
