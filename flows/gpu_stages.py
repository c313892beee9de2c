"""The GPU stages as their own flow, deployed on the ``gpu`` pool: the subtitle job hands them
here with ``run_deployment`` when ``GPU_STAGES=gpu-pool``.

The worker's process rebuilds the job's plan from its request, so the device is the worker's
own (``WHISPER_DEVICE=auto``: CUDA where there is one, else the CPU). Decoding and the
fingerprint come from the shared store where it has them; the result travels back as JSON
(Prefect's result store), never pickled.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from cache_store import Transcript
from cpwx.job import JobError, JobRequest, Workflow, prepare
from cpwx.settings import load_settings
from tasks import run_task

GpuStage = Literal["asr", "translation"]


@flow(
    name="gpu-stages",
    flow_run_name="{stage}: {media}",
    persist_result=True,
    result_serializer="json",
    validate_parameters=True,
)
def gpu_stages(
    stage: GpuStage,
    media: str,
    workflow: Workflow = "transcribe",
    source_language: str | None = None,
    target_language: str | None = None,
    model: str | None = None,
    movie_id: str | None = None,
    no_cache: bool = False,
    transcript: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one GPU stage of a subtitle job on this worker's device.

    Args:
        stage: asr (WhisperX, with diarization when configured) or translation (the memory,
            then the model for the rest).
        media: The job's video or audio file.
        workflow: The job's workflow.
        source_language: The job's --source-language.
        target_language: The job's --target-language.
        model: The job's --model.
        movie_id: The job's --movie-id.
        no_cache: The job's --no-cache.
        transcript: translation only: the glossary-corrected transcript to translate.
    """
    request = JobRequest.from_parameters(flow_run.parameters)
    plan = prepare(request, load_settings())
    get_run_logger().info("%s on %s (%s)", stage, plan.asr.device, plan.asr.compute_type)
    try:
        known, _ = run_task("demux", plan)
        fp, _ = run_task("fingerprint", plan, known)
        if stage == "asr":
            value, report = run_task("asr", plan, fp)
        elif transcript is None:
            raise JobError("the translation stage needs the transcript to translate")
        else:
            value, report = run_task(
                "translation", plan, fp.audio_hash, Transcript.from_dict(transcript)
            )
    finally:
        plan.close()
    return {
        "value": value.to_dict(),
        "report": dataclasses.asdict(report) if report is not None else None,
        "device": plan.asr.device,
    }
