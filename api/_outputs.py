"""The answer in the output a whisper-asr-webservice client asks for: srt and vtt are the job's
own cues (to the style profile, speakers apart); txt, tsv and json are Whisper's own shapes of
the transcript, as that service writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jobs import JobResult
from records import Segment, Transcript

__all__ = ["MEDIA_TYPES", "OUTPUTS", "job_formats", "render"]

MEDIA_TYPES = {
    "srt": "text/plain; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "json": "application/json",
}
OUTPUTS = tuple(MEDIA_TYPES)


def job_formats(output: str) -> str:
    """The subtitle file the job writes for ``output``: the cues, or the transcript."""
    return output if output in ("srt", "vtt") else "json"


def render(output: str, result: JobResult, words: bool) -> bytes:
    """``words``: each segment's words with their times in json (word_timestamps)."""
    written = Path(result.outputs[job_formats(output)])
    if output in ("srt", "vtt"):
        return written.read_bytes()
    transcript = Transcript.from_dict(json.loads(written.read_text(encoding="utf-8")))
    texts = [s.text.strip() for s in transcript.segments]
    if output == "txt":
        return "".join(f"{t}\n" for t in texts).encode()
    if output == "tsv":
        rows = [
            f"{round(1000 * s.start)}\t{round(1000 * s.end)}\t{t.replace(chr(9), ' ')}"
            for s, t in zip(transcript.segments, texts, strict=True)
        ]
        return "".join(f"{row}\n" for row in ["start\tend\ttext", *rows]).encode()
    whisper = {
        "text": " ".join(texts),
        "segments": [_segment(n, s, words) for n, s in enumerate(transcript.segments)],
        "language": transcript.language,
    }
    return json.dumps(whisper, ensure_ascii=False).encode()


def _segment(number: int, segment: Segment, words: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": number,
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
    }
    if segment.speaker is not None:
        out["speaker"] = segment.speaker
    if words:
        out["words"] = [
            {"word": w.word, "start": w.start, "end": w.end, "probability": w.score}
            for w in segment.words
        ]
    return out
