"""The subtitle-job flow: parameters mirror ``cpwx run``; the stage order lives in cpwx.pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.runtime import flow_run

from cpwx import learning
from cpwx.job import JobRequest, Workflow, prepare
from cpwx.pipeline import run_pipeline
from cpwx.report import estimate_markdown, job_markdown
from cpwx.settings import load_settings
from tasks import (
    asr_task,
    demux_task,
    fingerprint_task,
    glossary_task,
    subtitles_task,
    translation_task,
)

TASKS: dict[str, Any] = {
    "demux": demux_task,
    "fingerprint": fingerprint_task,
    "asr": asr_task,
    "glossary": glossary_task,
    "translation": translation_task,
    "subtitles": subtitles_task,
}


def _as_task(name: str, *args: Any) -> Any:
    # A task that returns a state (our Cached hits) hands back that state object, not its data:
    # asking for the state makes hits and misses unwrap the same way.
    return TASKS[name](*args, return_state=True).result()


@flow(name="subtitle-job", flow_run_name="{workflow}: {media}", validate_parameters=True)
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
    request = JobRequest(
        media=Path(media),
        workflow=workflow,
        source_language=source_language,
        target_language=target_language,
        model=model,
        movie_id=movie_id,
        out=Path(out) if out else None,
        no_cache=no_cache,
        reference=Path(reference) if reference else None,
    )
    plan = prepare(request, load_settings())
    plan.job_id = str(flow_run.id)
    estimate = learning.estimate(plan)
    if estimate is not None:
        create_markdown_artifact(
            key="estimate",
            markdown=estimate_markdown(estimate),
            description="How long this job should take, before it started",
        )
    try:
        result = run_pipeline(plan, _as_task, orchestration="prefect", estimate=estimate)
    finally:
        plan.close()
    create_markdown_artifact(
        key="cache-report",
        markdown=job_markdown(result),
        description="Cache hit or miss per stage, and the time it saved",
    )
    return result.to_json()
