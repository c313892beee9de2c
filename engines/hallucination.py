"""Lines Whisper made up: dropped before they reach a subtitle.

Whisper writes text for every window the VAD hands it, and pyannote's VAD passes much music
and some noise. Over those it invents short stock lines ("Thank you.", "you", "Oh, yeah.") or
loops one phrase. What tells them apart, measured on real speech with game music and
room-tone silence inserted (``benchmarks/hallucination.py``):

* Whisper's own no-speech probability (the ``<|nospeech|>`` token's probability at the first
  decoding step; the engine computes it, batched WhisperX does not): made-up lines score
  0.45-0.9, speech 0.0-0.1 even under music at -10 dB;
* the confidence (``exp(avg_logprob)``): made-up lines score 0.1-0.55, clear speech 0.6-0.97;
* silence: nothing in the segment's audio reaches speech level;
* repetition: a line equal to the two before it, a phrase looped inside a line, and
  Whisper's gzip compression-ratio test of the text.

Pure: the segments, their audio and the no-speech probabilities in; what stays and what was
dropped, with why, out.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from records import Segment, spoken_words

__all__ = [
    "Dropped",
    "collapse_loops",
    "compression_ratio",
    "drop_hallucinations",
]

# Whisper's compression_ratio_threshold: a text that gzips this well is a loop, unless Whisper
# was sure of it: a long segment of plain speech with a small vocabulary reaches 2.6 (30 s
# segments; benchmarks/optimizer_bench.py's sentences lost whole segments to it). Past
# LOOP_COMPRESSION_RATIO no confidence saves it (a token loop is often said confidently).
MAX_COMPRESSION_RATIO = 2.4
LOOP_COMPRESSION_RATIO = 3.0
# A line (fuzzy) equal to the previous one this many times in a row: the next is a loop.
MAX_REPEATS = 2
SAME_LINE = 90.0  # rapidfuzz ratio of two normalised lines that are "the same"
# Whisper's own skip rule is no_speech_prob > 0.6 with avg_logprob < -1 (confidence 0.37);
# made-up lines here reach confidence 0.55 and speech stays under no_speech_prob 0.1.
NO_SPEECH = 0.4
NO_SPEECH_CONFIDENCE = 0.6  # above this, the words are trusted whatever no_speech_prob says
# The loudest 5% of a segment's 25 ms frames under this (dBFS) is silence, not quiet speech.
SILENT_DBFS = -50.0

Audio = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Dropped:
    """A segment taken out, and why. ``kept`` is what stays of it when only a loop inside it
    was cut (the transcript has ``kept`` in its place); ``None`` when it went whole."""

    segment: Segment
    reason: str
    kept: Segment | None = None


def drop_hallucinations(
    segments: Sequence[Segment],
    audio: Audio | None = None,
    rate: int = 16000,
    no_speech: Sequence[float | None] | None = None,
    prompt: str | None = None,
) -> tuple[list[Segment], list[Dropped]]:
    """``segments`` less the made-up ones, and those dropped or trimmed with the reason.

    ``audio`` is the samples the segment times point into (mono float, ``rate`` Hz);
    ``no_speech`` is Whisper's no-speech probability of each segment, ``None`` where unknown;
    ``prompt`` the text Whisper was primed with, which it repeats over music and silence.
    Each check runs only on the evidence given.
    """
    kept: list[Segment] = []
    dropped: list[Dropped] = []
    repeats = 0  # how many kept lines in a row were the same as the one before
    for n, segment in enumerate(segments):
        reason = _made_up(segment, audio, rate, no_speech[n] if no_speech is not None else None)
        line, why = segment, "a phrase looped inside the line"
        if reason is None:
            text = collapse_loops(segment.text)
            if prompt is not None and (unprompted := _without_prompt(text, prompt)) != text:
                text, why = unprompted, "the prompt Whisper was primed with, echoed"
                if not _normal(text):
                    reason = why
            if text != segment.text:
                line = replace(segment, text=text, words=())
            if kept and _same(kept[-1].text, line.text):
                repeats += 1
                if repeats >= MAX_REPEATS:
                    reason = f"the same line as the {MAX_REPEATS} before it"
            else:
                repeats = 0
        if reason is not None:
            dropped.append(Dropped(segment, reason))
            continue
        kept.append(line)
        if line is not segment:
            dropped.append(Dropped(segment, why, line))
    return kept, dropped


def _without_prompt(text: str, prompt: str) -> str:
    """``text`` less every run of two or more words the prompt has in a row: Whisper echoes
    its prompt into lines it is unsure of."""
    said = text.split()
    heard = [" ".join(spoken_words(w)) for w in said]
    primed = spoken_words(prompt)
    pairs = set(pairwise(primed))
    echoed = [False] * len(said)
    for k in range(len(said) - 1):
        if (heard[k], heard[k + 1]) in pairs:
            echoed[k] = echoed[k + 1] = True
    return " ".join(w for w, gone in zip(said, echoed, strict=True) if not gone)


def _made_up(
    segment: Segment, audio: Audio | None, rate: int, no_speech: float | None
) -> str | None:
    """Why this segment on its own is not speech, or ``None``."""
    if not _normal(segment.text):
        return "no words"
    ratio = compression_ratio(collapse_loops(segment.text))
    confidence = segment.confidence
    unsure = confidence is None or confidence < NO_SPEECH_CONFIDENCE
    if ratio > LOOP_COMPRESSION_RATIO or (ratio > MAX_COMPRESSION_RATIO and unsure):
        return f"repetitive text (compression ratio {ratio:.1f}, confidence {confidence})"
    if audio is not None:
        level = _loud_level(audio[int(segment.start * rate) : int(segment.end * rate)], rate)
        if level < SILENT_DBFS:
            return f"silent audio ({level:.0f} dBFS)"
    if (
        no_speech is not None
        and no_speech > NO_SPEECH
        and (confidence is None or confidence < NO_SPEECH_CONFIDENCE)
    ):
        return f"no speech (no_speech_prob {no_speech:.2f}, confidence {confidence})"
    return None


def compression_ratio(text: str) -> float:
    """Whisper's loop test: bytes of the text per byte of it zlib-compressed."""
    data = text.encode()
    return len(data) / len(zlib.compress(data)) if data else 0.0


def collapse_loops(text: str) -> str:
    """``text`` with each phrase said three or more times in a row said once (a single word:
    four or more times, since "no, no, no" is speech)."""
    words = text.split()
    keys = [_normal(w) for w in words]
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(1, (len(words) - i) // 3 + 1):
            phrase = keys[i : i + size]
            count = 1
            while keys[i + count * size : i + (count + 1) * size] == phrase:
                count += 1
            if count >= (3 if size > 1 else 4) and any(phrase):
                out.extend(words[i : i + size])
                i += count * size
                break
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def _normal(text: str) -> str:
    return " ".join(spoken_words(text))


def _same(a: str, b: str) -> bool:
    from rapidfuzz import fuzz

    return fuzz.ratio(_normal(a), _normal(b)) >= SAME_LINE


def _loud_level(samples: Audio, rate: int) -> float:
    """dBFS of the 95th percentile 25 ms frame: a word in a quiet segment still counts."""
    size = rate // 40
    if len(samples) < size:
        return -120.0
    frames = samples[: len(samples) // size * size].reshape(-1, size).astype(np.float64)
    level = float(np.percentile(np.sqrt(np.mean(frames**2, axis=1)), 95))
    return 20 * float(np.log10(level + 1e-6))
