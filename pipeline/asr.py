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
from typing import Any

import numpy as np

from cache_store import CacheKey, Layer, Lookup, explain_difference
from cache_store import asr_key as layer_key
from cuts import (
    BANDS,
    LENDING_BANDS,
    SPEEDS,
    CutLink,
    ReusePlan,
    SimilarJob,
    merge_segments,
    plan_reuse,
    split_ranges,
)
from engines import media
from engines.asr import AsrSettings, WhisperxEngine
from engines.fingerprint import FRAME_SECONDS, chromaprint_at, frame_energies
from glossary import movie_id_from_path
from optimizer import Recommendation
from records import AudioFingerprint, Segment, Transcript

from ._advice import recommend
from ._asr_settings import adopt
from ._plan import JobPlan
from ._report import AsrReport, SimilarReport, StageReport
from ._stage import Stage
from ._state import JobState, SimilarSearch
from .words import words_key

__all__ = ["STAGE", "asr_key", "reusable_seconds", "search"]

log = logging.getLogger("pipeline.asr")

MIN_SHARED = 0.10  # below this share of shared audio, a reuse saves less than it costs


def asr_key(state: JobState) -> CacheKey:
    """The transcript this state's audio has under its ASR settings."""
    assert state.audio_hash is not None and state.asr is not None
    return layer_key(state.audio_hash, state.asr.key_parts())


def key(plan: JobPlan, state: JobState) -> CacheKey | None:  # noqa: ARG001
    return asr_key(state) if state.audio_hash and state.asr else None


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    store = plan.cache.store
    lookup = store.get(asr_key(state))
    if lookup.hit and lookup.data is not None:
        report = dataclasses.replace(StageReport.of(lookup, started), detail=AsrReport())
        return state.done("asr", report, transcript=Transcript.from_dict(lookup.data))
    with store.single_flight(lookup.key) as waited:
        if store.contains(lookup.key):  # a concurrent job on this audio computed it
            done = store.get(lookup.key)
            if done.hit and done.data is not None:
                why = f"computed by a concurrent job on the same audio (waited {waited:.1f} s)"
                report = StageReport.of(done, started)
                report = dataclasses.replace(report, reason=why, detail=AsrReport())
                return state.done("asr", report, transcript=Transcript.from_dict(done.data))
        return _compute(plan, state, lookup, started)


def _compute(plan: JobPlan, state: JobState, lookup: Lookup, started: float) -> JobState:
    fingerprint, asr = state.fingerprint, state.asr
    assert fingerprint is not None and asr is not None
    found = search(plan, state).search
    assert found is not None
    similar, old = found.job, found.old
    adopted = _adopt(plan, similar) if similar and old is not None and not old.hit else None
    if adopted is not None:
        asr, old = adopted
    reuse = (
        found.reuse if adopted is None else _reuse(plan, similar, old, asr, fingerprint.duration)
    )
    if reuse is not None and reuse.costs_more_than_whole(fingerprint.duration):
        log.info(
            "similarity: not reused: %d ranges to hear again between the cut's edits cost as "
            "much as %.0f s of audio, more than hearing all %.0f s: transcribed whole",
            len(reuse.ranges),
            reuse.cost_seconds,
            fingerprint.duration,
        )
        reuse = None
    decision = (
        _decide(plan, fingerprint.audio_hash, similar, old, asr if adopted else None, found)
        if similar
        else None
    )
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
    cache = plan.cache
    cache.set_asr_result(
        fingerprint.audio_hash,
        asr.key_parts(),
        transcript,
        compute_seconds=time.perf_counter() - computing,
    )
    if fingerprint.language_detected is None:
        fingerprint = dataclasses.replace(
            fingerprint,
            language_detected=transcript.language,
            language_probs=transcript.language_probs,
        )
        cache.set_fingerprint(fingerprint)
    report = StageReport.of(lookup, started)
    detail = AsrReport(
        resumed_seconds=resumed,
        similar=decision,
        recommendation=advice[1] if advice is not None else None,
    )
    if reuse and old is not None:
        share = reuse.reused_seconds / max(fingerprint.duration, 1e-6)
        reason = f"{report.reason}; reused {reuse.reused_seconds:.0f} s of a similar cut"
        report = dataclasses.replace(
            report, reason=reason, saved_seconds=round(old.saved_seconds * share, 3)
        )
        detail = dataclasses.replace(
            detail,
            reused_seconds=reuse.reused_seconds,
            transcribed_seconds=reuse.transcribed_seconds,
            source_job=reuse.source,
        )
    report = dataclasses.replace(report, detail=detail)
    return state.done("asr", report, asr=asr, fingerprint=fingerprint, transcript=transcript)


def _reuse(
    plan: JobPlan, job: SimilarJob | None, old: Lookup | None, asr: AsrSettings, seconds: float
) -> ReusePlan | None:
    """What the similar cut's transcript under ``asr`` lends this audio, and what is left to
    hear; None where it has no such transcript."""
    if job is None or old is None or not old.hit or old.data is None:
        return None
    return plan_reuse(
        job.audio_hash, _timed(plan, job.audio_hash, asr, old.data), job.alignment, seconds
    )


def _timed(
    plan: JobPlan, audio_hash: str, asr: AsrSettings, transcript: dict[str, Any]
) -> tuple[Segment, ...]:
    """The similar cut's segments with their words timed, where its words stage stored them:
    an edit inside a segment then spoils only the words around it, not the whole segment."""
    store = plan.cache.store
    timed = words_key(audio_hash, asr)
    found = store.get(timed) if store.contains(timed) else None
    data = found.data if found is not None and found.hit and found.data is not None else transcript
    return Transcript.from_dict(data).segments


def search(plan: JobPlan, state: JobState) -> JobState:
    """The state with its similarity search made (once the fingerprint is known), so the job
    can say early what a similar cut will lend; its ASR stage then need not search again."""
    fingerprint, asr = state.fingerprint, state.asr
    assert fingerprint is not None and asr is not None
    if state.search is not None and state.search.audio_hash == fingerprint.audio_hash:
        return state
    return dataclasses.replace(state, search=_similar(plan, fingerprint, asr))


def reusable_seconds(plan: JobPlan, state: JobState) -> float:
    """About how much of the audio the ASR stage will take from a similar cut: all but the
    ranges it will hear again, where the cut's transcript has this job's settings; its shared
    audio, where the cut may lend its settings."""
    found, fingerprint = state.search, state.fingerprint
    if found is None or found.job is None or found.old is None or fingerprint is None:
        return 0.0
    job, old = found.job, found.old
    if old.hit:
        reuse = found.reuse
        if reuse is None or reuse.costs_more_than_whole(fingerprint.duration):
            return 0.0
        return max(0.0, fingerprint.duration - reuse.cost_seconds)
    lends = not plan.asr_pinned and job.band in LENDING_BANDS
    return job.alignment.shared_seconds if lends else 0.0


def _similar(plan: JobPlan, fingerprint: AudioFingerprint, asr: AsrSettings) -> SimilarSearch:
    """The spec's similarity search (its decision is logged). The film speed is tried first:
    only when it finds no steady match is the audio fingerprinted at the usual release speed
    changes too (two more Chromaprint passes), so a PAL cut still finds its film."""
    store = plan.cache.store
    audio = fingerprint.audio_hash
    if store.bypassed(Layer.ASR) is not None:
        return SimilarSearch(audio)
    started = time.perf_counter()
    cuts = plan.cache.cuts
    jobs = cuts.similar_to(fingerprint, threshold=0.0, limit=3)
    searched = not any(j.alignment.steady for j in jobs)
    if searched:
        wav = plan.audio.wav()
        at_speeds = dict(chromaprint_at(wav, speed) for speed in SPEEDS)
        jobs = cuts.similar_to(fingerprint, threshold=0.0, limit=3, at_speeds=at_speeds)
    seconds = round(time.perf_counter() - started, 3)
    if not jobs:
        log.info("similarity: no stored cut shares audio with this one (%.1f s)", seconds)
        return SimilarSearch(audio, seconds=seconds, speeds_searched=searched)
    best = max(jobs, key=lambda j: j.shared_ratio)
    log.info(
        "similarity: %.2f to %s (%.0f%% shared audio, speed x%.4f): %s (%.1f s, %s)",
        best.similarity,
        best.source_file,
        100 * best.shared_ratio,
        best.alignment.speed,
        best.band,
        seconds,
        "release speeds tried" if searched else "steady at film speed, no other speed tried",
    )
    if best.shared_ratio < MIN_SHARED:
        return SimilarSearch(audio, best, None, seconds, searched)
    old = store.get(layer_key(best.audio_hash, asr.key_parts()))
    reuse = _reuse(plan, best, old, asr, fingerprint.duration)
    return SimilarSearch(audio, best, old, seconds, searched, reuse)


def _adopt(plan: JobPlan, job: SimilarJob) -> tuple[AsrSettings, Lookup] | None:
    """From reuse-config up (the spec: reuse the model choice and config), a cut transcribed
    with other settings lends them to this job when the user pinned none, so its shared audio
    is reused; None when they cannot be reproduced here."""
    if plan.asr_pinned or job.band not in LENDING_BANDS or job.shared_ratio < MIN_SHARED:
        return None
    parts = plan.cache.store.parts_of(Layer.ASR, job.audio_hash)
    own = ("audio_hash", "code_version")  # added by the key itself
    adopted = adopt(plan, {k: v for k, v in parts.items() if k not in own}) if parts else None
    if adopted is None:
        return None
    found = plan.cache.store.get(layer_key(job.audio_hash, adopted.key_parts()))
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
    store = plan.cache.store
    wav = plan.audio.wav()
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
    # Each chunk is kept under the job's key parts plus its range until the whole is stored:
    # this host's scratch, never shared.
    keys = {
        chunk: layer_key(
            fingerprint.audio_hash, {**asr.key_parts(), "chunk": f"{chunk[0]:.3f}-{chunk[1]:.3f}"}
        )
        for chunk in chunks
    }
    done: dict[tuple[float, float], Transcript] = {}
    for chunk, chunk_key in keys.items():
        if store.enabled and store.contains(chunk_key, shared=False):  # no miss event per chunk
            found = store.get(chunk_key)
            if found.hit and found.data is not None:
                done[chunk] = Transcript.from_dict(found.data)
    resumed = sum(b - a for a, b in done)
    todo = [chunk for chunk in chunks if chunk not in done]
    # A language known from a similar cut spares detection; the key keeps the job's setting.
    hinted = language and asr.language is None
    engine = WhisperxEngine(dataclasses.replace(asr, language=language) if hinted else asr)
    pieces = (
        engine.transcribe_pieces(
            wav, todo, progress=lambda percent: plan.report_progress("asr", percent)
        )
        if todo
        else iter(())
    )
    for chunk, piece in pieces:
        store.put(keys[chunk], piece.to_dict(), share=False)
        done[chunk] = piece
    first = done[chunks[0]] if chunks else Transcript("en", ())
    segments = tuple(s for chunk in chunks for s in done[chunk].segments)
    store.discard(keys.values())
    return dataclasses.replace(first, segments=segments), round(resumed, 3)


def _advise(
    plan: JobPlan, fingerprint: AudioFingerprint, asr: AsrSettings
) -> tuple[AsrSettings, Recommendation] | None:
    """The optimizer's settings for audio nothing was reused for, recorded with the audio's
    film so that later jobs on it keep them (their cached transcript is found)."""
    links = plan.cache.cuts.links
    enabled = plan.cache.store.enabled
    link = links.get(fingerprint.audio_hash) if enabled else None
    if link is not None and link.asr is not None:
        return None  # settings already chosen for this audio
    advised = recommend(plan, fingerprint, asr)
    if advised is None:
        return None
    chosen, why = advised
    log.info("optimizer: %s: %s", why.reason, why.candidate)
    audio = fingerprint.audio_hash
    if enabled:
        link = link or CutLink(audio, plan.film(audio))
        links.put(dataclasses.replace(link, asr=chosen.key_parts()))
    return advised


def _decide(
    plan: JobPlan,
    audio_hash: str,
    job: SimilarJob,
    old: Lookup | None = None,
    adopted: AsrSettings | None = None,
    found: SimilarSearch | None = None,
) -> SimilarReport:
    """The spec's bands, acted on: from reuse-language up, the cut's language is taken rather
    than detected; from reuse-config up, this audio is linked to the cut's film, whose glossary
    every later job on it uses (unless ``--movie-id`` says otherwise); reuse-language suggests
    that glossary; ``adopted``: the cut's ASR settings, taken (see :func:`_adopt`). Shared ASR
    is reused at any band when the cut was transcribed with the settings this job uses
    (``old``: that lookup); translations come back through the memory. The film and adopted
    settings are recorded, so later jobs on this audio make the same choices unsearched."""
    links = plan.cache.cuts.links
    bands = [band for _, band, _ in BANDS]
    reach = bands.index(job.band) if job.band in bands else len(bands)  # 0 is the closest
    source_link = links.get(job.audio_hash)
    source_film = source_link.movie_id if source_link else movie_id_from_path(Path(job.source_file))
    film = suggested = None
    if reach <= bands.index("reuse-config") and plan.movie_id is None:
        film = source_film
        log.info("similarity: this audio now uses the glossary of film %s", film)
    elif reach <= bands.index("reuse-language"):
        suggested = source_film
    changed = None
    if adopted is not None:
        changed = explain_difference(adopted.key_parts(), plan.asr.key_parts())
        log.info("similarity: ASR settings of the similar cut adopted (%s)", changed)
    if film is not None or adopted is not None:
        links.put(
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
        search_seconds=found.seconds if found else 0.0,
        speeds_searched=found.speeds_searched if found else True,
    )


STAGE = Stage("asr", "gpu", run, key=key, layer=Layer.ASR)
