"""The optimizer's side of a job: what is known of it (its features), the optimizer under the
job's settings, and the ASR settings it may recommend for audio nothing was reused for.

The optimizer is advice, never a dependency: with ``ENABLE_ML_OPTIMIZATION=false``, too little
history, or untrusted models, a job runs on its defaults; damaged model files give a warning and
the defaults too, unless ``ML_FALLBACK_TO_DEFAULT=false`` makes that an error.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from engines.asr import AsrSettings
from engines.models import ModelError, ResolvedModel, resolve_model
from optimizer import (
    MODEL_COSTS,
    Candidate,
    MLOptimizer,
    OptimizerError,
    OptimizerPolicy,
    Recommendation,
)
from records import AudioFingerprint, JobFeatures, Transcript

from ._plan import JobPlan
from .settings import Settings

__all__ = [
    "candidates",
    "checked_optimizer",
    "features",
    "model_cost",
    "optimizer_for",
    "recommend",
]

log = logging.getLogger("pipeline.advice")


def optimizer_for(settings: Settings, cache_root: Path) -> MLOptimizer:
    """The optimizer whose models live in the cache, under these settings' policy."""
    policy = OptimizerPolicy(
        settings.ml_min_samples_for_prediction,
        settings.ml_confidence_threshold,
        settings.ml_quality_target,
    )
    return MLOptimizer(cache_root / "optimizer", policy)


def checked_optimizer(plan: JobPlan, call: str) -> MLOptimizer | None:
    """The optimizer, when enabled and its files are sound; a damaged one falls back (``call``
    names what it was for, in the warning)."""
    if not plan.settings.enable_ml_optimization:  # history is kept even with caching off
        return None
    opt = optimizer_for(plan.settings, plan.cache.root)
    try:
        opt.load()
    except OptimizerError as exc:
        if not plan.settings.ml_fallback_to_default:
            raise OptimizerError(f"{exc} (ML_FALLBACK_TO_DEFAULT=false)") from exc
        log.warning("optimizer unusable for the %s, defaults used: %s", call, exc)
        return None
    return opt


def model_cost(name: str) -> float:
    """Relative compute of a Whisper model by its name (``large-v3`` is a large one)."""
    base = name.removeprefix("distil-").split(".")[0].split("-")[0]
    return MODEL_COSTS.get(base, MODEL_COSTS["small"])


def features(
    asr: AsrSettings,
    duration: float,
    fingerprint: AudioFingerprint | None = None,
    transcript: Transcript | None = None,
    reused_seconds: float = 0.0,
) -> JobFeatures:
    """What is known of a job: before it runs (duration, settings, the fingerprint when the
    stat fast path knows it), and after (speech rate, language, code mixing)."""
    noise = fingerprint.noise_profile if fingerprint else None
    speech = sum(s.end - s.start for s in transcript.segments) if transcript else 0.0
    words = sum(len(s.text.split()) for s in transcript.segments) if transcript else 0
    probs = sorted((transcript.language_probs if transcript else {}).values(), reverse=True)
    return JobFeatures(
        duration_seconds=duration,
        sample_rate=fingerprint.sample_rate if fingerprint else 16000,
        snr_db=noise.snr_db if noise else float("nan"),
        background_noise_level=(noise.noise_floor_dbfs + 90) if noise else float("nan"),
        speech_rate_wpm=round(words / speech * 60, 1) if speech > 0 else None,
        clarity_score=noise.clarity if noise else None,
        language=transcript.language if transcript else asr.language,
        code_mixing=(len(probs) > 1 and probs[1] >= 0.2) if transcript else None,
        model=asr.model.name,
        model_cost=model_cost(asr.model.name),
        device=asr.device,
        compute_type=asr.compute_type,
        batch_size=asr.batch_size,
        beam_size=asr.beam_size,
        denoise=asr.denoise,
        reused_ratio=round(reused_seconds / duration, 4) if duration > 0 else 0.0,
    )


def candidates(plan: JobPlan) -> list[tuple[Candidate, ResolvedModel]]:
    """Catalog models this machine has, each with and without denoising, at two beam sizes."""
    s = plan.settings
    models = {plan.asr.model.name: plan.asr.model}
    for name in s.whisper_model_catalog:
        try:
            models[name] = resolve_model(
                "whisperx", name, s.whisper_model_catalog, plan.cache.store.models_dir, "catalog"
            )
        except ModelError:  # an entry whose folder is gone or damaged is not a candidate
            continue
    return [
        (Candidate(name, model_cost(name), beam, plan.asr.batch_size, denoise), model)
        for name, model in models.items()
        for beam in (1, plan.asr.beam_size)
        for denoise in (False, True)
    ]


def recommend(
    plan: JobPlan, fingerprint: AudioFingerprint, asr: AsrSettings
) -> tuple[AsrSettings, Recommendation] | None:
    """ML_MODEL_SELECTION=adaptive: settings the user left alone, chosen by the optimizer when
    it is confident they reach ML_QUALITY_TARGET for less."""
    s = plan.settings
    if s.ml_model_selection != "adaptive" or not s.ml_quality_prediction or plan.asr_pinned:
        return None
    opt = checked_optimizer(plan, "recommendation")
    if opt is None:
        return None
    f = opt.with_history(features(asr, fingerprint.duration, fingerprint))
    options = candidates(plan)
    chosen = opt.recommend(f, [c for c, _ in options])
    if chosen is None:
        return None
    model = dict((c.model, m) for c, m in options)[chosen.candidate.model]
    settings = dataclasses.replace(
        asr, model=model, beam_size=chosen.candidate.beam_size, denoise=chosen.candidate.denoise
    )
    return settings, chosen
