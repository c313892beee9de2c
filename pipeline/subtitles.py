"""Subtitles: SRT, WebVTT and JSON files in the job's output folder."""

from __future__ import annotations

from engines.subtitles import write_all

from ._plan import JobPlan
from ._stage import Stage
from ._state import JobState, Outputs


def run(plan: JobPlan, state: JobState) -> JobState:
    transcript, final = state.transcript, state.final
    assert transcript is not None and final is not None
    files = write_all(final, plan.out_dir, plan.stem(final.language))
    source = (
        write_all(transcript, plan.out_dir, plan.stem(transcript.language))
        if plan.workflow == "subtitle"
        else {}
    )
    return state.done("subtitles", None, outputs=Outputs(files, source))


STAGE = Stage("subtitles", "cpu", run)
