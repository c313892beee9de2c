"""ASR (layer 3): WhisperX on the decoded audio, keyed by audio hash, model and settings.

On a miss, the audio may still be a new cut of a film already transcribed with these settings:
then the cached segments inside the shared spans are reused, and only the rest is transcribed.
What is transcribed goes in chunks, each stored as it finishes, so a killed job resumes. Two
jobs on the same audio and settings transcribe it once: the second waits for the first.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import numpy as np

from cache_store import (
    BANDS,
    SPEEDS,
    AudioFingerprint,
    CacheManager,
    CutLink,
    Layer,
    Lookup,
    SimilarJob,
    Transcript,
    explain_difference,
    merge_segments,
    movie_id_from_path,
    plan_reuse,
    split_ranges,
)
from engines import media
from engines.asr import AsrSettings, WhisperxEngine
from engines.fingerprint import FRAME_SECONDS, chromaprint_at, frame_energies
from optimizer import Recommendation

from .. import learning
from ..job import JobPlan, SimilarReport, StageReport, report_progress

log = logging.getLogger("cpwx.asr")

MIN_SHARED = 0.10  # below this share of shared audio, a reuse saves less than it costs
_CONFIG_BANDS = ("reuse-all", "reuse-config")


def _similar(
    plan: JobPlan, fingerprint: AudioFingerprint, asr: AsrSettings
) -> tuple[SimilarJob | None, Lookup | None]:
    """The most similar stored cut (the spec's decision is logged), and the lookup of its
    transcript under this job's ASR settings (a miss says why) when it shares enough audio."""
    if not plan.store.enabled or not plan.layer_enabled(Layer.ASR):
        return None, None
    # The audio fingerprinted at the usual release speed changes too: a PAL cut finds its film.
    wav = plan.decoded_audio()
    at_speeds = dict(chromaprint_at(wav, speed) for speed in SPEEDS)
    jobs = plan.store.similar_to(fingerprint, threshold=0.0, limit=3, at_speeds=at_speeds)
    if not jobs:
        log.info("similarity: no stored cut shares audio with this one")
        return None, None
    best = max(jobs, key=lambda j: j.shared_ratio)
    log.info(
        "similarity: %.2f to %s (%.0f%% shared audio, speed x%.4f): %s",
        best.similarity,
        best.source_file,
        100 * best.shared_ratio,
        best.alignment.speed,
        best.band,
    )
    if best.shared_ratio < MIN_SHARED:
        return best, None
    return best, plan.store.get(CacheManager.asr_key(best.audio_hash, asr.key_parts()))


def _adopt(plan: JobPlan, job: SimilarJob) -> tuple[AsrSettings, Lookup] | None:
    """From reuse-config up (the spec: reuse the model choice and config), a cut transcribed
    with other settings lends them to this job when the user pinned none, so its shared audio
    is reused; None when they cannot be reproduced here."""
    if plan.asr_pinned or job.band not in _CONFIG_BANDS or job.shared_ratio < MIN_SHARED:
        return None
    parts = plan.store.asr_parts_of(job.audio_hash)
    adopted = plan.adopt(parts) if parts is not None else None
    if adopted is None:
        return None
    found = plan.store.get(CacheManager.asr_key(job.audio_hash, adopted.key_parts()))
    return (adopted, found) if found.hit and found.data is not None else None


def _transcribe(
    plan: JobPlan,
    asr: AsrSettings,
    fingerprint: AudioFingerprint,
    ranges: list[tuple[float, float]],
    language: str | None = None,
) -> tuple[Transcript, float]:
    """WhisperX over ``ranges`` in chunks of ``ASR_CHUNK_SECONDS``, each stored as it is done:
    a job killed mid-way resumes from its finished chunks. Returns the transcript and the
    seconds of audio resumed rather than heard. The chunks go once the whole is stored."""
    wav = plan.decoded_audio()
    if asr.denoise:
        denoised = wav.with_name("denoised.wav")
        if not denoised.exists():
            floor = fingerprint.noise_profile.noise_floor_dbfs
            log.info("denoise: afftdn from a %.1f dBFS noise floor", floor)
            media.denoise(wav, denoised, floor)
        wav = denoised
    size = plan.settings.asr_chunk_seconds
    # Reading the whole WAV for its loudness pays only where a range is to be split.
    long = any(b - a > size for a, b in ranges)
    energies = frame_energies(wav) if long else np.zeros(0, np.float32)
    chunks = split_ranges(ranges, energies, FRAME_SECONDS, size)
    # Each chunk is kept under the job's key parts plus its range until the whole is stored.
    keys = {
        chunk: CacheManager.asr_key(
            fingerprint.audio_hash, {**asr.key_parts(), "chunk": f"{chunk[0]:.3f}-{chunk[1]:.3f}"}
        )
        for chunk in chunks
    }
    done: dict[tuple[float, float], Transcript] = {}
    for chunk, key in keys.items():
        if plan.store.enabled and plan.store.contains(key):  # no miss event per chunk
            found = plan.store.get(key)
            if found.hit and found.data is not None:
                done[chunk] = Transcript.from_dict(found.data)
    resumed = sum(b - a for a, b in done)
    todo = [chunk for chunk in chunks if chunk not in done]
    # A language known from a similar cut spares detection; the key keeps the job's setting.
    hinted = language and asr.language is None
    engine = WhisperxEngine(dataclasses.replace(asr, language=language) if hinted else asr)
    pieces = (
        engine.transcribe_pieces(
            wav, todo, progress=lambda percent: report_progress("asr", percent)
        )
        if todo
        else iter(())
    )
    for chunk, piece in pieces:
        plan.store.put(keys[chunk], piece.to_dict(), share=False)  # this host's scratch
        done[chunk] = piece
    first = done[chunks[0]] if chunks else Transcript("en", ())
    segments = tuple(s for chunk in chunks for s in done[chunk].segments)
    plan.store.remove((key.digest, plan.store.payload_path(key), None) for key in keys.values())
    return dataclasses.replace(first, segments=segments), round(resumed, 3)


def needs_compute(plan: JobPlan, fingerprint: AudioFingerprint) -> bool:
    """Whether ``run`` would transcribe: a cached transcript is not sent to a GPU worker."""
    return not plan.would_hit(plan.asr_key(fingerprint.audio_hash))


def run(plan: JobPlan, fingerprint: AudioFingerprint) -> tuple[Transcript, StageReport]:
    started = time.perf_counter()
    audio = fingerprint.audio_hash
    asr = plan.asr_for(audio)
    lookup = plan.lookup(CacheManager.asr_key(audio, asr.key_parts()))
    if lookup.hit and lookup.data is not None:
        return Transcript.from_dict(lookup.data), StageReport.of(lookup, started)
    plan.must_compute("asr")
    with plan.store.single_flight(lookup.key) as waited:
        if plan.would_hit(lookup.key):  # a concurrent job on this audio computed it
            done = plan.store.get(lookup.key)
            if done.hit and done.data is not None:
                why = f"computed by a concurrent job on the same audio (waited {waited:.1f} s)"
                report = dataclasses.replace(StageReport.of(done, started), reason=why)
                return Transcript.from_dict(done.data), report
        return _compute(plan, fingerprint, asr, lookup, started)


def _compute(
    plan: JobPlan, fingerprint: AudioFingerprint, asr: AsrSettings, lookup: Lookup, started: float
) -> tuple[Transcript, StageReport]:
    audio = fingerprint.audio_hash
    similar, old = _similar(plan, fingerprint, asr)
    adopted = _adopt(plan, similar) if similar and old is not None and not old.hit else None
    if adopted is not None:
        asr, old = adopted
    reuse = (
        plan_reuse(
            similar.audio_hash,
            Transcript.from_dict(old.data).segments,
            similar.alignment,
            fingerprint.duration,
        )
        if similar is not None and old is not None and old.hit and old.data is not None
        else None
    )
    decision = _decide(plan, audio, similar, old, asr if adopted else None) if similar else None
    advice = _advise(plan, fingerprint, asr) if reuse is None and adopted is None else None
    if advice is not None:
        asr = advice[0]
    computing = time.perf_counter()
    transcript, resumed = _transcribe(
        plan,
        asr,
        fingerprint,
        list(reuse.ranges) if reuse else [(0.0, fingerprint.duration)],
        decision.language if decision else None,
    )
    if reuse:
        merged = merge_segments(reuse.reused, transcript.segments)
        transcript = dataclasses.replace(transcript, segments=merged)
    plan.store.set_asr_result(
        fingerprint.audio_hash,
        asr.key_parts(),
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
    report = dataclasses.replace(StageReport.of(lookup, started), resumed_seconds=resumed)
    if decision is not None:
        report = dataclasses.replace(report, similar=decision)
    if advice is not None:
        report = dataclasses.replace(report, recommendation=advice[1])
    if reuse and old is not None:
        share = reuse.reused_seconds / max(fingerprint.duration, 1e-6)
        report = dataclasses.replace(
            report,
            reason=f"{report.reason}; reused {reuse.reused_seconds:.0f} s of a similar cut",
            saved_seconds=round(old.saved_seconds * share, 3),
            reused_seconds=reuse.reused_seconds,
            transcribed_seconds=reuse.transcribed_seconds,
            source_job=reuse.source,
        )
    return transcript, report


def _advise(
    plan: JobPlan, fingerprint: AudioFingerprint, asr: AsrSettings
) -> tuple[AsrSettings, Recommendation] | None:
    """The optimizer's settings for audio nothing was reused for, recorded with the audio's
    film so that later jobs on it keep them (their cached transcript is found)."""
    link = plan.store.cuts.get(fingerprint.audio_hash) if plan.store.enabled else None
    if link is not None and link.asr is not None:
        return None  # settings already chosen for this audio
    advised = learning.recommend(plan, fingerprint, asr)
    if advised is None:
        return None
    chosen, why = advised
    log.info("optimizer: %s: %s", why.reason, why.candidate)
    audio = fingerprint.audio_hash
    if plan.store.enabled:
        link = link or CutLink(audio, plan.film(audio))
        plan.store.cuts.put(dataclasses.replace(link, asr=chosen.key_parts()))
    return advised


def _decide(
    plan: JobPlan,
    audio_hash: str,
    job: SimilarJob,
    old: Lookup | None = None,
    adopted: AsrSettings | None = None,
) -> SimilarReport:
    """The spec's bands, acted on: from reuse-language up, the cut's language is taken rather
    than detected; from reuse-config up, this audio is linked to the cut's film, whose glossary
    every later job on it uses (unless ``--movie-id`` says otherwise); reuse-language suggests
    that glossary; ``adopted``: the cut's ASR settings, taken (see :func:`_adopt`). Shared ASR
    is reused at any band when the cut was transcribed with the settings this job uses
    (``old``: that lookup); translations come back through the memory. The film and adopted
    settings are recorded, so later jobs on this audio make the same choices unsearched."""
    bands = [band for _, band, _ in BANDS]
    reach = bands.index(job.band) if job.band in bands else len(bands)  # 0 is the closest
    source_link = plan.store.cuts.get(job.audio_hash)
    source_film = source_link.movie_id if source_link else movie_id_from_path(Path(job.source_file))
    film = suggested = None
    if reach <= bands.index("reuse-config") and plan.request.movie_id is None:
        film = source_film
        log.info("similarity: this audio now uses the glossary of film %s", film)
    elif reach <= bands.index("reuse-language"):
        suggested = source_film
    changed = None
    if adopted is not None:
        changed = explain_difference(adopted.key_parts(), plan.asr.key_parts())
        log.info("similarity: ASR settings of the similar cut adopted (%s)", changed)
    if film is not None or adopted is not None:
        plan.store.cuts.put(
            CutLink(
                audio_hash,
                film or plan.film(audio_hash),
                job.audio_hash,
                job.similarity,
                adopted.key_parts() if adopted is not None else None,
            )
        )
    allows = {band: what for _, band, what in BANDS}
    asr = ""
    if old is not None and old.hit:
        asr = "; ASR of the shared audio"
    elif old is not None:
        asr = f"; no ASR: the cut's transcript was made with other settings ({old.reason})"
        log.info("similarity: %s", asr[2:])
    return SimilarReport(
        source=job.audio_hash,
        source_file=job.source_file,
        similarity=job.similarity,
        shared_ratio=round(job.shared_ratio, 4),
        speed=round(job.alignment.speed, 5),
        band=job.band,
        reuses=allows.get(job.band, "nothing: processed as new") + asr,
        language=job.language if reach <= bands.index("reuse-language") else None,
        film=film,
        suggested_glossary=suggested,
        adopted_asr=changed,
    )
