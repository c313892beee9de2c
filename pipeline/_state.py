"""The job's state as it passes from stage to stage: what is known of the audio, what each stage
made of it, and each stage's report. Immutable: a stage returns a new state."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cache_store import Lookup
from cues import QcReport
from cuts import ReusePlan, SimilarJob
from engines.asr import AsrSettings
from records import AudioFingerprint, Transcript

from ._report import StageReport

__all__ = ["JobState", "Outputs", "SimilarSearch"]


@dataclass(frozen=True)
class SimilarSearch:
    """The similarity search for an audio: the most similar stored cut, and the lookup of its
    transcript under the job's ASR settings when it shares enough audio (a miss says why)."""

    audio_hash: str  # the audio it was made for
    job: SimilarJob | None = None
    old: Lookup | None = None
    seconds: float = 0.0
    speeds_searched: bool = False  # the audio was also fingerprinted at other release speeds
    reuse: ReusePlan | None = None  # what that transcript lends, and what is left to hear


@dataclass(frozen=True)
class Outputs:
    files: dict[str, str]  # format: path, in the job's target language (or its source)
    source_files: dict[str, str]  # the source language's, beside a translation (subtitle)
    qc: QcReport | None = None  # the files' cues checked against the job's style profile
    source_qc: QcReport | None = None


@dataclass(frozen=True)
class JobState:
    audio_hash: str | None = None  # from the stat fast path, then from the fingerprint
    asr: AsrSettings | None = None  # this audio's ASR settings, decided once its hash is known
    fingerprint: AudioFingerprint | None = None
    transcript: Transcript | None = None  # heard by the ASR, then corrected by the glossary
    translation: Transcript | None = None
    outputs: Outputs | None = None
    reports: Mapping[str, StageReport] = field(default_factory=dict)
    # Made early by the job's estimate, so its ASR stage in the same process need not search
    # again; not handed to a gpu worker, which searches itself.
    search: SimilarSearch | None = None

    def done(self, stage: str, report: StageReport | None, **changes: Any) -> JobState:
        """The next state: ``changes`` applied, and ``stage``'s report recorded."""
        reports = dict(self.reports) if report is None else {**self.reports, stage: report}
        return dataclasses.replace(self, reports=reports, **changes)

    @property
    def final(self) -> Transcript | None:
        """What the job's subtitles say: the translation, else the corrected transcript."""
        return self.translation or self.transcript

    def to_json(self) -> dict[str, Any]:
        """For the gpu hand-off. The ASR settings stay behind: a worker decides its own, on
        its own device."""
        return {
            "audio_hash": self.audio_hash,
            "fingerprint": self.fingerprint.to_dict() if self.fingerprint else None,
            "transcript": self.transcript.to_dict() if self.transcript else None,
            "translation": self.translation.to_dict() if self.translation else None,
            "reports": {name: r.to_json() for name, r in self.reports.items()},
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> JobState:
        def transcript(value: Any) -> Transcript | None:
            return Transcript.from_dict(value) if value is not None else None

        fingerprint = d.get("fingerprint")
        return cls(
            audio_hash=d.get("audio_hash"),
            fingerprint=AudioFingerprint.from_dict(fingerprint) if fingerprint else None,
            transcript=transcript(d.get("transcript")),
            translation=transcript(d.get("translation")),
            reports={k: StageReport.from_json(v) for k, v in d.get("reports", {}).items()},
        )
