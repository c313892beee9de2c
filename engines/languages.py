"""Languages: the codes the pipeline knows, and which one a film speaks.

Whisper's own detector reads one 30 s window; a film's first 30 s are often titles and music.
Here it reads up to ``_WINDOWS`` windows of speech (Silero VAD, shipped inside faster-whisper)
taken from across the film, and averages their probabilities.

Hindi and Urdu are one spoken language (Hindustani) written in two scripts, and Whisper splits
its probability between them, often giving Hindi films to Urdu. Their probabilities are taken
together, and the speech is written as Hindi (Devanagari) unless the user asks for Urdu with
``--source-language ur``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .asr import AsrSettings, faster_whisper_model, read_wav
from .translate import FLORES_CODES

__all__ = ["LanguageError", "LanguageGuess", "check_language", "choose_language", "detect_language"]

log = logging.getLogger("engines.languages")

_RATE = 16000
_WINDOW = 30 * _RATE  # samples Whisper hears at once
_WINDOWS = 3  # windows of speech averaged
_STRETCHES = 6  # stretches of the film searched for speech
_STRETCH = 60 * _RATE
_MIN_SPEECH = 4 * _RATE  # less speech than this in the whole sample: detect on the raw audio
_HINDUSTANI = ("hi", "ur")
_SHOWN = 5  # probabilities kept


class LanguageError(ValueError):
    """A language code neither Whisper nor a translation model knows."""


def check_language(code: str | None, what: str = "", *, targets: bool = False) -> None:
    """Raise LanguageError for a ``code`` Whisper does not hear (``targets``: nor a translation
    model writes). None passes."""
    from whisperx.utils import LANGUAGES  # a plain dict module: whisperx's heavy parts stay out

    if code is None:
        return
    known = {*LANGUAGES, *FLORES_CODES} if targets else set(LANGUAGES)
    if code not in known:
        label = f"{what} language code" if what else "language code"
        raise LanguageError(f"unknown {label} {code!r}: use an ISO 639-1 code such as hi, en, ta")


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # what the speech is transcribed as
    probs: dict[str, float]  # Whisper's most probable languages, averaged over the windows
    note: str | None = None  # why ``language`` is not simply the most probable one


def choose_language(probs: dict[str, float]) -> LanguageGuess:
    """The language to transcribe as, from Whisper's probabilities: the most probable one,
    with Hindi and Urdu counted together and written as Hindi."""
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    top, p_top = ranked[0]
    hindustani = sum(probs.get(code, 0.0) for code in _HINDUSTANI)
    if top not in _HINDUSTANI and hindustani <= p_top:
        return LanguageGuess(top, probs)
    if top == "hi":
        return LanguageGuess("hi", probs)
    note = (
        f"Hindi and Urdu counted as one (hi {probs.get('hi', 0.0):.2f} + ur "
        f"{probs.get('ur', 0.0):.2f}, {top} {p_top:.2f}): written as Hindi in Devanagari; "
        "--source-language ur writes Urdu script"
    )
    return LanguageGuess("hi", probs, note)


def _speech(audio: Any) -> Any:
    """Up to ``_WINDOWS`` x 30 s of speech from stretches spread over ``audio``."""
    import numpy as np
    from faster_whisper.vad import (  # type: ignore[import-untyped]
        VadOptions,
        collect_chunks,
        get_speech_timestamps,
    )

    n = len(audio)
    if n <= _STRETCHES * _STRETCH:
        stretches = [audio]
    else:
        step = (n - _STRETCH) / (_STRETCHES - 1)
        stretches = [audio[int(k * step) : int(k * step) + _STRETCH] for k in range(_STRETCHES)]
    found, total = [], 0
    for stretch in stretches:
        spans = get_speech_timestamps(stretch, VadOptions(min_speech_duration_ms=500))
        if spans:
            chunks, _ = collect_chunks(stretch, spans)
            speech = np.concatenate(chunks)
            found.append(speech)
            total += len(speech)
        if total >= _WINDOWS * _WINDOW:
            break
    return np.concatenate(found)[: _WINDOWS * _WINDOW] if total >= _MIN_SPEECH else None


def detect_language(wav: Path, settings: AsrSettings) -> LanguageGuess:
    """The language of the speech in ``wav`` (16 kHz mono s16), by the multilingual model of
    ``settings``."""
    return _detect(read_wav(wav), faster_whisper_model(settings))


def _detect(audio: Any, model: Any) -> LanguageGuess:
    import numpy as np

    speech = _speech(audio)
    sample = speech if speech is not None else audio[: _WINDOWS * _WINDOW]
    if speech is None:
        log.info("language: no speech found by the VAD, detected on the first %d s", _WINDOWS * 30)
    windows = [sample[at : at + _WINDOW] for at in range(0, max(len(sample), 1), _WINDOW)]
    frames = model.feature_extractor.nb_max_frames
    # Each window padded with silence to 30 s, as Whisper hears it; a last second or less
    # says nothing.
    features = [
        model.feature_extractor(np.pad(w, (0, _WINDOW - len(w))))[:, :frames]
        for w in windows
        if len(w) >= _RATE
    ] or [model.feature_extractor(np.zeros(_WINDOW, dtype=np.float32))[:, :frames]]
    results = model.model.detect_language(model.encode(np.stack(features)))
    totals: dict[str, float] = {}
    for window in results:
        for token, p in window:
            totals[token[2:-2]] = totals.get(token[2:-2], 0.0) + p / len(results)
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    probs = {code: round(p, 4) for code, p in ranked[:_SHOWN]}
    for code in _HINDUSTANI:  # both, whenever either is in the running
        if code not in probs and any(c in probs for c in _HINDUSTANI):
            probs[code] = round(totals.get(code, 0.0), 4)
    guess = choose_language(probs)
    log.info(
        "language: %s (%s)%s",
        guess.language,
        ", ".join(f"{c} {p:.2f}" for c, p in probs.items()),
        f": {guess.note}" if guess.note else "",
    )
    return guess
