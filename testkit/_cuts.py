"""Cuts of a program and how well an alignment recovers them: shared by the alignment tests
(``tests/cuts/test_align.py``) and the cuts benchmark (``benchmarks/cuts_bench.py``).

Scoring: audio is sampled every 50 ms; a sample counts as found when its span maps it to within
0.5 s of where it truly came from. Pauses that an edit falls in are not scored, and a boundary
anywhere in such a pause is exact: Chromaprint normalises each frame's loudness away, so a
quiet frame beside speech reads as that speech and the edit's place within the pause cannot be
seen (nor matters: no ASR segment lies in it).
"""

from __future__ import annotations

import itertools
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cuts import Alignment
from engines import fingerprint

from ._media import ffmpeg

SR = 16000
PAL = 25 / 23.976  # film (23.976 fps) played at 25 fps: 4.3% faster
Pcm = npt.NDArray[np.int16]
Truth = Sequence[tuple[float, float, float | None]]  # new start, new end, old start or None


def read_pcm(path: Path) -> Pcm:
    with wave.open(str(path), "rb") as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").copy()


def write_pcm(path: Path, pcm: Pcm) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.astype("<i2").tobytes())
    return path


def decode_pcm(src: Path, dst: Path, *filters: str) -> Path:
    """``src`` through ffmpeg ``filters`` into a 16 kHz mono WAV."""
    ffmpeg("-i", str(src), *filters, "-ac", "1", "-ar", str(SR), "-c:a", "pcm_s16le", str(dst))
    return dst


def with_noise(pcm: Pcm, snr_db: float) -> Pcm:
    """White noise ``snr_db`` below the speech (its loud frames), as a bad transfer adds."""
    x = pcm.astype(np.float64)
    speech = np.sqrt(np.mean(x[np.abs(x) > 0.05 * np.abs(x).max()] ** 2))
    noise = np.random.default_rng(11).normal(0, speech / 10 ** (snr_db / 20), len(x))
    return np.clip(x + noise, -32768, 32767).astype(np.int16)


def flip_bits(
    fp: npt.NDArray[np.uint32], rate: float, rng: np.random.Generator
) -> npt.NDArray[np.uint32]:
    """``fp`` with each bit flipped with probability ``rate`` (re-encoding, noise)."""
    bits = rng.random((len(fp), 32)) < rate
    mask = (bits.astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(axis=1)
    flipped: npt.NDArray[np.uint32] = fp ^ mask.astype(np.uint32)
    return flipped


def chromaprint_at(wav: Path, speed: float = 1.0) -> npt.NDArray[np.uint32]:
    """Raw Chromaprint with the rate declared as ``rate / speed`` (undoes a resampled speed-up)."""
    return np.array(fingerprint.chromaprint_at(wav, speed)[1], dtype=np.uint32)


def pauses(pcm: Pcm) -> npt.NDArray[np.bool_]:
    """Per 10 ms: whether the audio is background only (40 dB below full scale)."""
    x = pcm.astype(np.float64) / 32768
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    return np.asarray(10 * np.log10((frames**2).mean(axis=1) + 1e-12) < -40)


def pause_around(quiet: npt.NDArray[np.bool_], t: float) -> tuple[float, float]:
    """The pause an edit at ``t`` falls in or touches (within 0.1 s); (t, t) in speech."""
    at = min(round(t / 0.01), len(quiet) - 1)
    near = [i for i in range(max(0, at - 10), min(len(quiet), at + 11)) if quiet[i]]
    if not near:
        return t, t
    i = j = min(near, key=lambda i: abs(i - at))
    while i > 0 and quiet[i - 1]:
        i -= 1
    while j < len(quiet) and quiet[j]:
        j += 1
    return min(i * 0.01, t), max(j * 0.01, t)


@dataclass(frozen=True)
class Score:
    recall: float
    precision: float
    boundary_error: float  # seconds, worst edit: from a span edge to the pause the edit is in

    def __str__(self) -> str:
        return (
            f"recall {self.recall:.4f} precision {self.precision:.4f} "
            f"edge {self.boundary_error:.2f}s"
        )


def score(al: Alignment, truth: Truth, scale: float, pcm: Pcm, pcm_speed: float = 1.0) -> Score:
    """How well ``al`` recovers ``truth`` (new times already divided by ``scale``). Pauses are
    read from ``pcm``, which plays ``pcm_speed`` times slower than the new cut (the dry speech
    before a speed change, say)."""
    quiet = pauses(pcm)
    end = truth[-1][1]
    edits = [
        a[1]
        for a, b in itertools.pairwise(truth)
        if a[2] is None or b[2] is None or abs(a[2] + (a[1] - a[0]) * scale - b[2]) > 0.01
    ]
    unscored = [
        (a / pcm_speed, b / pcm_speed)
        for a, b in (pause_around(quiet, e * pcm_speed) for e in edits)
    ]
    t = np.arange(0.0, end, 0.05)
    keep = ~np.any([(t >= a) & (t <= b) for a, b in unscored] or [np.zeros(len(t), bool)], axis=0)
    want = np.full(len(t), np.nan)
    for new_start, new_end, old_start in truth:
        if old_start is not None:
            inside = (t >= new_start) & (t < new_end)
            want[inside] = old_start + (t[inside] - new_start) * scale
    got = np.full(len(t), np.nan)
    for span in al.spans:
        inside = (t >= span.new_start) & (t < span.new_end)
        got[inside] = span.old_start + (t[inside] - span.new_start) * span.scale
    right = keep & (np.abs(got - want) <= 0.5)
    recall = right.sum() / max(1, (keep & ~np.isnan(want)).sum())
    precision = right.sum() / max(1, (keep & ~np.isnan(got)).sum())
    edges = [x for s in al.spans for x in (s.new_start, s.new_end)]
    worst = 0.0
    for a, b in unscored:
        worst = max(worst, min((max(a - x, x - b, 0.0) for x in edges), default=np.inf))
    return Score(float(recall), float(precision), worst)
