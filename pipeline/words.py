"""Word timing: a start, an end and a score for every word the ASR heard.

Its own entry (the transcript's key plus the aligner's), so that changing the aligner times the
words again while the transcript stays a hit. The default aligner is Whisper's own
cross-attention, which every Whisper model carries; a wav2vec2 folder (ALIGN_MODEL_DIR) takes
over where one is given.
"""

from __future__ import annotations

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
        aligner = word_aligner(state.asr)
        timed = aligner.align(
            plan.audio.wav(),
            transcript,
            progress=lambda percent: plan.report_progress(LAYER, percent),
        )
        store.put(stored, timed.to_dict(), compute_seconds=time.perf_counter() - started)
    return state.done(LAYER, StageReport.of(lookup, started), transcript=timed)


STAGE = Stage(LAYER, "gpu", run, key=key, layer=LAYER)
