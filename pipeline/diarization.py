"""Diarization: who speaks when, its own entry (the audio's hash plus the diarization model and
its settings), so changing a speaker setting diarizes again while the transcript stays a hit.
The turns label every word and segment of the transcript, under what the film's cast calls each
voice (a name the user gave, else the film's own label); labelling is cheap and not stored.

A cut of a film diarized before keeps that film's turns in the audio they share and diarizes
only the rest: on a CPU this stage costs more than the ASR."""

from __future__ import annotations

import dataclasses
import logging
import time

from cache_store import CacheKey
from cuts import LENDING_BANDS, SimilarJob, merge_turns, plan_turn_reuse
from engines.diarize import Diarizer
from glossary import SAME_VOICE
from records import Diarization

from ._plan import JobPlan
from ._report import StageReport
from ._stage import Stage
from ._state import JobState

__all__ = ["LAYER", "STAGE"]

LAYER = "diarization"
_CODE_VERSION = "diarization-1"  # bump when this stage's output changes for the same inputs

log = logging.getLogger("pipeline.diarization")


def key(plan: JobPlan, state: JobState) -> CacheKey | None:
    return _key(plan, state.audio_hash) if state.audio_hash else None


def _key(plan: JobPlan, audio_hash: str) -> CacheKey | None:
    if plan.diarization is None:
        return None
    return CacheKey.build(
        LAYER, code_version=_CODE_VERSION, audio_hash=audio_hash, **plan.diarization.key_parts()
    )


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    stored, transcript, audio_hash = key(plan, state), state.transcript, state.audio_hash
    assert stored is not None and plan.diarization is not None and transcript is not None
    assert audio_hash is not None
    store = plan.cache.store
    lookup = store.get(stored)
    reused = ""
    if lookup.hit and lookup.data is not None:
        found = Diarization.from_dict(lookup.data)
    else:
        found, reused = _diarize(plan, state)
        store.put(stored, found.to_dict(), compute_seconds=time.perf_counter() - started)
    if plan.settings.glossary_per_movie_enabled and store.enabled and found.voices:
        film = plan.film(audio_hash)
        found = found.renamed(plan.cache.glossaries.recognise(film, found, audio_hash))
    report = StageReport.of(lookup, started)
    if reused:
        report = dataclasses.replace(report, reason=f"{report.reason}; {reused}")
    return state.done(LAYER, report, transcript=found.label(transcript))


def _diarize(plan: JobPlan, state: JobState) -> tuple[Diarization, str]:
    """The audio's turns, and what a similar cut lent them (empty when nothing)."""
    assert plan.diarization is not None and state.fingerprint is not None
    diarizer = Diarizer(plan.diarization)
    wav = plan.audio.wav()

    def progress(percent: float) -> None:
        plan.report_progress(LAYER, percent)

    similar = _similar(plan, state)
    old_key = _key(plan, similar.audio_hash) if similar is not None else None
    old = plan.cache.store.get(old_key) if old_key is not None else None
    if similar is None or old is None or not old.hit or old.data is None:
        return diarizer.diarize(wav, progress), ""
    before = Diarization.from_dict(old.data)
    turns = plan_turn_reuse(before, similar.alignment, state.fingerprint.duration)
    fresh = diarizer.diarize(wav, progress, turns.ranges) if turns.ranges else Diarization(())
    why = (
        f"reused {turns.carried_seconds:.0f} s of speaker turns from a similar cut "
        f"({similar.source_file}), diarized {turns.diarized_seconds:.0f} s in "
        f"{len(turns.ranges)} ranges"
    )
    log.info("diarization: %s", why)
    return merge_turns(before, turns, fresh, SAME_VOICE), why


def _similar(plan: JobPlan, state: JobState) -> SimilarJob | None:
    """The cut whose turns this audio may keep: the similarity search's (made by the ASR
    stage in this process; a gpu worker's own search is not handed over, so there the cuts
    found at the film's speed), when it shares this audio in long steady spans."""
    fingerprint = state.fingerprint
    if not plan.cache.store.enabled or fingerprint is None:
        return None
    search = state.search
    if search is not None and search.audio_hash == fingerprint.audio_hash:
        found = [search.job] if search.job is not None else []
    else:
        found = plan.cache.cuts.similar_to(fingerprint, threshold=0.0, limit=3)
    usable = [j for j in found if j.band in LENDING_BANDS and j.alignment.steady]
    return max(usable, key=lambda j: j.shared_ratio, default=None)


STAGE = Stage(
    LAYER,
    "gpu",
    run,
    key=key,
    applies=lambda plan: plan.diarization is not None,
    layer=LAYER,
)
