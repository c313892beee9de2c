"""Fingerprint (layer 1): content hash, noise profile and raw Chromaprint of the decoded audio."""

from __future__ import annotations

import time

from cache_store import AudioFingerprint, CacheManager, Lookup, Outcome
from engines.fingerprint import analyse, hash_pcm

from ..job import JobPlan, StageReport


def run(plan: JobPlan, known: str | None) -> tuple[AudioFingerprint, StageReport]:
    """A file not seen in this state (new, copied, touched, or on another host) is hashed
    first: only content the store has never seen pays for the Chromaprint analysis."""
    started = time.perf_counter()
    content = None
    if known is None and plan.store.enabled:
        plan.must_compute("fingerprint")
        known = content = hash_pcm(plan.decoded_audio())
    if known is not None:
        lookup = plan.lookup(CacheManager.fingerprint_key(known))
        if lookup.hit and lookup.data is not None:
            if content is not None:  # the stat fast path knows this file from now on
                plan.store.record_source(plan.media, plan.source_stat, content)
            return AudioFingerprint.from_dict(lookup.data), StageReport.of(lookup, started)
    plan.must_compute("fingerprint")
    fingerprint = analyse(plan.decoded_audio(), plan.media, audio_hash=content)
    key = CacheManager.fingerprint_key(fingerprint.audio_hash)
    if known is None:  # caching off: nothing was looked up
        lookup = plan.store.note(Lookup(key, Outcome.BYPASSED, reason=plan.store.bypass_reason))
    plan.store.set_fingerprint(fingerprint, time.perf_counter() - started)
    plan.store.index_fingerprint(fingerprint)  # so a later cut of this film finds it
    plan.store.record_source(plan.media, plan.source_stat, fingerprint.audio_hash)
    return fingerprint, StageReport.of(lookup, started)
