"""The GPU stages as their own flow, deployed on the ``gpu`` pool: the subtitle job hands a
stage here with ``run_deployment`` when ``GPU_STAGES=gpu-pool`` and the stage has work.

The worker's process resolves the job's plan from its request, so the device is the worker's own
(``WHISPER_DEVICE=auto``: CUDA where there is one, else the CPU), and takes the job's state as
it is (the fingerprint and transcript the caller holds): nothing upstream runs again. The result
travels back as JSON (Prefect's result store), never pickled.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from prefect import flow, get_run_logger

from jobs import JobError, JobRequest, prepare
from pipeline import STAGES, JobState, Workflow, asr_settings_for
from pipeline.settings import load_settings
from tasks import run_task

__all__ = ["gpu_stages"]


@flow(
    name="gpu-stages",
    flow_run_name="{stage}: {media}",
    persist_result=True,
    result_serializer="json",
    validate_parameters=True,
)
def gpu_stages(
    stage: str,
    media: str,
    state: dict[str, Any],
    workflow: Workflow = "transcribe",
    source_language: str | None = None,
    target_language: str | None = None,
    model: str | None = None,
    movie_id: str | None = None,
    no_cache: bool = False,
    audio_track: int | None = None,
    speakers: int | None = None,
) -> dict[str, Any]:
    """Run one GPU stage of a subtitle job on this worker's device.

    Args:
        stage: A GPU stage of the pipeline: asr (WhisperX), words (each word timed by the
            aligner), diarization (who speaks when) or translation (the memory, then the
            model for the rest).
        media: The job's video or audio file.
        state: The job's state when it reached this stage (JSON).
        workflow: The job's workflow.
        source_language: The job's --source-language.
        target_language: The job's --target-language.
        model: The job's --model.
        movie_id: The job's --movie-id.
        no_cache: The job's --no-cache.
        audio_track: The job's --audio-track.
        speakers: The job's --speakers.
    """
    request = JobRequest.from_parameters(locals())  # the parameters, and nothing else yet
    gpu = {s.name: s for s in STAGES if s.pool == "gpu"}
    if stage not in gpu:
        raise JobError(f"{stage!r} is not a GPU stage: use one of {', '.join(gpu)}")
    plan = prepare(request, load_settings())
    get_run_logger().info("%s on %s (%s)", stage, plan.asr.device, plan.asr.compute_type)
    given = JobState.from_json(state)
    if given.audio_hash is None:
        raise JobError("the gpu stages need the job's fingerprint")
    # This worker's own ASR settings for the audio (its device), decided here once.
    asr = asr_settings_for(plan, given.audio_hash, given.fingerprint)
    given = dataclasses.replace(given, asr=asr)
    try:
        done = run_task(gpu[stage], plan, given)
    finally:
        plan.audio.close()
    return {"state": done.to_json(), "device": plan.asr.device}
