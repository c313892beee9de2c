"""Subtitles: cues built from the timed words to the job's style profile, checked against it,
and written in the job's formats. Cheap, so never cached: a changed profile re-runs only this
while every stage before it is a cache hit."""

from __future__ import annotations

import logging

from cues import QcReport, build_cues, check, write_subtitles
from engines.scripts import romanize
from records import Transcript

from ._plan import JobPlan
from ._stage import Stage
from ._state import JobState, Outputs

__all__ = ["STAGE"]

log = logging.getLogger("pipeline.subtitles")


def _write(plan: JobPlan, native: Transcript) -> tuple[dict[str, str], QcReport]:
    transcript = romanize(native) if plan.script == "latin" else native
    latin = transcript is not native
    profile = plan.settings.subtitle_profile_for(transcript.language)
    cues = build_cues(transcript, profile, plan.speaker_labels)
    qc = check(cues, profile, transcript.language)
    log.info(
        "subtitles %s: %d cues, %.0f%% pass every %s rule%s",
        transcript.language,
        qc.cues,
        qc.passing_share * 100,
        profile.name,
        "".join(f"; {r.rule}: {r.failed}" for r in qc.failed_rules),
    )
    stem = plan.stem(f"{transcript.language}-Latn" if latin else transcript.language)
    files = write_subtitles(cues, transcript, plan.out_dir, stem, plan.formats, profile)
    return files, qc


def run(plan: JobPlan, state: JobState) -> JobState:
    transcript, final = state.transcript, state.final
    assert transcript is not None and final is not None
    files, qc = _write(plan, final)
    source, source_qc = _write(plan, transcript) if plan.workflow == "subtitle" else ({}, None)
    return state.done("subtitles", None, outputs=Outputs(files, source, qc, source_qc))


STAGE = Stage("subtitles", "cpu", run)
