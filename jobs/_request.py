"""A job as asked for: the request a CLI command, a flow run's parameters or an HTTP call makes,
and the one-line error a request that cannot run gets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import Workflow

__all__ = ["JobError", "JobRequest"]


class JobError(Exception):
    """A request that cannot run; the message is one line meant for the user."""


@dataclass(frozen=True)
class JobRequest:
    media: Path
    workflow: Workflow = "transcribe"
    source_language: str | None = None
    target_language: str | None = None
    model: str | None = None
    movie_id: str | None = None
    out: Path | None = None
    no_cache: bool = False
    reference: Path | None = None  # the spoken text: the job's WER goes into its history
    formats: str | None = None  # the subtitle files to write, "srt,vtt" (default SUBTITLE_FORMATS)
    audio_track: int | None = None  # ffmpeg's 0:a:N; None: chosen by language tag, then default
    script: str = "native"  # "latin": Indic-script subtitles romanized (Hinglish)
    speakers: int | None = None  # --speakers: diarize into exactly this many
    speaker_labels: bool = False  # --speaker-labels: "[Jai]" where the speaker changes
    # The decoded audio's SHA-256 where the caller hashed it (an HTTP upload of raw PCM is the
    # decoded audio): the job knows its audio before reading it, as the stat fast path would.
    audio_hash: str | None = None

    @property
    def track(self) -> str:
        """Which track the request means, as the stat fast path records it."""
        if self.audio_track is not None:
            return f"a{self.audio_track}"
        return self.source_language or ""

    _PATHS = ("media", "out", "reference")

    def to_parameters(self) -> dict[str, Any]:
        """The request as flow parameters (JSON: paths as text)."""
        return {
            k: str(v) if k in self._PATHS and v is not None else v
            for k, v in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> JobRequest:
        """A request from flow parameters; parameters that are not the request's are ignored."""
        fields = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        for k in cls._PATHS:
            if fields.get(k) is not None:
                fields[k] = Path(fields[k])
        return cls(**fields)
