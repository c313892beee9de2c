"""Benchmark media: minutes of varied espeak-ng English in an MP4 with a video track."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.helpers import speak  # the same espeak-ng + ffmpeg recipe as the tests

_SUBJECTS = [
    "The old teacher",
    "A young doctor",
    "Raj",
    "Priya",
    "The station master",
    "My grandmother",
    "The farmer",
    "A tired driver",
    "The little girl",
    "Our neighbour",
]
_VERBS = [
    "walks to",
    "writes a letter about",
    "remembers",
    "talks quietly about",
    "waits near",
    "dreams about",
    "sings a song about",
    "paints a picture of",
    "runs past",
    "visits",
]
_OBJECTS = [
    "the river",
    "the busy market",
    "the railway station",
    "the small temple",
    "the school garden",
    "the city hospital",
    "the mountain road",
    "the village well",
    "the cinema hall",
    "the morning train",
]
_TAILS = [
    "every evening",
    "before the rain",
    "after the festival",
    "in the cold winter",
    "with a heavy heart",
    "while the sun sets",
    "on a quiet Sunday",
    "without a word",
]


def script(minutes: float, seed: int = 7) -> str:
    rng = random.Random(seed)
    words_needed = int(minutes * 150)
    sentences: list[str] = []
    while sum(len(s.split()) for s in sentences) < words_needed:
        sentences.append(
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} "
            f"{rng.choice(_TAILS)}."
        )
    return " ".join(sentences)


def make_clip(path: Path, minutes: float) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        speak(script(minutes), path)
    return path
