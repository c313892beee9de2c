"""ASR (layer 3): WhisperX on the decoded audio, keyed by audio hash, model and settings.

On a miss, the audio may still be a new cut of a film already transcribed with these settings:
then the cached segments inside the shared spans are reused, and only the rest is transcribed.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from cache_store import AudioFingerprint, Layer, ReusePlan, Transcript, merge_segments, plan_reuse
from engines.asr import WhisperxEngine

from ..job import JobPlan, StageReport, report_progress

log = logging.getLogger("cpwx.asr")

MIN_SHARED = 0.10  # below this share of shared audio, a reuse saves less than it costs


def _reuse(plan: JobPlan, fingerprint: AudioFingerprint) -> tuple[ReusePlan, float] | None:
    """The transcript of the most similar stored cut, planned for reuse, and the compute
    seconds it cost; None when no stored cut shares enough audio."""
    if not plan.store.enabled or not plan.layer_enabled(Layer.ASR):
        return None
    for job in plan.store.find_similar_jobs(fingerprint.audio_hash, threshold=0.0):
        if job.shared_ratio < MIN_SHARED:
            continue
        old = plan.store.get(plan.asr_key(job.audio_hash))
        if old.hit and old.data is not None:
            log.info(
                "ASR reuse: %.0f%% of the audio is shared with %s (similarity %.2f, %s)",
                100 * job.shared_ratio,
                job.source_file,
                job.similarity,
                job.band,
            )
            segments = Transcript.from_dict(old.data).segments
            return (
                plan_reuse(job.audio_hash, segments, job.alignment, fingerprint.duration),
                old.saved_seconds,
            )
    return None


def run(plan: JobPlan, fingerprint: AudioFingerprint) -> tuple[Transcript, StageReport]:
    started = time.perf_counter()
    lookup = plan.lookup(plan.asr_key(fingerprint.audio_hash))
    if lookup.hit and lookup.data is not None:
        return Transcript.from_dict(lookup.data), StageReport.of(lookup, started)
    plan.must_compute("asr")
    wav = plan.decoded_audio()
    reuse = _reuse(plan, fingerprint)
    computing = time.perf_counter()
    transcript = WhisperxEngine(plan.asr).transcribe(
        wav,
        progress=lambda percent: report_progress("asr", percent),
        ranges=reuse[0].ranges if reuse else None,
    )
    if reuse:
        merged = merge_segments(reuse[0].reused, transcript.segments)
        transcript = dataclasses.replace(transcript, segments=merged)
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
    report = StageReport.of(lookup, started)
    if reuse:
        used, old_seconds = reuse
        share = used.reused_seconds / max(fingerprint.duration, 1e-6)
        report = dataclasses.replace(
            report,
            reason=f"{report.reason}; reused {used.reused_seconds:.0f} s of a similar cut",
            saved_seconds=round(old_seconds * share, 3),
            reused_seconds=used.reused_seconds,
            transcribed_seconds=used.transcribed_seconds,
            source_job=used.source,
        )
    return transcript, report
