"""A job as history: what it was given and what it cost, so later jobs can be predicted.

A record holds the spec's features (audio, language and history traits) and ours (the settings
that drive the cost), and the outcome: seconds per stage, the mean ASR confidence, WER where a
reference was given, and the user's rating when they give one (``cpwx rate``). The ``history``
package keeps them; the optimizer learns from them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["JobFeatures", "JobOutcome", "JobRecord"]


@dataclass(frozen=True)
class JobFeatures:
    duration_seconds: float
    sample_rate: int
    snr_db: float
    background_noise_level: float  # noise floor, dB above -90 dBFS: 0 silent, 60+ very noisy
    speech_rate_wpm: float | None = None  # known once the audio has been transcribed
    clarity_score: float | None = None  # share of speech frames well above the noise
    language: str | None = None
    code_mixing: bool | None = None  # a second language holds >= 20% of the probability
    similar_jobs_processed: int = 0
    avg_confidence_similar: float | None = None
    avg_processing_time_similar: float | None = None  # seconds per audio second
    # ours: what the job ran with
    model: str = ""
    model_cost: float = 1.0  # relative compute of the model (parameters, tiny = 1)
    device: str = "cpu"
    compute_type: str = "int8"
    batch_size: int = 8
    beam_size: int = 5
    denoise: bool = False
    reused_ratio: float = 0.0  # share of the audio whose transcript came from the cache

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobFeatures:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class JobOutcome:
    stage_seconds: Mapping[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    asr_confidence: float | None = None  # mean over the transcript, by segment length
    wer: float | None = None
    rating: int | None = None  # 1-5, from ``cpwx rate``
    asr_cached: bool = False  # served from the cache: says nothing about compute time

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "stage_seconds": dict(self.stage_seconds)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JobOutcome:
        known = {f.name for f in dataclasses.fields(cls)}
        out = cls(**{k: v for k, v in d.items() if k in known})
        return dataclasses.replace(out, stage_seconds=dict(out.stage_seconds))


@dataclass(frozen=True)
class JobRecord:
    job_id: str
    created_at: str  # ISO 8601, UTC
    audio_hash: str
    features: JobFeatures
    outcome: JobOutcome
    estimate_seconds: float | None = None  # what the job was told beforehand
    refined_estimate_seconds: float | None = None  # and once its reuse plan was known

    def row(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "created_at": self.created_at,
            "audio_hash": self.audio_hash,
            "features": json.dumps(self.features.to_dict(), sort_keys=True),
            "outcome": json.dumps(self.outcome.to_dict(), sort_keys=True),
            "estimate_seconds": self.estimate_seconds,
            "refined_estimate_seconds": self.refined_estimate_seconds,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> JobRecord:
        return cls(
            job_id=str(row["job_id"]),
            created_at=str(row["created_at"]),
            audio_hash=str(row["audio_hash"]),
            features=JobFeatures.from_dict(json.loads(row["features"])),
            outcome=JobOutcome.from_dict(json.loads(row["outcome"])),
            estimate_seconds=row.get("estimate_seconds"),
            refined_estimate_seconds=row.get("refined_estimate_seconds"),
        )
