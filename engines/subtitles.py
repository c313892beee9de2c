"""Subtitle writers: SRT, WebVTT and a WhisperX-like JSON transcript."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from records import Transcript

__all__ = ["format_timestamp", "to_srt", "to_vtt", "write_all"]

# Broadcast subtitle guidance: at most two lines of about 42 characters.
_LINE_WIDTH = 42
_MAX_LINES = 2


def format_timestamp(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _chunks(text: str) -> list[str]:
    """Split a segment's text into cues of at most two lines, preferring sentence ends."""
    chunks: list[str] = []
    current: list[str] = []
    for word in text.split():
        if current and len(textwrap.wrap(" ".join([*current, word]), _LINE_WIDTH)) > _MAX_LINES:
            chunks.append(" ".join(current))
            current = []
        current.append(word)
        if word.endswith((".", "?", "!", "।")) and len(" ".join(current)) > _LINE_WIDTH:
            chunks.append(" ".join(current))
            current = []
    if current:
        chunks.append(" ".join(current))
    return chunks


def _cues(transcript: Transcript) -> list[tuple[float, float, str]]:
    """Readable cues: long ASR segments are split, their time shared out by text length."""
    cues = []
    for seg in transcript.segments:
        chunks = _chunks(seg.text)
        total = sum(len(c) for c in chunks)
        start, span = seg.start, max(seg.end - seg.start, 0.001)
        for chunk in chunks:
            end = start + span * len(chunk) / total
            cues.append((start, end, "\n".join(textwrap.wrap(chunk, _LINE_WIDTH))))
            start = end
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
