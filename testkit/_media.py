"""Real media for tests and benchmarks: espeak-ng speech muxed by ffmpeg, in any container,
and minutes of varied English for the benchmarks' clips."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

SPOKEN = (
    "The film begins in a small village near the river. Every morning the children walk "
    "to school along the dusty road. Their teacher tells them stories about the old king and "
    "his clever minister. One day a stranger arrives with a box full of letters. Nobody knows "
    "where he came from or why he has come."
)


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def faststart_copy(src: Path, dst: Path) -> Path:
    """A faststart MP4 keeps its index up front: cut short, it still probes but won't decode."""
    ffmpeg("-i", str(src), "-c", "copy", "-movflags", "+faststart", str(dst))
    return dst


def speak(text: str, out: Path, *, video: bool = True, speed: int = 150) -> Path:
    """espeak-ng speech, muxed by ffmpeg into ``out`` (MP4 with a video track, or audio only)."""
    wav = out.with_suffix(".speech.wav")
    subprocess.run(["espeak-ng", "-s", str(speed), "-w", str(wav), text], check=True)
    picture = ("-f", "lavfi", "-i", "color=c=navy:s=160x90:r=5") if video else ()
    encode = ("-shortest", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p")
    ffmpeg(
        *picture, "-i", str(wav), *(encode if video else ()), "-c:a", "aac", "-b:a", "48k", str(out)
    )
    wav.unlink()
    return out


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
