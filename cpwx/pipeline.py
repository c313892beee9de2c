"""The job's stage order, written once and run two ways: as Prefect tasks, or from the store.

``call(name, *args)`` runs one stage and returns ``(value, report)``. The subtitle-job flow passes
a caller that runs each stage as its Prefect task; the CLI's fast path passes ``run_stage`` with a
cache-only plan, which stops at the first stage that would have to compute.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engines.asr import word_error_rate
from optimizer import Prediction

from . import learning
from .job import JobPlan, JobResult, StageReport
from .stages import asr, demux, fingerprint, glossary, subtitles, translation

__all__ = ["JOB_LOGGERS", "STAGES", "Call", "run_pipeline", "run_stage"]

STAGES: dict[str, Callable[..., tuple[Any, StageReport | None]]] = {
    "demux": demux.run,
    "fingerprint": fingerprint.run,
    "asr": asr.run,
    "glossary": glossary.run,
    "translation": translation.run,
    "subtitles": subtitles.run,
}
# The loggers whose records make up a job's log (cache HIT/MISS/EXPIRED lines included).
JOB_LOGGERS = ("cache_store", "engines", "cpwx")

Call = Callable[..., tuple[Any, StageReport | None]]
log = logging.getLogger("cpwx.job")


def run_stage(name: str, *args: Any) -> tuple[Any, StageReport | None]:
    return STAGES[name](*args)


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


def run_pipeline(
    plan: JobPlan, call: Call, orchestration: str, estimate: Prediction | None = None
) -> JobResult:
    stages: dict[str, StageReport] = {}

    def step(name: str, *args: Any) -> Any:
        log.info("stage %s: started", name)
        value, report = call(name, *args)
        if report is not None:
            stages[name] = report
            log.info(
                "stage %s: done in %.2f s (cache %s%s)",
                name,
                report.seconds,
                report.cache,
                f": {report.reason}" if report.reason else "",
            )
        return value

    log_path = plan.out_dir / "job.log"
    with job_log(log_path):
        log.info("job: %s, workflow %s, via %s", plan.media, plan.request.workflow, orchestration)
        known = step("demux", plan)
        fp = step("fingerprint", plan, known)
        transcript = step("glossary", plan, fp.audio_hash, step("asr", plan, fp))
        final = (
            step("translation", plan, fp.audio_hash, transcript) if plan.translates else transcript
        )
        outputs = step("subtitles", plan, transcript, final)
        result = plan.result(
            fp.audio_hash,
            transcript,
            {**outputs.files, "log": str(log_path)},
            outputs.source_files,
            stages,
            orchestration,
            estimate.seconds if estimate else None,
        )
        if plan.request.reference is not None:
            spoken = plan.request.reference.read_text(encoding="utf-8", errors="replace")
            result = dataclasses.replace(
                result, wer=round(word_error_rate(spoken, transcript.text), 4)
            )
        log.info(
            "job: done in %.2f s%s",
            result.wall_seconds,
            f" (estimated {estimate.seconds:.1f} s)" if estimate and estimate.seconds else "",
        )
        if not plan.cache_only:  # a job served whole from the store teaches nothing new
            learning.record(plan, fp, transcript, result)
        # With a shared cache: catch up on what an outage held back, and say what still waits.
        unshared = plan.store.share_pending()
    return dataclasses.replace(result, unshared=unshared) if unshared else result
