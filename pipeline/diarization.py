"""Diarization: who speaks when, its own entry (the audio's hash plus the diarization model and
its settings), so changing a speaker setting diarizes again while the transcript stays a hit.
The turns label every word and segment of the transcript, under what the film's cast calls each
voice (a name the user gave, else the film's own label); labelling is cheap and not stored."""

from __future__ import annotations

import time

from cache_store import CacheKey
from engines.diarize import Diarizer
from records import Diarization

from ._plan import JobPlan
from ._report import StageReport
from ._stage import Stage
from ._state import JobState

__all__ = ["LAYER", "STAGE"]

LAYER = "diarization"
_CODE_VERSION = "diarization-1"  # bump when this stage's output changes for the same inputs


def key(plan: JobPlan, state: JobState) -> CacheKey | None:
    if plan.diarization is None or not state.audio_hash:
        return None
    return CacheKey.build(
        LAYER,
        code_version=_CODE_VERSION,
        audio_hash=state.audio_hash,
        **plan.diarization.key_parts(),
    )


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    stored, transcript, audio_hash = key(plan, state), state.transcript, state.audio_hash
    assert stored is not None and plan.diarization is not None and transcript is not None
    assert audio_hash is not None
    store = plan.cache.store
    lookup = store.get(stored)
    if lookup.hit and lookup.data is not None:
        found = Diarization.from_dict(lookup.data)
    else:
        found = Diarizer(plan.diarization).diarize(
            plan.audio.wav(), progress=lambda percent: plan.report_progress(LAYER, percent)
        )
        store.put(stored, found.to_dict(), compute_seconds=time.perf_counter() - started)
    if plan.settings.glossary_per_movie_enabled and store.enabled and found.voices:
        film = plan.film(audio_hash)
        found = found.renamed(plan.cache.glossaries.recognise(film, found, audio_hash))
    return state.done(LAYER, StageReport.of(lookup, started), transcript=found.label(transcript))


STAGE = Stage(
    LAYER,
    "gpu",
    run,
    key=key,
    applies=lambda plan: plan.diarization is not None,
    layer=LAYER,
)
