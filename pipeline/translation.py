"""Translation (layer 4): the memory first for every segment, the model only for the rest.

Each segment is looked up with its neighbours as context and the hash of the glossary terms it
contains. A match at or above ``TM_REUSE_MIN_SCORE`` (the spec's 0.90 bar) is used as-is;
every other segment goes to the model in batches, with glossary terms swapped for placeholders.
When the model loses a placeholder, the segment is translated around its terms instead, so a
protected term always comes out as the glossary says.

With no text model (no ``TRANSLATION_MODEL``) and English as the target, Whisper translates
the speech of each line left over, and the glossary's renderings are put into what it says.
Either way the memory keeps each English line against the source line it stands for, so a
later job, on this audio or another, reuses it.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from cache_store import Layer
from engines.asr import AsrSettings
from engines.translate import (
    SPEECH_TARGET,
    SpeechTranslator,
    Translation,
    TranslationSettings,
    Translator,
)
from glossary import Glossary, protect, render_terms
from memory import TmContext, TmEntry, TmMatch
from records import Segment, Transcript

from ._plan import JobPlan
from ._report import MemoryReport, StageReport
from ._stage import Stage
from ._state import JobState


def translate(
    settings: TranslationSettings,
    sources: Sequence[str],
    glossary: Glossary,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[Translation, tuple[str, ...]]]:
    """Model translations with glossary terms protected, in order, with the terms applied."""
    translator = Translator(settings)
    guarded = [protect(text, glossary, settings.target_language) for text in sources]
    raw: list[Translation] = []
    for out in translator.translate([g.text for g in guarded]):
        raw.append(out)
        if progress is not None:
            progress(100 * len(raw) / max(1, len(sources)))
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


def translate_speech(
    settings: AsrSettings,
    wav: Path,
    segments: Sequence[Segment],
    glossary: Glossary,
    progress: Callable[[float], None] | None = None,
) -> list[tuple[Translation, tuple[str, ...]]]:
    """Whisper's English for the speech of each segment, with the glossary's renderings of the
    terms the segment's source text holds put in, in order, with the terms applied."""
    spans = [(s.start, s.end) for s in segments]
    heard = SpeechTranslator(settings).translate(wav, spans, progress)
    out = []
    for segment, translation in zip(segments, heard, strict=True):
        text, terms = render_terms(segment.text, translation.text, glossary, SPEECH_TARGET)
        out.append((dataclasses.replace(translation, text=text), tuple(e.term for e in terms)))
    return out


@dataclasses.dataclass(frozen=True)
class _Lookups:
    """A job's lines (its segments cut at sentence ends) as memory queries, their matches, and
    those left to the model."""

    lines: tuple[Segment, ...]
    glossary: Glossary
    queries: list[TmEntry]
    matches: list[TmMatch | None]
    todo: list[int]
    off: str | None


def _memory_off(plan: JobPlan) -> str | None:
    """Why the translation memory is not consulted, or None when it is."""
    if not plan.settings.translation_memory_enabled:
        return "TRANSLATION_MEMORY_ENABLED=false"
    return plan.cache.store.bypassed(Layer.TRANSLATIONS)


def _look_up(plan: JobPlan, state: JobState) -> _Lookups:
    transcript, audio_hash = state.transcript, state.audio_hash
    assert transcript is not None and audio_hash is not None and plan.target_language
    film = plan.film(audio_hash)
    glossary = plan.glossary(film)
    memory = plan.cache.memory
    source_lang, target = transcript.language, plan.target_language
    model = plan.translator_id
    lines = tuple(line for s in transcript.segments for line in s.sentences())
    texts = [s.text.strip() for s in lines]
    glossary.read_ahead(texts)
    queries = [
        TmEntry(
            source=text,
            target="",
            source_lang=source_lang,
            target_lang=target,
            model=model,
            glossary_hash=glossary.digest_for(text, target),
            context=TmContext.around(texts, i, memory.policy.context_window),
            movie_id=film,
            audio_hash=audio_hash,
        )
        for i, text in enumerate(texts)
    ]
    off = _memory_off(plan)
    matches: list[TmMatch | None] = [None] * len(queries) if off else memory.match(queries)
    reuse = memory.policy.reuse_score
    todo = [i for i, m in enumerate(matches) if m is None or m.score < reuse]
    return _Lookups(lines, glossary, queries, matches, todo, off)


def _translate(
    plan: JobPlan, language: str, lines: Sequence[Segment], todo: list[int], glossary: Glossary
) -> list[tuple[Translation, tuple[str, ...]]]:
    """The text model's translations of lines ``todo``, else Whisper's of their speech."""

    def progress(percent: float) -> None:
        plan.report_progress("translation", percent)

    if plan.translation_model is not None:
        settings = plan.translation_settings(language)
        return translate(settings, [lines[i].text.strip() for i in todo], glossary, progress)
    speech = plan.speech_settings(language)
    chosen = [lines[i] for i in todo]
    return translate_speech(speech, plan.audio.wav(), chosen, glossary, progress)


def _said_in_target(plan: JobPlan, state: JobState) -> bool:
    return state.transcript is not None and state.transcript.language == plan.target_language


def needs_compute(plan: JobPlan, state: JobState) -> bool:
    """Whether ``run`` would call the model: a job served whole by the memory is not sent to a
    GPU worker."""
    return not _said_in_target(plan, state) and bool(_look_up(plan, state).todo)


def run(plan: JobPlan, state: JobState) -> JobState:
    started = time.perf_counter()
    transcript, target = state.transcript, plan.target_language
    assert transcript is not None and target is not None
    if _said_in_target(plan, state):
        why = f"the speech is in {transcript.language} already: nothing to translate"
        return state.done("translation", StageReport("off", 0.0, why), translation=transcript)
    found = _look_up(plan, state)
    queries, matches, todo = found.queries, found.matches, found.todo
    memory = plan.cache.memory
    reuse = memory.policy.reuse_score
    computing = time.perf_counter()
    fresh = _translate(plan, transcript.language, found.lines, todo, found.glossary) if todo else []
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
        memory.record(queries, matches, new_entries)
        if plan.settings.translation_memory_enabled
        else 0
    )
    result = Transcript(
        language=target,
        segments=tuple(
            dataclasses.replace(seg, text=text, words=())
            for seg, text in zip(found.lines, final, strict=True)
        ),
    )
    report = MemoryReport.of(matches, reuse, stored)
    saved = sum(m.entry.compute_seconds for m in matches if m is not None and m.score >= reuse)
    done = StageReport.of_memory(report, started, found.off, saved)
    if todo:  # which model wrote the rest: a text model, or Whisper from the speech
        done = dataclasses.replace(
            done, reason=f"{done.reason}; {len(todo)} by {plan.translator_id}"
        )
    return state.done("translation", done, translation=result)


STAGE = Stage(
    "translation",
    "gpu",
    run,
    needs=needs_compute,
    applies=lambda plan: plan.translates,
    layer=Layer.TRANSLATIONS,
)
