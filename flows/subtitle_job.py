"""The subtitle-job flow: parameters mirror ``cpwx run``; the stage order lives in cpwx.pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.runtime import flow_run
from prefect.settings import PREFECT_API_URL

from cache_store import Transcript
from cpwx import learning
from cpwx.job import JobError, JobPlan, JobRequest, StageReport, Workflow, prepare
from cpwx.pipeline import Call, run_pipeline
from cpwx.report import estimate_markdown, job_markdown, output_rows
from cpwx.settings import load_settings
from cpwx.stages import asr, translation
from tasks import run_task

# The stages that want a GPU, and how each tells whether it has work for one.
GPU_STAGES: dict[str, Callable[..., bool]] = {
    "asr": asr.needs_compute,
    "translation": translation.needs_compute,
}


def _on_gpu_pool(stage: str, plan: JobPlan, *args: Any) -> tuple[Transcript, StageReport]:
    """Run a GPU stage as the gpu-stages deployment (a subflow in the UI), and take its JSON
    result."""
    params = {
        k: v
        for k, v in plan.request.to_parameters().items()
        if k not in ("out", "reference")  # the job's own business
    }
    params["stage"] = stage
    if stage == "translation":
        params["transcript"] = args[-1].to_dict()
    run = cast(  # the sync call of an async-dispatching function
        FlowRun,
        run_deployment(
            plan.settings.gpu_deployment, parameters=params, poll_interval=1, timeout=None
        ),
    )
    state = run.state
    if state is None or not state.is_completed():
        why = f"{state.name}: {state.message}" if state else "no state"
        raise JobError(f"{stage} on the gpu pool (flow run {run.name}) ended {why}")
    out: dict[str, Any] = state.result()
    return Transcript.from_dict(out["value"]), StageReport.from_json(out["report"])


def _caller(plan: JobPlan) -> Call:
    """Each stage as its Prefect task here; with GPU_STAGES=gpu-pool, a GPU stage that has
    work is handed to the gpu pool instead (a cached one is served here, without a GPU)."""
    if plan.settings.gpu_stages == "in-process":
        return run_task
    if not PREFECT_API_URL.value():
        raise JobError(
            "GPU_STAGES=gpu-pool needs a Prefect server with a gpu pool: start one with "
            "`cpwx serve`, or set GPU_STAGES=in-process"
        )

    def call(name: str, *args: Any) -> tuple[Any, StageReport | None]:
        needs_gpu = GPU_STAGES.get(name)
        if needs_gpu is not None and needs_gpu(*args):
            return _on_gpu_pool(name, *args)
        return run_task(name, *args)

    return call


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
) -> dict[str, Any]:
    """Subtitle one film: demux, fingerprint, ASR, optional translation, SRT/VTT/JSON.

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
    """
    request = JobRequest.from_parameters(flow_run.parameters)
    plan = prepare(request, load_settings())
    call = _caller(plan)
    plan.job_id = str(flow_run.id)
    estimate = learning.estimate(plan)
    if estimate is not None:
        create_markdown_artifact(
            key="estimate",
            markdown=estimate_markdown(estimate),
            description="How long this job should take, before it started",
        )
    try:
        result = run_pipeline(plan, call, orchestration="prefect", estimate=estimate)
    finally:
        plan.close()
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
