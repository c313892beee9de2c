"""The job's side of the optimizer: this job's features, the estimate shown before it starts,
the ASR settings it may recommend, and the record each job leaves for the next to learn from.

The optimizer is advice, never a dependency: with ``ENABLE_ML_OPTIMIZATION=false``, too little
history, or untrusted models, a job runs on its defaults; damaged model files give a warning and
the defaults too, unless ``ML_FALLBACK_TO_DEFAULT=false`` makes that an error.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from cache_store import (
    AudioFingerprint,
    CacheManager,
    JobFeatures,
    JobOutcome,
    JobRecord,
    Transcript,
    unless_disk_full,
)
from engines import media
from engines.asr import AsrSettings
from engines.models import ModelNotFoundError, ResolvedModel, resolve_model
from optimizer import (
    MODEL_COSTS,
    Candidate,
    MLOptimizer,
    OptimizerError,
    OptimizerPolicy,
    Prediction,
    Recommendation,
)

from .job import JobError, JobPlan, JobResult
from .settings import Settings

__all__ = [
    "candidates",
    "estimate",
    "features",
    "model_cost",
    "optimizer_for",
    "recommend",
    "record",
]

log = logging.getLogger("cpwx.learning")

_RETRAIN_GROWTH = 1.2  # retrain after a job once history has grown by a fifth since training


def optimizer_for(settings: Settings, store: CacheManager) -> MLOptimizer:
    """The optimizer whose models live in the store, under these settings' policy."""
    policy = OptimizerPolicy(
        settings.ml_min_samples_for_prediction,
        settings.ml_confidence_threshold,
        settings.ml_quality_target,
    )
    return MLOptimizer(store.root / "optimizer", policy)


def model_cost(name: str) -> float:
    """Relative compute of a Whisper model by its name (``large-v3`` is a large one)."""
    base = name.removeprefix("distil-").split(".")[0].split("-")[0]
    return MODEL_COSTS.get(base, MODEL_COSTS["small"])


def features(
    plan: JobPlan,
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


def _checked(plan: JobPlan, call: str) -> MLOptimizer | None:
    """The optimizer, when enabled and its files are sound; a damaged one falls back."""
    if not plan.settings.enable_ml_optimization:  # history is kept even with caching off
        return None
    opt = optimizer_for(plan.settings, plan.store)
    try:
        opt.load()
    except OptimizerError as exc:
        if not plan.settings.ml_fallback_to_default:
            raise JobError(f"{exc} (ML_FALLBACK_TO_DEFAULT=false)") from exc
        log.warning("optimizer unusable for the %s, defaults used: %s", call, exc)
        return None
    return opt


def estimate(plan: JobPlan, fingerprint: AudioFingerprint | None = None) -> Prediction | None:
    """How long this job should take, from the optimizer (or its baseline), before anything
    is decoded (the fingerprint is used when given or known by the stat fast path); None when
    there is no history to go on or the optimizer is off."""
    opt = _checked(plan, "estimate")
    duration = fingerprint.duration if fingerprint else media.probe(plan.media).duration
    if opt is None or opt.load() is None or not duration:
        return None  # nothing is read from the store: a job that then fails changes nothing
    known = fingerprint.audio_hash if fingerprint else plan.known_audio_hash()
    fingerprint = fingerprint or (plan.store.fingerprint(known) if known else None)
    asr = plan.asr_for(known) if known else plan.asr
    f = opt.with_history(features(plan, asr, duration, fingerprint))
    prediction = opt.predict(f, asr_cached=plan.would_hit_asr())
    return prediction if prediction.seconds is not None else None


def candidates(plan: JobPlan) -> list[tuple[Candidate, ResolvedModel]]:
    """Catalog models this machine has, each with and without denoising, at two beam sizes."""
    s = plan.settings
    models = {plan.asr.model.name: plan.asr.model}
    for name in s.whisper_model_catalog:
        try:
            models[name] = resolve_model(
                "whisperx", name, s.whisper_model_catalog, plan.store.models_dir, "catalog"
            )
        except ModelNotFoundError:  # an entry whose folder is gone is not a candidate
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
    opt = _checked(plan, "recommendation")
    if opt is None:
        return None
    f = opt.with_history(features(plan, asr, fingerprint.duration, fingerprint))
    options = candidates(plan)
    chosen = opt.recommend(f, [c for c, _ in options])
    if chosen is None:
        return None
    model = dict((c.model, m) for c, m in options)[chosen.candidate.model]
    settings = dataclasses.replace(
        asr, model=model, beam_size=chosen.candidate.beam_size, denoise=chosen.candidate.denoise
    )
    return settings, chosen


def record(
    plan: JobPlan,
    fingerprint: AudioFingerprint,
    transcript: Transcript,
    result: JobResult,
) -> None:
    """Leave this job in the history and, with ML_LEARNING_FROM_HISTORY, retrain once the
    history has grown enough since the last training."""
    s = plan.settings
    if not s.enable_ml_optimization:
        return
    asr_report = result.stages.get("asr")
    asr = plan.asr_for(fingerprint.audio_hash)
    confidence = transcript.mean_confidence
    outcome = JobOutcome(
        stage_seconds={name: rep.seconds for name, rep in result.stages.items()},
        wall_seconds=result.wall_seconds,
        asr_confidence=round(confidence, 4) if confidence is not None else None,
        wer=result.wer,
        asr_cached=asr_report is not None and asr_report.cache == "hit",
    )
    reused = asr_report.reused_seconds if asr_report else 0.0
    described = features(plan, asr, fingerprint.duration, fingerprint, transcript, reused)
    opt = _checked(plan, "history features")
    plan.store.record_job(
        JobRecord(
            job_id=result.job_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            audio_hash=fingerprint.audio_hash,
            features=opt.with_history(described) if opt is not None else described,
            outcome=outcome,
            estimate_seconds=result.estimate_seconds,
        )
    )
    if s.ml_learning_from_history:
        _maybe_retrain(plan)


@unless_disk_full("the optimizer's retraining")
def _maybe_retrain(plan: JobPlan) -> None:
    opt = optimizer_for(plan.settings, plan.store)
    history = plan.store.job_history(days=plan.settings.ml_training_data_retention_days)
    try:
        status = opt.status()
    except OptimizerError:
        status = {"trained": False}
    trained = int(status.get("samples", 0)) if status.get("trained") else 0
    due = len(history) >= plan.settings.ml_min_samples_for_prediction and (
        len(history) >= trained * _RETRAIN_GROWTH
    )
    if due:
        report = opt.train(history)
        log.info(
            "optimizer retrained on %d jobs: time MAPE %.1f%% (baseline %.1f%%)",
            report.samples,
            100 * report.time_mape,
            100 * report.baseline_mape,
        )
