"""Layer-1 analysis of decoded audio: content hash, noise profile, raw Chromaprint."""

from __future__ import annotations

import hashlib
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from records import AudioFingerprint, NoiseProfile

__all__ = ["analyse", "chromaprint_at", "hash_pcm"]

# 30 ms frames at 16 kHz, 128 to a block: blocks split into whole analysis frames.
_FRAME = 480
FRAME_SECONDS = _FRAME / 16000  # of frame_energies
_BLOCK_FRAMES = _FRAME * 128
# Large enough for any film: pyacoustid's default of 120 s would fingerprint only the opening.
_CHROMAPRINT_MAXLENGTH = 24 * 3600


def _blocks(wav_path: Path) -> Iterator[bytes]:
    with wave.open(str(wav_path), "rb") as w:
        while block := w.readframes(_BLOCK_FRAMES):
            yield block


def hash_pcm(wav_path: Path) -> str:
    """SHA-256 of the decoded samples, not the container: a remux of the same audio hashes alike."""
    digest = hashlib.sha256()
    for block in _blocks(wav_path):
        digest.update(block)
    return digest.hexdigest()


def frame_energies(wav_path: Path) -> np.ndarray:
    """Mean power of each 30 ms frame, streamed so a whole film never sits in memory as floats."""
    parts = []
    for block in _blocks(wav_path):
        pcm = np.frombuffer(block, dtype="<i2")
        n = len(pcm) // _FRAME
        if n:
            frames = pcm[: n * _FRAME].astype(np.float32).reshape(n, _FRAME) / 32768.0
            parts.append((frames**2).mean(axis=1))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def noise_profile(energy: np.ndarray) -> NoiseProfile:
    """SNR from frame energies: loud frames stand for speech, the quietest for the noise floor."""
    if len(energy) < 2:
        return NoiseProfile(snr_db=0.0, noise_floor_dbfs=-120.0, background_noise_level="low")
    energy = np.maximum(energy.astype(np.float64), 1e-12)
    floor, speech = np.percentile(energy, 10), np.percentile(energy, 90)
    snr_db = float(10 * np.log10(speech / floor))
    floor_dbfs = float(10 * np.log10(floor))
    level = "low" if floor_dbfs < -60 else "medium" if floor_dbfs < -40 else "high"
    above = 10 * np.log10(energy / floor)
    speech = above >= 10
    clarity = float((above[speech] >= 20).mean()) if speech.any() else 0.0
    return NoiseProfile(round(snr_db, 2), round(floor_dbfs, 2), level, round(clarity, 4))


def chromaprint_raw(wav_path: Path, sample_rate: int) -> tuple[int, ...]:
    import acoustid
    import chromaprint

    encoded = acoustid.fingerprint(sample_rate, 1, _blocks(wav_path), _CHROMAPRINT_MAXLENGTH)
    raw, _algorithm = chromaprint.decode_fingerprint(encoded)
    return tuple(int(x) for x in raw)


def chromaprint_at(wav_path: Path, speed: float) -> tuple[float, tuple[int, ...]]:
    """Raw Chromaprint with the rate declared as about ``rate / speed``: this undoes a speed
    change made by resampling (a PAL release of a film), so the audio aligns with its other
    cut. Returns the speed the whole-numbered declared rate gives, and the fingerprint."""
    with wave.open(str(wav_path), "rb") as w:
        rate = w.getframerate()
    declared = round(rate / speed)
    return rate / declared, chromaprint_raw(wav_path, declared)


def analyse(wav_path: Path, source: Path, audio_hash: str | None = None) -> AudioFingerprint:
    """``audio_hash``: the content hash when the caller already has it."""
    with wave.open(str(wav_path), "rb") as w:
        sample_rate, channels, frames = w.getframerate(), w.getnchannels(), w.getnframes()
    return AudioFingerprint(
        audio_hash=audio_hash or hash_pcm(wav_path),
        duration=round(frames / sample_rate, 3),
        sample_rate=sample_rate,
        channels=channels,
        noise_profile=noise_profile(frame_energies(wav_path)),
        chromaprint=chromaprint_raw(wav_path, sample_rate),
        source_file=str(source),
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )
