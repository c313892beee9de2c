"""Translation (layer 4): the memory first for every segment, the model only for the rest.

Each segment is looked up with its neighbours as context and the hash of the glossary terms it
contains. A match at or above ``TM_REUSE_MIN_SCORE`` (the spec's 0.90 bar) is used as-is;
every other segment goes to the model in batches, with glossary terms swapped for placeholders.
When the model loses a placeholder, the segment is translated around its terms instead, so a
protected term always comes out as the glossary says.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from cache_store import Glossary, TmContext, TmEntry, TmMatch, Transcript, protect
from engines.translate import Translation, TranslationSettings, Translator

from ..job import JobPlan, MemoryReport, StageReport, report_progress


def _translate(
    settings: TranslationSettings, sources: Sequence[str], glossary: Glossary
) -> list[tuple[Translation, tuple[str, ...]]]:
    """Model translations with glossary terms protected, in order, with the terms applied."""
    translator = Translator(settings)
    guarded = [protect(text, glossary, settings.target_language) for text in sources]
    raw: list[Translation] = []
    for out in translator.translate([g.text for g in guarded]):
        raw.append(out)
        report_progress("translation", 100 * len(raw) / max(1, len(sources)))
    restored = [g.restore(r.text) for g, r in zip(guarded, raw, strict=True)]
    # Placeholders lost: translate the pieces between the terms, then join them around the
    # terms' renderings (one more batch for all such segments).
    lost = [i for i, text in enumerate(restored) if text is None]
    pieces = [t for i in lost for t, final in guarded[i].chunks if not final and t.strip()]
    done = iter(translator.translate(pieces))
    for i in lost:
        parts = [
            t.strip() if final or not t.strip() else next(done).text
            for t, final in guarded[i].chunks
        ]
        restored[i] = " ".join(p for p in parts if p)
    return [
        (dataclasses.replace(r, text=text or ""), tuple(e.term for e in g.terms))
        for r, text, g in zip(raw, restored, guarded, strict=True)
    ]


@dataclasses.dataclass(frozen=True)
class _Lookups:
    """A job's segments as memory queries, their matches, and those left to the model."""

    settings: TranslationSettings
    glossary: Glossary
    queries: list[TmEntry]
    matches: list[TmMatch | None]
    todo: list[int]
    off: str | None


def _look_up(plan: JobPlan, audio_hash: str, transcript: Transcript) -> _Lookups:
    settings = plan.translation_settings(transcript.language)
    film = plan.film(audio_hash)
    glossary = plan.glossary(film)
    source_lang, target = transcript.language, settings.target_language
    model = settings.model.id
    texts = [s.text.strip() for s in transcript.segments]
    queries = [
        TmEntry(
            source=text,
            target="",
            source_lang=source_lang,
            target_lang=target,
            model=model,
            glossary_hash=glossary.digest_for(text, target),
            context=TmContext.around(texts, i, plan.store.tm.context_window),
            movie_id=film,
            audio_hash=audio_hash,
        )
        for i, text in enumerate(texts)
    ]
    off = plan.memory_off()
    matches: list[TmMatch | None] = (
        [None] * len(queries) if off else plan.store.match_translations(queries)
    )
    reuse = plan.store.tm.reuse_score
    todo = [i for i, m in enumerate(matches) if m is None or m.score < reuse]
    return _Lookups(settings, glossary, queries, matches, todo, off)


def needs_compute(plan: JobPlan, audio_hash: str, transcript: Transcript) -> bool:
    """Whether ``run`` would call the model: a job served whole by the memory is not sent to a
    GPU worker."""
    return bool(_look_up(plan, audio_hash, transcript).todo)


def run(plan: JobPlan, audio_hash: str, transcript: Transcript) -> tuple[Transcript, StageReport]:
    started = time.perf_counter()
    found = _look_up(plan, audio_hash, transcript)
    queries, matches, todo = found.queries, found.matches, found.todo
    texts = [q.source for q in queries]
    reuse = plan.store.tm.reuse_score
    if todo:
        plan.must_compute("translation")
    computing = time.perf_counter()
    fresh = _translate(found.settings, [texts[i] for i in todo], found.glossary) if todo else []
    seconds_each = (time.perf_counter() - computing) / max(1, len(todo))
    final = [m.target if m is not None else "" for m in matches]
    new_entries = []
    for i, (translation, terms) in zip(todo, fresh, strict=True):
        final[i] = translation.text
        new_entries.append(
            dataclasses.replace(
                queries[i],
                target=translation.text,
                glossary_terms=terms,
                confidence=translation.confidence,
                compute_seconds=seconds_each,
            )
        )
    stored = (
        plan.store.record_translations(queries, matches, new_entries)
        if plan.settings.translation_memory_enabled
        else 0
    )
    result = Transcript(
        language=found.settings.target_language,
        segments=tuple(
            dataclasses.replace(seg, text=text, words=())
            for seg, text in zip(transcript.segments, final, strict=True)
        ),
    )
    memory = MemoryReport.of(matches, reuse, stored)
    saved = sum(m.entry.compute_seconds for m in matches if m is not None and m.score >= reuse)
    return result, StageReport.of_memory(memory, started, found.off, saved)
