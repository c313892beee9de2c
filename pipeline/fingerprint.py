"""Fingerprint (layer 1): content hash, noise profile and raw Chromaprint of the decoded audio."""

from __future__ import annotations

import time
from dataclasses import replace

from cache_store import CacheKey, Layer, Lookup, Outcome, fingerprint_key
from engines.fingerprint import analyse, hash_pcm
from engines.languages import detect_language
from records import AudioFingerprint

from ._asr_settings import asr_settings_for
from ._plan import JobPlan
from ._report import StageReport
from ._stage import Stage
from ._state import JobState


def key(plan: JobPlan, state: JobState) -> CacheKey | None:  # noqa: ARG001
    return fingerprint_key(state.audio_hash) if state.audio_hash is not None else None


def needs_compute(plan: JobPlan, state: JobState) -> bool:
    """Unknown audio is hashed first (reading all of it); known audio may lack a fingerprint,
    or the language this job needs detected."""
    stored = key(plan, state)
    if stored is None or not plan.cache.store.contains(stored):
        return True
    if plan.detect_with is None:
        return False
    assert state.audio_hash is not None
    known = plan.cache.cuts.fingerprint(state.audio_hash)
    return known is None or known.language_detected is None


def run(plan: JobPlan, state: JobState) -> JobState:
    """A file not seen in this state (new, copied, touched, or on another host) is hashed
    first: only content the store has never seen pays for the Chromaprint analysis."""
    started = time.perf_counter()
    store = plan.cache.store
    known, content = state.audio_hash, None
    if known is None and store.enabled:
        known = content = hash_pcm(plan.audio.wav())
    if known is not None:
        lookup = store.get(fingerprint_key(known))
        if lookup.hit and lookup.data is not None:
            if content is not None:  # the stat fast path knows this file from now on
                store.sources.record(plan.media, plan.source_stat, content)
            found = AudioFingerprint.from_dict(lookup.data)
            if plan.detect_with is not None and found.language_detected is None:
                found = _with_language(plan, found)  # stored before languages were detected
                plan.cache.set_fingerprint(found, time.perf_counter() - started)
            return _done(plan, state, found, StageReport.of(lookup, started))
    fingerprint = _with_language(plan, analyse(plan.audio.wav(), plan.media, audio_hash=content))
    if known is None:  # caching off: nothing was looked up
        stored = fingerprint_key(fingerprint.audio_hash)
        lookup = store.note(Lookup(stored, Outcome.BYPASSED, reason=store.bypass_reason))
    plan.cache.set_fingerprint(fingerprint, time.perf_counter() - started)
    plan.cache.cuts.index(fingerprint)  # so a later cut of this film finds it
    store.sources.record(plan.media, plan.source_stat, fingerprint.audio_hash)
    return _done(plan, state, fingerprint, StageReport.of(lookup, started))


def _with_language(plan: JobPlan, fingerprint: AudioFingerprint) -> AudioFingerprint:
    """The fingerprint with the language its speech is in, where the job has to find it."""
    if plan.detect_with is None:
        return fingerprint
    guess = detect_language(plan.audio.wav(), plan.detect_with)
    return replace(fingerprint, language_detected=guess.language, language_probs=guess.probs)


def _done(
    plan: JobPlan, state: JobState, fingerprint: AudioFingerprint, report: StageReport
) -> JobState:
    """The audio is known now: its ASR settings are decided here, once (unless the stat fast
    path already knew it, language included)."""
    audio = fingerprint.audio_hash
    asr = state.asr if state.audio_hash == audio else None
    if asr is None or (plan.detect_with is not None and asr.language is None):
        asr = asr_settings_for(plan, audio, fingerprint)
    return state.done("fingerprint", report, audio_hash=audio, asr=asr, fingerprint=fingerprint)


STAGE = Stage("fingerprint", "cpu", run, key=key, needs=needs_compute, layer=Layer.FINGERPRINTS)
