"""What a job gives back: its outputs and, per stage, what the cache did and what it saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
    wer: float | None = None  # against --reference, when given
    unshared: int = 0  # entries held on this host: the shared cache was unreachable

    @property
    def saved_seconds(self) -> float:
        return sum(s.saved_seconds for s in self.stages.values())

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k != "stages"}
        out["stages"] = {name: stage.to_json() for name, stage in self.stages.items()}
        out["saved_seconds"] = round(self.saved_seconds, 1)
        for stage in self.stages.values():
            if stage.memory is not None:
                out["translation_memory"] = stage.memory.to_json()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> JobResult:
        fields = {k: v for k, v in d.items() if k not in ("saved_seconds", "translation_memory")}
        fields["stages"] = {k: StageReport.from_json(v) for k, v in d["stages"].items()}
        return cls(**fields)
