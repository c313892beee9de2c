"""The subtitle-job flow: parameters mirror ``cpwx run``; the stages are ``pipeline.STAGES``,
each its Prefect task, a GPU stage with work handed to the gpu pool when GPU_STAGES=gpu-pool.

A job ``cpwx run`` prepared in this process runs here on the plan it resolved (``run_prepared``):
nothing is prepared twice.
"""

from __future__ import annotations

import dataclasses
import time
from contextlib import nullcontext
from contextvars import ContextVar
from typing import Any, cast

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL, temporary_settings

from jobs import (
    JobError,
    JobRequest,
    JobResult,
    RunStage,
    estimate,
    initial_state,
    prepare,
    run_job,
)
from jobs.report import estimate_markdown, job_markdown, output_rows
from optimizer import Prediction
from pipeline import JobPlan, JobState, Stage, Workflow, asr_settings_for
from pipeline.settings import load_settings
from tasks import run_task

__all__ = ["run_prepared", "subtitle_job"]

# A job prepared in this process, for the flow run it starts here: (plan, state, estimate).
_prepared: ContextVar[tuple[JobPlan, JobState, Prediction | None] | None] = ContextVar(
    "prepared_job", default=None
)


def run_prepared(
    request: JobRequest,
    plan: JobPlan,
    state: JobState,
    expected: Prediction | None,
    server: str | None,
) -> JobResult:
    """This flow in this process on a job already prepared (``jobs.run_here``'s flow): on the
    running server at ``server``, else on Prefect's temporary one."""
    token = _prepared.set((plan, state, expected))
    on_server = temporary_settings({PREFECT_API_URL: server}) if server else nullcontext()
    try:
        with on_server:
            return JobResult.from_json(subtitle_job(**request.to_parameters()))
    finally:
        _prepared.reset(token)


# The request's fields a GPU stage has no use for: the job's own business (the state it is
# handed carries the audio hash).
_JOB_ONLY = ("out", "reference", "formats", "script", "speaker_labels", "audio_hash")


def _on_gpu_pool(stage: Stage, plan: JobPlan, state: JobState, request: JobRequest) -> JobState:
    """Run a GPU stage as the gpu-stages deployment (a subflow in the UI), and take its JSON
    result: the state the worker left, on whose decisions (its ASR settings) this job goes on."""
    params = {k: v for k, v in request.to_parameters().items() if k not in _JOB_ONLY}
    params |= {"stage": stage.name, "state": state.to_json()}
    run = cast(  # the sync call of an async-dispatching function
        FlowRun,
        run_deployment(
            plan.settings.gpu_deployment, parameters=params, poll_interval=1, timeout=None
        ),
    )
    done = run.state
    if done is None or not done.is_completed():
        why = f"{done.name}: {done.message}" if done else "no state"
        raise JobError(f"{stage.name} on the gpu pool (flow run {run.name}) ended {why}")
    out: dict[str, Any] = done.result()
    theirs = JobState.from_json(out["state"])
    assert theirs.audio_hash is not None
    asr = asr_settings_for(plan, theirs.audio_hash, theirs.fingerprint)
    return dataclasses.replace(theirs, asr=asr)


def _runner(plan: JobPlan, request: JobRequest) -> RunStage:
    """Each stage as its Prefect task here; with GPU_STAGES=gpu-pool, a GPU stage that has
    work is handed to the gpu pool instead (a cached one is served here, without a GPU)."""
    if plan.settings.gpu_stages == "in-process":
        return run_task
    if not PREFECT_API_URL.value():
        raise JobError(
            "GPU_STAGES=gpu-pool needs a Prefect server with a gpu pool: start one with "
            "`cpwx serve`, or set GPU_STAGES=in-process"
        )

    def run(stage: Stage, plan: JobPlan, state: JobState) -> JobState:
        if stage.pool == "gpu" and stage.needs_compute(plan, state):
            return _on_gpu_pool(stage, plan, state, request)
        return run_task(stage, plan, state)

    return run


@flow(
    name="subtitle-job",
    flow_run_name="{workflow}: {media}",
    persist_result=True,
    result_serializer="json",
    validate_parameters=True,
)
def subtitle_job(
    media: str,
    workflow: Workflow = "transcribe",
    source_language: str | None = None,
    target_language: str | None = None,
    model: str | None = None,
    movie_id: str | None = None,
    out: str | None = None,
    no_cache: bool = False,
    reference: str | None = None,
    formats: str | None = None,
    audio_track: int | None = None,
    script: str = "native",
    speakers: int | None = None,
    speaker_labels: bool = False,
    audio_hash: str | None = None,
) -> dict[str, Any]:
    """Subtitle one film: demux, fingerprint, ASR, word timing, optional translation, then
    cues to the style profile, checked, in each subtitle format.

    Args:
        media: Path to a video or audio file that ffmpeg can read.
        workflow: transcribe (source-language subtitles), translate (target language only),
            or subtitle (both).
        source_language: ISO 639-1 code of the dialogue; detected when omitted.
        target_language: ISO 639-1 code to translate into (translate and subtitle workflows).
        model: Whisper model name from the model catalog (default WHISPER_MODEL).
        movie_id: Film identifier, used to group jobs of the same film.
        out: Output folder (default out/<media name>).
        no_cache: Recompute every stage, ignoring cached results (fresh results are still stored).
        reference: Path to the spoken text; the job's WER is reported and learned from.
        formats: Subtitle files to write, comma-separated from srt, vtt, ass, ttml, json
            (default SUBTITLE_FORMATS).
        audio_track: The audio track to hear (0 is the first); default: the one tagged with
            the source language, else the default track.
        script: native, or latin for Indic-script subtitles romanized (Hinglish).
        speakers: How many people speak, when known (default: diarization finds out).
        speaker_labels: Start a cue with the speaker ("[Jai]") where the speaker changes.
        audio_hash: The decoded audio's SHA-256, where the caller hashed it (an upload of raw
            PCM through the HTTP API).
    """
    request = JobRequest.from_parameters(locals())  # the parameters, and nothing else yet
    here = _prepared.get()
    if here is None:  # a worker's run: this process has prepared nothing
        plan = prepare(request, load_settings())
        state = initial_state(plan, request.audio_hash)
        expected = estimate(plan, state)
    else:
        plan, state, expected = here
    # The job is this flow run: its id, and its time from the run's start (as on a worker).
    plan = dataclasses.replace(plan, job_id=str(flow_run.id), started=time.perf_counter())
    run = _runner(plan, request)
    if expected is not None:
        create_markdown_artifact(
            key="estimate",
            markdown=estimate_markdown(expected),
            description="How long this job should take, before it started",
        )
    try:
        result = run_job(plan, state, run, "prefect", expected, request.reference)
    finally:
        plan.audio.close()
    create_markdown_artifact(
        key="cache-report",
        markdown=job_markdown(result),
        description="Cache hit or miss per stage, the time it saved, the estimate against "
        "the actual",
    )
    create_table_artifact(
        key="outputs", table=output_rows(result), description="The job's subtitle files"
    )
    return result.to_json()
