"""ASR (layer 3): WhisperX on the decoded audio, keyed by audio hash, model and settings."""

from __future__ import annotations

import dataclasses
import time

from cache_store import AudioFingerprint, Transcript
from engines.asr import WhisperxEngine

from ..job import JobPlan, StageReport, report_progress


def run(plan: JobPlan, fingerprint: AudioFingerprint) -> tuple[Transcript, StageReport]:
    started = time.perf_counter()
    lookup = plan.lookup(plan.asr_key(fingerprint.audio_hash))
    if lookup.hit and lookup.data is not None:
        return Transcript.from_dict(lookup.data), StageReport.of(lookup, started)
    plan.must_compute("asr")
    wav = plan.decoded_audio()
    computing = time.perf_counter()
    transcript = WhisperxEngine(plan.asr).transcribe(
        wav, progress=lambda percent: report_progress("asr", percent)
    )
    plan.store.set_asr_result(
        fingerprint.audio_hash,
        plan.asr.key_parts(),
        transcript,
        compute_seconds=time.perf_counter() - computing,
    )
    if fingerprint.language_detected is None:
        plan.store.set_fingerprint(
            dataclasses.replace(
                fingerprint,
                language_detected=transcript.language,
                language_probs=transcript.language_probs,
            )
        )
    return transcript, StageReport.of(lookup, started)
