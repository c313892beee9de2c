"""What a job tells the optimizer and hears from it: the estimate shown before it starts, and
the record each job leaves for the next to learn from (and the retraining it may trigger)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from cache_store import unless_disk_full
from engines import media
from optimizer import OptimizerError, Prediction
from pipeline import JobPlan, JobState, checked_optimizer, features, optimizer_for
from pipeline.asr import asr_key
from records import AudioFingerprint, JobOutcome, JobRecord

from ._result import JobResult

__all__ = ["estimate", "record"]

log = logging.getLogger("jobs.learning")

_RETRAIN_GROWTH = 1.2  # retrain after a job once history has grown by a fifth since training


def estimate(
    plan: JobPlan, state: JobState, fingerprint: AudioFingerprint | None = None
) -> Prediction | None:
    """How long this job should take, from the optimizer (or its baseline), before anything
    is decoded (the fingerprint is used when given or known by the stat fast path); None when
    there is no history to go on or the optimizer is off."""
    opt = checked_optimizer(plan, "estimate")
    duration = fingerprint.duration if fingerprint else media.probe(plan.media).duration
    if opt is None or opt.load() is None or not duration:
        return None  # nothing is read from the store: a job that then fails changes nothing
    known = state.audio_hash
    fingerprint = fingerprint or (plan.cache.cuts.fingerprint(known) if known else None)
    f = opt.with_history(features(state.asr or plan.asr, duration, fingerprint))
    cached = known is not None and plan.cache.store.contains(asr_key(state))
    prediction = opt.predict(f, asr_cached=cached)
    return prediction if prediction.seconds is not None else None


def record(plan: JobPlan, state: JobState, result: JobResult) -> None:
    """Leave this job in the history and, with ML_LEARNING_FROM_HISTORY, retrain once the
    history has grown enough since the last training."""
    s = plan.settings
    fingerprint, transcript, asr = state.fingerprint, state.transcript, state.asr
    if not s.enable_ml_optimization or fingerprint is None or transcript is None or asr is None:
        return
    asr_report = result.stages.get("asr")
    confidence = transcript.mean_confidence
    outcome = JobOutcome(
        stage_seconds={name: rep.seconds for name, rep in result.stages.items()},
        wall_seconds=result.wall_seconds,
        asr_confidence=round(confidence, 4) if confidence is not None else None,
        wer=result.wer,
        asr_cached=asr_report is not None and asr_report.cache == "hit",
    )
    reused = asr_report.asr.reused_seconds if asr_report else 0.0
    described = features(asr, fingerprint.duration, fingerprint, transcript, reused)
    opt = checked_optimizer(plan, "history features")
    plan.cache.history.record(
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
    opt = optimizer_for(plan.settings, plan.cache.root)
    history = plan.cache.history.jobs(days=plan.settings.ml_training_data_retention_days)
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
