"""What a job gives back: its outputs and, per stage, what the cache did and what it saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from cues import QcReport
from pipeline import StageReport

__all__ = ["JobResult"]


@dataclass(frozen=True)
class JobResult:
    job_id: str
    media: str
    workflow: str
    audio_hash: str
    source_language: str
    target_language: str | None
    model: str
    outputs: dict[str, str]
    source_outputs: dict[str, str]
    stages: dict[str, StageReport]
    wall_seconds: float
    orchestration: str = "prefect"
    estimate_seconds: float | None = None  # what the optimizer said before the job started
    # ... and again once the audio was fingerprinted and what a similar cut lends was known
    refined_estimate_seconds: float | None = None
    wer: float | None = None  # against --reference, when given
    unshared: int = 0  # entries held on this host: the shared cache was unreachable
    qc: QcReport | None = None  # its subtitles checked against the style profile
    source_qc: QcReport | None = None  # the source language's, beside a translation
    # Whisper's most probable languages where the job detected the language (none: it was given)
    language_probs: dict[str, float] = field(default_factory=dict)
    language_note: str | None = None  # why source_language is not the most probable one

    @property
    def saved_seconds(self) -> float:
        return sum(s.saved_seconds for s in self.stages.values())

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("stages", "qc", "source_qc")}
        out["stages"] = {name: stage.to_json() for name, stage in self.stages.items()}
        out["subtitles"] = {
            "qc": self.qc.to_dict() if self.qc else None,
            "source_qc": self.source_qc.to_dict() if self.source_qc else None,
        }
        out["saved_seconds"] = round(self.saved_seconds, 1)
        for stage in self.stages.values():
            if stage.memory is not None:
                out["translation_memory"] = stage.memory.to_json()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> JobResult:
        skip = ("saved_seconds", "translation_memory", "subtitles")
        fields = {k: v for k, v in d.items() if k not in skip}
        fields["stages"] = {k: StageReport.from_json(v) for k, v in d["stages"].items()}
        subtitles = d.get("subtitles") or {}
        for name in ("qc", "source_qc"):
            found = subtitles.get(name)
            fields[name] = QcReport.from_dict(found) if found else None
        return cls(**fields)
