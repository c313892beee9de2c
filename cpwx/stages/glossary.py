"""Glossary (layer 5): respell names the film's glossary knows, then learn from this job.

Correction uses the film's own glossary only (names from other films would respell this one's
characters); learning counts the raw ASR transcript, so a cached re-run, whose corrected text
depends on the glossary, is recognised and not counted twice.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from cache_store import CutLink, Transcript, correct_names

from ..job import JobPlan, StageReport

log = logging.getLogger("cpwx.glossary")


def run(plan: JobPlan, audio_hash: str, transcript: Transcript) -> tuple[Transcript, StageReport]:
    started = time.perf_counter()
    policy = plan.settings.glossary_policy
    if not policy.learning_enabled:
        switch = (
            "CACHE_GLOSSARY_LEARNING=false"
            if not plan.settings.cache_glossary_learning
            else "GLOSSARY_LEARNING_ENABLED=false"
        )
        return transcript, StageReport("off", 0.0, switch)
    movie_id = plan.film(audio_hash)
    linked = plan.store.cuts.get(audio_hash) if plan.store.enabled else None
    if plan.store.enabled and (linked is None or linked.movie_id != movie_id):
        # The first job on this audio, or --movie-id: later cuts linked to it find the film.
        link = CutLink(audio_hash, movie_id) if linked is None else linked
        plan.store.cuts.put(dataclasses.replace(link, movie_id=movie_id))
    # --no-cache / ENABLE_CACHING=false: no correction from what is stored; still learn.
    reads = policy.per_movie_enabled and plan.store.enabled
    film = plan.glossaries.load(movie_id) if reads else None
    corrected, corrections = (
        correct_names(transcript, film) if film is not None else (transcript, [])
    )
    for c in corrections:
        log.info(
            "glossary: segment %d: %r -> %r (%.0f)", c.segment, c.original, c.corrected, c.score
        )
    learned = plan.glossaries.learn(movie_id, transcript, policy)
    if learned.added:
        log.info("glossary: learned for %s: %s", movie_id, ", ".join(learned.added))
    known = len(film.entries) if film is not None else 0
    reason = (
        f"{known} terms known for {movie_id}, {len(corrections)} names corrected"
        if known
        else f"no terms known for {movie_id} yet: {len(learned.added)} learned now"
    )
    seconds = round(time.perf_counter() - started, 3)
    plan.store.note_glossary(movie_id, known > 0, reason)
    if not plan.store.enabled:
        return corrected, StageReport("off", seconds, plan.store.bypass_reason)
    return corrected, StageReport("hit" if known else "miss", seconds, reason)
