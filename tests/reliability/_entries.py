"""Entries whose content follows from their key, so any entry read back can be checked."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from cache_manager import CacheManager

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "en", "beam_size": 5}

Served = Literal["hit", "miss", "corrupt"]


def audio(tag: str, i: int) -> str:
    return hashlib.sha256(f"{tag}-{i}".encode()).hexdigest()


def result_for(audio_hash: str) -> dict[str, object]:
    return {"segments": [{"start": 0.0, "end": 1.5, "text": f"the line of {audio_hash}"}]}


def put(cache: CacheManager, audio_hash: str) -> None:
    cache.set_asr_result(audio_hash, CONFIG, result_for(audio_hash), compute_seconds=1.0)


def served(cache: CacheManager, audio_hash: str) -> Served:
    data = cache.get_asr_result(audio_hash, CONFIG)
    if data is None:
        return "miss"
    return "hit" if data == result_for(audio_hash) else "corrupt"


def acknowledge(log: Path, audio_hash: str) -> None:
    """Append a key once its write returned: what a caller was told is stored."""
    with log.open("a") as fh:
        fh.write(audio_hash + "\n")
        fh.flush()


def acknowledged(folder: Path) -> set[str]:
    return {
        line
        for log in folder.glob("acked-*.log")
        for line in log.read_text().splitlines()
        if len(line) == 64  # a line cut short by a kill was never acknowledged
    }
