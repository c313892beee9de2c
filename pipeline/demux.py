"""Demux: decode the source to 16 kHz mono WAV, unless every consumer of it is cached."""

from __future__ import annotations

import time

from cache_store import fingerprint_key

from ._plan import JobPlan
from ._report import CacheState, StageReport
from ._stage import Stage
from ._state import JobState
from .asr import asr_key


def _cached(plan: JobPlan, state: JobState) -> bool:
    """Whether what the decoded audio would be read for (fingerprint, transcript) is stored."""
    contains = plan.cache.store.contains
    audio = state.audio_hash
    return audio is not None and contains(fingerprint_key(audio)) and contains(asr_key(state))


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    if _cached(plan, state):
        why = "decoded audio not needed: fingerprint and transcript are cached"
        return state.done("demux", StageReport.skipped(started, why))
    plan.audio.wav()
    store = plan.cache.store
    reason = (
        store.bypass_reason
        if not store.enabled
        else "source not seen in this state (new file, or size/mtime changed)"
        if state.audio_hash is None
        else "a downstream layer misses"
    )
    if plan.audio.chosen is not None:
        reason += f"; {plan.audio.chosen.reason}"
    cache: CacheState = "miss" if store.enabled else "off"
    return state.done("demux", StageReport(cache, round(time.perf_counter() - started, 3), reason))


STAGE = Stage("demux", "cpu", run, needs=lambda plan, state: not _cached(plan, state))
