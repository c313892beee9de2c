"""Subtitle writers: SRT, WebVTT and a WhisperX-like JSON transcript."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from cache_store import Transcript

__all__ = ["format_timestamp", "to_srt", "to_vtt", "write_all"]

# Broadcast subtitle guidance: at most two lines of about 42 characters.
_LINE_WIDTH = 42


def format_timestamp(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _cues(transcript: Transcript) -> list[tuple[float, float, str]]:
    cues = []
    for seg in transcript.segments:
        text = "\n".join(textwrap.wrap(seg.text.strip(), _LINE_WIDTH)) or seg.text.strip()
        if text:
            cues.append((seg.start, max(seg.end, seg.start + 0.001), text))
    return cues


def to_srt(transcript: Transcript) -> str:
    return "".join(
        f"{i}\n{format_timestamp(a, ',')} --> {format_timestamp(b, ',')}\n{text}\n\n"
        for i, (a, b, text) in enumerate(_cues(transcript), start=1)
    )


def to_vtt(transcript: Transcript) -> str:
    body = "".join(
        f"{format_timestamp(a, '.')} --> {format_timestamp(b, '.')}\n{text}\n\n"
        for a, b, text in _cues(transcript)
    )
    return "WEBVTT\n\n" + body


def write_all(transcript: Transcript, out_dir: Path, stem: str) -> dict[str, str]:
    """Write all three formats; returns format name ("srt", "vtt", "json") to path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    for fmt, text in (
        ("srt", to_srt(transcript)),
        ("vtt", to_vtt(transcript)),
        ("json", json.dumps(transcript.to_dict(), ensure_ascii=False, indent=2)),
    ):
        path = out_dir / f"{stem}.{fmt}"
        path.write_text(text, encoding="utf-8")
        files[fmt] = str(path)
    return files
