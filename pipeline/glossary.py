"""Glossary (layer 5): respell names the film's glossary knows, then learn from this job.

Correction uses the film's own glossary only (names from other films would respell this one's
characters); learning counts the raw ASR transcript, so a cached re-run, whose corrected text
depends on the glossary, is recognised and not counted twice.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from cache_store import Outcome
from cuts import CutLink
from glossary import correct_names

from ._plan import JobPlan
from ._report import StageReport
from ._stage import Stage
from ._state import JobState

log = logging.getLogger("pipeline.glossary")


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    transcript, audio_hash = state.transcript, state.audio_hash
    assert transcript is not None and audio_hash is not None
    policy = plan.settings.glossary_policy
    if not policy.learning_enabled:
        switch = (
            "CACHE_GLOSSARY_LEARNING=false"
            if not plan.settings.cache_glossary_learning
            else "GLOSSARY_LEARNING_ENABLED=false"
        )
        return state.done("glossary", StageReport("off", 0.0, switch))
    cache, movie_id = plan.cache, plan.film(audio_hash)
    enabled = cache.store.enabled
    linked = cache.cuts.links.get(audio_hash) if enabled else None
    if enabled and (linked is None or linked.movie_id != movie_id):
        # The first job on this audio, or --movie-id: later cuts linked to it find the film.
        link = CutLink(audio_hash, movie_id) if linked is None else linked
        cache.cuts.links.put(dataclasses.replace(link, movie_id=movie_id))
    # --no-cache / ENABLE_CACHING=false: no correction from what is stored; still learn.
    film = cache.glossaries.load(movie_id) if policy.per_movie_enabled and enabled else None
    corrected, corrections = (
        correct_names(transcript, film) if film is not None else (transcript, [])
    )
    for c in corrections:
        log.info(
            "glossary: segment %d: %r -> %r (%.0f)", c.segment, c.original, c.corrected, c.score
        )
    learned = cache.glossaries.learn(movie_id, transcript, policy)
    if learned.added:
        log.info("glossary: learned for %s: %s", movie_id, ", ".join(learned.added))
    known = len(film.entries) if film is not None else 0
    reason = (
        f"{known} terms known for {movie_id}, {len(corrections)} names corrected"
        if known
        else f"no terms known for {movie_id} yet: {len(learned.added)} learned now"
    )
    seconds = round(time.perf_counter() - started, 3)
    # Layer 5's use, counted: a hit when the film's glossary already knew terms.
    outcome = Outcome.HIT if known else Outcome.MISS if enabled else Outcome.BYPASSED
    kind = None if known else "new content" if enabled else "bypassed"
    cache.store.record_event(cache.store.event("glossary", movie_id, outcome, kind, reason))
    report = (
        StageReport("hit" if known else "miss", seconds, reason)
        if enabled
        else StageReport("off", seconds, cache.store.bypass_reason)
    )
    return state.done("glossary", report, transcript=corrected)


STAGE = Stage("glossary", "cpu", run)
