"""Fingerprint (layer 1): content hash, noise profile and raw Chromaprint of the decoded audio."""

from __future__ import annotations

import time

from cache_store import AudioFingerprint, CacheManager, Lookup, Outcome
from engines.fingerprint import analyse

from ..job import JobPlan, StageReport


def run(plan: JobPlan, known: str | None) -> tuple[AudioFingerprint, StageReport]:
    started = time.perf_counter()
    if known is not None:
        lookup = plan.lookup(CacheManager.fingerprint_key(known))
        if lookup.hit and lookup.data is not None:
            return AudioFingerprint.from_dict(lookup.data), StageReport.of(lookup, started)
    plan.must_compute("fingerprint")
    fingerprint = analyse(plan.decoded_audio(), plan.media)
    key = CacheManager.fingerprint_key(fingerprint.audio_hash)
    if known is None:
        outcome = Outcome.MISS if plan.store.enabled else Outcome.BYPASSED
        reason = "source not seen in this state (new file, or size/mtime changed)"
        lookup = plan.store.note(Lookup(key, outcome, reason=reason))
    plan.store.set_fingerprint(fingerprint, time.perf_counter() - started)
    plan.store.index_fingerprint(fingerprint)  # so a later cut of this film finds it
    plan.store.record_source(plan.media, plan.source_stat, fingerprint.audio_hash)
    return fingerprint, StageReport.of(lookup, started)
