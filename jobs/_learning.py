"""What a job tells the optimizer and hears from it: the estimate shown before it starts, and
the record each job leaves for the next to learn from (and the retraining it may trigger)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection
from datetime import UTC, datetime

from cache_store import unless_disk_full
from engines import media
from engines.asr import AsrSettings
from optimizer import OptimizerError, Prediction
from pipeline import JobPlan, JobState, checked_optimizer, features, optimizer_for
from pipeline.asr import asr_key, reusable_seconds, search
from records import AudioFingerprint, JobOutcome, JobRecord

from ._result import JobResult

__all__ = ["estimate", "record", "refine"]

log = logging.getLogger("jobs.learning")

_RETRAIN_GROWTH = 1.2  # retrain after a job once history has grown by a fifth since training


def estimate(
    plan: JobPlan, state: JobState, fingerprint: AudioFingerprint | None = None
) -> Prediction | None:
    """How long this job should take, before anything is decoded (the fingerprint is used when
    given or known by the stat fast path); None when there is no history to go on or the
    optimizer is off."""
    duration = fingerprint.duration if fingerprint else media.probe(plan.media).duration
    known = state.audio_hash
    fingerprint = fingerprint or (plan.cache.cuts.fingerprint(known) if known else None)
    cached = {"asr"} if known is not None and plan.cache.store.contains(asr_key(state)) else set()
    return _predict(plan, state.asr or plan.asr, duration, fingerprint, cached)


def refine(
    plan: JobPlan, state: JobState, done: Collection[str]
) -> tuple[JobState, Prediction | None]:
    """The estimate again once the audio is fingerprinted and the similarity search has said
    what a similar cut lends: the seconds already spent, plus the ``done`` stages' successors
    that will compute, each over the audio it will really compute (the ASR and word timing
    only what is not reused). Returns the state with its search made."""
    fingerprint, asr = state.fingerprint, state.asr
    if fingerprint is None or asr is None:
        return state, None
    todo = [s for s in plan.stages if s.name not in done and s.applies(plan)]
    # Served from the store: a stage whose entry is there (one without an entry always runs).
    cached = {
        s.name for s in todo if s.key(plan, state) is not None and not s.needs_compute(plan, state)
    }
    reused = 0.0
    if "asr" not in cached and plan.cache.store.enabled:
        state = search(plan, state)
        reused = reusable_seconds(plan, state)
    found = _predict(plan, asr, fingerprint.duration, fingerprint, {*done, *cached}, reused)
    if found is None:
        return state, None
    elapsed = time.perf_counter() - plan.started
    # The stages to come, and what is left of the job's seconds outside its stages (handing
    # over between them, writing the subtitles).
    assert found.seconds is not None
    outside = found.seconds - sum(found.stage_seconds.values())
    spent = elapsed - sum(r.seconds for r in state.reports.values())
    seconds = elapsed + sum(found.stage_seconds.values()) + max(0.0, outside - spent)
    log.info(
        "estimate: refined to %.1f s (%.1f s so far; %.0f s of the audio reused from a "
        "similar cut; served from the store: %s)",
        seconds,
        elapsed,
        reused,
        ", ".join(sorted(cached)) or "nothing",
    )
    return state, dataclasses.replace(found, seconds=round(seconds, 2))


def _predict(
    plan: JobPlan,
    asr: AsrSettings,
    duration: float | None,
    fingerprint: AudioFingerprint | None,
    cached: Collection[str],
    reused: float = 0.0,
) -> Prediction | None:
    """The optimizer's prediction; before its first training, the naive baseline of this
    machine's past jobs (from one job on). Nothing is written, and the index is not opened: a
    job that then fails changes nothing."""
    opt = checked_optimizer(plan, "estimate")
    if opt is None or not duration:
        return None
    f = opt.with_history(features(asr, duration, fingerprint, reused_seconds=reused))
    prediction = opt.predict(f, cached)
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
            refined_estimate_seconds=result.refined_estimate_seconds,
        )
    )
    if s.ml_learning_from_history:
        _maybe_retrain(plan)


@unless_disk_full("the optimizer's retraining")
def _maybe_retrain(plan: JobPlan) -> None:
    """Retrain when due; until the first training, keep the naive baseline up to date."""
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
    elif not trained:
        opt.keep_baseline(history)
