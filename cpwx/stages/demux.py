"""Demux: decode the source to 16 kHz mono WAV, unless every consumer of it is cached."""

from __future__ import annotations

import time

from cache_store import CacheManager

from ..job import JobPlan, StageReport


def run(plan: JobPlan) -> tuple[str | None, StageReport]:
    """Returns the audio hash the stat fast path knows for this file, if any."""
    started = time.perf_counter()
    known = plan.known_audio_hash()
    if (
        known is not None
        and plan.would_hit(CacheManager.fingerprint_key(known))
        and plan.would_hit(plan.asr_key(known))
    ):
        return known, StageReport.skipped(
            started, "decoded audio not needed: fingerprint and transcript are cached"
        )
    plan.must_compute("demux")
    plan.decoded_audio()
    reason = (
        plan.store.bypass_reason
        if not plan.store.enabled
        else "source not seen in this state (new file, or size/mtime changed)"
        if not known
        else "a downstream layer misses"
    )
    return known, StageReport(
        "miss" if plan.store.enabled else "off", round(time.perf_counter() - started, 3), reason
    )
