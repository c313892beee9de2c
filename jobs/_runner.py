"""Running a job's stages in order: each through the caller's ``run_stage`` (as a Prefect task,
or handed to the gpu pool), or all from the store when every one of them is served there. The
job's log, its result, and what it leaves for the optimizer follow from the final state."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engines.asr import word_error_rate
from engines.languages import choose_language
from optimizer import Prediction
from pipeline import JobPlan, JobState, Stage, asr_settings_for

from . import _learning as learning
from ._result import JobResult

__all__ = ["JOB_LOGGERS", "RunStage", "initial_state", "run_job", "run_stage", "serve_from_store"]

# The loggers whose records make up a job's log (cache HIT/MISS/EXPIRED lines included).
JOB_LOGGERS = (
    "cache_store",
    "memory",
    "glossary",
    "cuts",
    "history",
    "engines",
    "optimizer",
    "pipeline",
    "jobs",
)

RunStage = Callable[[Stage, JobPlan, JobState], JobState]
log = logging.getLogger("jobs.runner")


def initial_state(plan: JobPlan, audio_hash: str | None = None) -> JobState:
    """What is known before any stage: the audio hash (the caller's, else the one the stat fast
    path has for this file), and so that audio's ASR settings."""
    store = plan.cache.store
    known = audio_hash or (
        store.sources.audio_hash_for(plan.source_stat) if store.enabled else None
    )
    return JobState(audio_hash=known, asr=asr_settings_for(plan, known) if known else None)


def run_stage(stage: Stage, plan: JobPlan, state: JobState) -> JobState:
    """A stage in this process, as it is."""
    return stage.run(plan, state)


@contextmanager
def job_log(path: Path) -> Iterator[None]:
    """Write this job's log into its output folder, stage by stage."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    loggers = [logging.getLogger(name) for name in JOB_LOGGERS]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        handler.close()


def run_job(
    plan: JobPlan,
    state: JobState,
    run: RunStage,
    orchestration: str,
    estimate: Prediction | None = None,
    reference: Path | None = None,
) -> JobResult:
    result = _run(plan, state, run, orchestration, estimate, reference, serve_only=False)
    assert result is not None
    return result


def serve_from_store(plan: JobPlan, state: JobState) -> JobResult | None:
    """The job served whole from the store, without Prefect; None as soon as a stage would
    have to compute (the job then runs as a flow)."""
    return _run(plan, state, run_stage, "store-fast-path", None, None, serve_only=True)


def _run(
    plan: JobPlan,
    state: JobState,
    run: RunStage,
    orchestration: str,
    estimate: Prediction | None,
    reference: Path | None,
    serve_only: bool,
) -> JobResult | None:
    log_path = plan.out_dir / "job.log"
    refined: Prediction | None = None
    with job_log(log_path):
        log.info("job: %s, workflow %s, via %s", plan.media, plan.workflow, orchestration)
        done: list[str] = []
        for stage in plan.stages:
            if not stage.applies(plan):
                continue
            if stage.name == "asr" and not serve_only:
                # The audio is known: say again how long, now that the plan is known too.
                state, refined = learning.refine(plan, state, done)
            if serve_only and stage.needs_compute(plan, state):
                log.info("stage %s: not in the store: the job runs as a flow", stage.name)
                return None
            log.info("stage %s: started", stage.name)
            state = run(stage, plan, state)
            report = state.reports.get(stage.name)
            if report is not None:
                log.info(
                    "stage %s: done in %.2f s (cache %s%s)",
                    stage.name,
                    report.seconds,
                    report.cache,
                    f": {report.reason}" if report.reason else "",
                )
            done.append(stage.name)
        result = _result(plan, state, log_path, orchestration, estimate, refined)
        if reference is not None:
            spoken = reference.read_text(encoding="utf-8", errors="replace")
            assert state.transcript is not None
            wer = round(word_error_rate(spoken, state.transcript.text), 4)
            result = dataclasses.replace(result, wer=wer)
        log.info(
            "job: done in %.2f s%s",
            result.wall_seconds,
            f" (estimated {estimate.seconds:.1f} s)" if estimate and estimate.seconds else "",
        )
        if not serve_only:  # a job served whole from the store teaches nothing new
            learning.record(plan, state, result)
        # With a shared cache: catch up on what an outage held back, and say what still waits.
        unshared = plan.cache.share_pending()
    return dataclasses.replace(result, unshared=unshared) if unshared else result


def _result(
    plan: JobPlan,
    state: JobState,
    log_path: Path,
    orchestration: str,
    estimate: Prediction | None,
    refined: Prediction | None,
) -> JobResult:
    assert state.audio_hash is not None and state.transcript is not None
    assert state.outputs is not None and state.asr is not None
    detected = state.fingerprint if plan.detect_with is not None else None
    probs = detected.language_probs if detected is not None else {}
    return JobResult(
        job_id=plan.job_id,
        media=str(plan.media),
        workflow=plan.workflow,
        audio_hash=state.audio_hash,
        source_language=state.transcript.language,
        target_language=plan.target_language,
        model=state.asr.model.name,
        outputs={**state.outputs.files, "log": str(log_path)},
        source_outputs=state.outputs.source_files,
        stages=dict(state.reports),
        wall_seconds=round(time.perf_counter() - plan.started, 3),
        orchestration=orchestration,
        estimate_seconds=estimate.seconds if estimate else None,
        refined_estimate_seconds=refined.seconds if refined else None,
        qc=state.outputs.qc,
        source_qc=state.outputs.source_qc,
        language_probs=probs,
        language_note=choose_language(probs).note if probs else None,
    )
