"""An upload made into a file the pipeline reads. Raw PCM, as Bazarr sends it (``encode=false``),
is the decoded audio itself: it is wrapped as the WAV demux would have written and hashed on the
way, as demux's audio is, so a film the CLI already subtitled is known at once. Any other body
is kept as it came, for ffmpeg to decode."""

from __future__ import annotations

import hashlib
import re
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from fastapi import HTTPException

from engines.media import SAMPLE_RATE, MediaError, probe

__all__ = ["Upload", "receive"]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Upload:
    path: Path
    name: str  # the client's file name, for the answer's
    audio_hash: str | None  # raw PCM: the decoded audio's hash, known before any stage


def _name(filename: str | None) -> str:
    """The client's file name, reduced to its last part and to characters safe in a header."""
    name = re.sub(r"[^\w .()+-]", "_", Path(filename or "").name).strip(" .")
    return name[-120:] or "audio"


def receive(source: BinaryIO, filename: str | None, encode: bool, folder: Path) -> Upload:
    """Write the uploaded ``source`` into ``folder`` under the client's ``filename`` (the
    media's own name, where Bazarr sends it: the flow run in the UI says which film); HTTP 400
    for an empty body or PCM of an odd length, 415 for a media body ffmpeg cannot read."""
    name = _name(filename)
    if encode:
        path = folder / name
        with path.open("wb") as out:
            shutil.copyfileobj(source, out, _CHUNK)
        if path.stat().st_size == 0:
            raise HTTPException(400, "audio_file is empty")
        try:
            probe(path)
        except MediaError as exc:
            why = str(exc).removeprefix(f"{path}: ")
            raise HTTPException(
                415, f"{name}: not audio or video ffmpeg can read ({why})"
            ) from None
        return Upload(path, name, None)
    path = folder / f"{Path(name).stem}.wav"
    digest, size = hashlib.sha256(), 0
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.writeframesraw(chunk)
    if size == 0:
        raise HTTPException(400, "audio_file is empty")
    if size % 2:
        raise HTTPException(
            400,
            f"raw PCM of {size} bytes: 16-bit samples come in pairs of bytes (encode=false "
            "means 16 kHz mono s16le; send a media file with encode=true)",
        )
    return Upload(path, name, digest.hexdigest())
