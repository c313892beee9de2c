"""Word timing: a start, an end and a score for every word the ASR heard.

Its own entry (the transcript's key plus the aligner's), so that changing the aligner times the
words again while the transcript stays a hit. The default aligner is Whisper's own
cross-attention, which every Whisper model carries; a wav2vec2 folder (ALIGN_MODEL_DIR) takes
over where one is given.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from cache_store import CacheKey
from cache_store import asr_key as layer_key
from engines.align import word_aligner
from engines.asr import AsrSettings
from records import Transcript

from ._plan import JobPlan
from ._report import StageReport
from ._stage import Stage
from ._state import JobState

__all__ = ["LAYER", "STAGE", "words_key"]

log = logging.getLogger("pipeline.words")

LAYER = "words"
_CODE_VERSION = "words-1"  # bump when this stage's output changes for the same inputs


def words_key(audio_hash: str, asr: AsrSettings) -> CacheKey:
    """The timed words of the transcript ``audio_hash`` has under ``asr``."""
    return CacheKey.build(
        LAYER,
        code_version=_CODE_VERSION,
        audio_hash=audio_hash,
        transcript=layer_key(audio_hash, asr.key_parts()).digest,
        **word_aligner(asr).key_parts(),
    )


def key(plan: JobPlan, state: JobState) -> CacheKey | None:  # noqa: ARG001
    if not (state.audio_hash and state.asr):
        return None
    return words_key(state.audio_hash, state.asr)


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    stored, transcript = key(plan, state), state.transcript
    assert stored is not None and state.asr is not None and transcript is not None
    store = plan.cache.store
    lookup = store.get(stored)
    if lookup.hit and lookup.data is not None:
        timed = Transcript.from_dict(lookup.data)
    else:
        timed = _align(plan, state.asr, transcript)
        store.put(stored, timed.to_dict(), compute_seconds=time.perf_counter() - started)
    return state.done(LAYER, StageReport.of(lookup, started), transcript=timed)


def _align(plan: JobPlan, asr: AsrSettings, transcript: Transcript) -> Transcript:
    """Only the segments whose words have no times yet: those reused from another cut keep
    the times its word stage gave them (moved onto this cut's timeline), so a re-cut's words
    cost no more than the audio heard again."""
    segments = list(transcript.segments)
    todo = [n for n, s in enumerate(segments) if not s.timed]
    if len(todo) < len(segments):
        log.info(
            "words: %d of %d segments timed already (reused)",
            len(segments) - len(todo),
            len(segments),
        )
    if not todo:
        return transcript
    aligned = word_aligner(asr).align(
        plan.audio.wav(),
        dataclasses.replace(transcript, segments=tuple(segments[n] for n in todo)),
        progress=lambda percent: plan.report_progress(LAYER, percent),
    )
    for n, segment in zip(todo, aligned.segments, strict=True):
        segments[n] = segment
    return dataclasses.replace(transcript, segments=tuple(segments))


STAGE = Stage(LAYER, "gpu", run, key=key, layer=LAYER)
