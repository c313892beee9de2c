"""Translation: a transformers seq2seq model over the transcript's segments, in batches."""

from __future__ import annotations

import dataclasses
import time

from cache_store import Transcript
from engines.translate import Translator

from ..job import JobPlan, StageReport, report_progress


def run(plan: JobPlan, audio_hash: str, transcript: Transcript) -> tuple[Transcript, StageReport]:
    started = time.perf_counter()
    key = plan.translation_key(plan.asr_key(audio_hash), transcript.language)
    lookup = plan.lookup(key)
    if lookup.hit and lookup.data is not None:
        return Transcript.from_dict(lookup.data), StageReport.of(lookup, started)
    plan.must_compute("translation")
    settings = plan.translation_settings(transcript.language)
    texts = [s.text for s in transcript.segments]
    translated: list[str] = []
    for text in Translator(settings).translate(texts):
        translated.append(text)
        report_progress("translation", 100 * len(translated) / max(1, len(texts)))
    result = Transcript(
        language=settings.target_language,
        segments=tuple(
            dataclasses.replace(seg, text=text, words=())
            for seg, text in zip(transcript.segments, translated, strict=True)
        ),
    )
    plan.store.put(key, result.to_dict(), time.perf_counter() - started)
    return result, StageReport.of(lookup, started)
