"""Subtitles: SRT, WebVTT and JSON files in the job's output folder."""

from __future__ import annotations

from dataclasses import dataclass

from cache_store import Transcript
from engines.subtitles import write_all

from ..job import JobPlan


@dataclass(frozen=True)
class Outputs:
    files: dict[str, str]
    source_files: dict[str, str]


def run(plan: JobPlan, transcript: Transcript, final: Transcript) -> tuple[Outputs, None]:
    files = write_all(final, plan.out_dir, plan.stem(final.language))
    source = (
        write_all(transcript, plan.out_dir, plan.stem(transcript.language))
        if plan.request.workflow == "subtitle"
        else {}
    )
    return Outputs(files, source), None
