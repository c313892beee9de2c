"""Job features as model inputs, and the history-derived ones (the spec's "similar jobs").

Every feature is a number; an unknown one is NaN, which XGBoost routes by itself (a new film
has no speech rate until it is transcribed). The model is known by its relative cost, so a
catalog model never trained on is still placed between the ones that were.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from records import JobFeatures, JobRecord

__all__ = ["COLUMNS", "MODEL_COSTS", "computed_seconds", "matrix", "similar_jobs", "with_history"]

# Stages whose work follows the audio heard afresh: what a similar cut lent is not heard again
# (nor diarized again: its speaker turns come with the audio it shares, whose share of the audio
# is about what it lends the ASR).
_HEARD = frozenset({"asr", "words", "diarization"})

# Relative compute of Whisper sizes (parameters, tiny = 1): how a catalog name becomes a number.
MODEL_COSTS = {
    "tiny": 1.0,
    "base": 1.9,
    "small": 6.4,
    "medium": 19.6,
    "large": 40.0,
    "turbo": 21.0,
}
_COMPUTE_TYPES = {"int8": 0.0, "int8_float16": 1.0, "int8_float32": 1.0, "float16": 2.0}

COLUMNS = (
    "duration_seconds",
    "sample_rate",
    "snr_db",
    "background_noise_level",
    "speech_rate_wpm",
    "clarity_score",
    "is_english",
    "code_mixing",
    "similar_jobs_processed",
    "avg_confidence_similar",
    "avg_processing_time_similar",
    "model_cost",
    "on_gpu",
    "compute_type",
    "batch_size",
    "beam_size",
    "denoise",
    "reused_ratio",
)


def _number(value: float | int | bool | None) -> float:
    return math.nan if value is None else float(value)


def _row(f: JobFeatures) -> list[float]:
    derived = {
        "is_english": None if f.language is None else f.language == "en",
        "on_gpu": f.device == "cuda",
        "compute_type": _COMPUTE_TYPES.get(f.compute_type, 3.0),
    }
    return [_number(derived[c] if c in derived else getattr(f, c)) for c in COLUMNS]


def computed_seconds(stage: str, f: JobFeatures) -> float:
    """The audio a stage computes over: the ASR, word timing and diarization only what no
    similar cut lent (``reused_ratio``), every other stage all of it."""
    return f.duration_seconds * (1.0 - f.reused_ratio if stage in _HEARD else 1.0)


def matrix(features: Sequence[JobFeatures]) -> npt.NDArray[np.float64]:
    return np.array([_row(f) for f in features], dtype=np.float64).reshape(-1, len(COLUMNS))


def _group(f: JobFeatures) -> str:
    """Jobs alike for the spec's history features: model, language, noise (10 dB buckets)."""
    noise = f.background_noise_level
    bucket = "?" if math.isnan(noise) else str(int(noise // 10))
    return f"{f.model}|{f.language}|{bucket}"


def similar_jobs(history: Sequence[JobRecord]) -> dict[str, list[float | None]]:
    """Per group of alike jobs that computed their ASR: how many, their mean confidence and
    median ASR seconds per audio second. Kept with the trained models, so a job is described
    without reading the history."""
    groups: dict[str, list[JobRecord]] = {}
    for r in history:
        if not r.outcome.asr_cached:
            groups.setdefault(_group(r.features), []).append(r)
    out: dict[str, list[float | None]] = {}
    for name, records in groups.items():
        confidences = [r.outcome.asr_confidence for r in records if r.outcome.asr_confidence]
        speeds = [
            r.outcome.stage_seconds.get("asr", 0.0) / heard
            for r in records
            if (heard := computed_seconds("asr", r.features)) > 0
        ]
        out[name] = [
            len(records),
            float(np.mean(confidences)) if confidences else None,
            float(np.median(speeds)) if speeds else None,
        ]
    return out


def with_history(
    features: JobFeatures, similar: Mapping[str, Sequence[float | None]]
) -> JobFeatures:
    """``features`` with the spec's history features filled in from :func:`similar_jobs`."""
    count, confidence, speed = similar.get(_group(features), (0, None, None))
    return dataclasses.replace(
        features,
        similar_jobs_processed=int(count or 0),
        avg_confidence_similar=confidence,
        avg_processing_time_similar=speed,
    )
