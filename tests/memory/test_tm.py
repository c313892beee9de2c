"""Layer 4: matching levels, normalisation, the TM_* settings, maintenance of the memory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cache_manager import (
    CacheManager,
    cleanup,
    clear,
    export_archive,
    import_archive,
    invalidate,
    rebuild_index,
    stats,
)
from cache_store import Layer
from memory import TmContext, TmEntry, TmPolicy, normalise

from ..conftest import Clock

SCRIPT = [
    "Where were you last night?",
    "I waited for you at the station.",
    "The train was late again.",
    "You could have called me.",
    "My phone was dead, I am sorry.",
    "Come inside, dinner is ready.",
]


def _entry(i: int, target: str | None = None, **kw: object) -> TmEntry:
    fields: dict[str, object] = {
        "source": SCRIPT[i],
        "target": target or f"FR:{SCRIPT[i]}",
        "source_lang": "en",
        "target_lang": "fr",
        "model": "m@1",
        "context": TmContext.around(SCRIPT, i, 3),
        "confidence": 0.95,
        "compute_seconds": 2.0,
        **kw,
    }
    return TmEntry(**fields)  # type: ignore[arg-type]


def _ctx(i: int, texts: list[str] = SCRIPT) -> dict[str, list[str]]:
    c = TmContext.around(texts, i, 3)
    return {"prev": list(c.prev), "next": list(c.next)}


@pytest.fixture
def cache(tmp_path: Path, clock: Clock) -> CacheManager:
    store = CacheManager(tmp_path / "cache", clock=clock)
    store.memory.record([], [], [_entry(i) for i in range(len(SCRIPT))])
    return store


def test_normalisation_folds_case_punctuation_space_and_numbers() -> None:
    out = normalise(["  Hello,   WORLD!! ", "I have 3 brothers.", "I have 12,5 brothers"])
    assert out.to_pylist() == ["hello world", "i have 0 brothers", "i have 0 brothers"]


def test_exact_segment_and_context_is_a_context_match(cache: CacheManager) -> None:
    entry, level = cache.find_translation_match(SCRIPT[2], "en", "fr", _ctx(2))
    assert level == 1.0 and entry is not None and entry["target"] == f"FR:{SCRIPT[2]}"
    for field in ("source_segment", "model_used", "glossary_hash", "confidence", "reuse_count"):
        assert field in entry


def test_exact_segment_with_similar_context_scores_090(cache: CacheManager) -> None:
    edited = [*SCRIPT]
    edited[0] = "Where were you last night, Raj?"  # one neighbour changed a little
    _, level = cache.find_translation_match(SCRIPT[2], "en", "fr", _ctx(2, edited))
    assert level == 0.9


def test_similar_segment_is_a_fuzzy_match_and_dissimilar_context_is_penalised(
    cache: CacheManager,
) -> None:
    near = "The train was late again!"  # punctuation only: normalises to the same text
    entry, level = cache.find_translation_match(near, "en", "fr", _ctx(2))
    assert level == 1.0 * 1.0 and entry is not None
    other = {"prev": ["Completely different scene."], "next": ["Nothing alike here at all."]}
    _, penalised = cache.find_translation_match("The train was late again", "en", "fr", other)
    assert penalised == pytest.approx(0.9)
    fuzzy, score = cache.find_translation_match("The train was very late again.", "en", "fr")
    assert fuzzy is not None and 0.8 <= score < 1.0


def test_threshold_is_honoured(cache: CacheManager) -> None:
    query = "The bus was late again, as usual."
    _, loose = cache.find_translation_match(query, "en", "fr", threshold=0.6)
    assert loose > 0
    assert cache.find_translation_match(query, "en", "fr", threshold=0.95) == (None, 0.0)
    strict = CacheManager(cache.root, tm=TmPolicy(fuzzy_threshold=0.95))
    assert strict.find_translation_match(query, "en", "fr") == (None, 0.0)


def test_numbers_are_carried_over_or_the_match_is_not_reusable(tmp_path: Path) -> None:
    store = CacheManager(tmp_path)
    store.memory.import_entries(
        [
            TmEntry("I have 3 brothers.", "J'ai 3 frères.", "en", "fr"),
            TmEntry("Take 2 or 2 pills.", "Prenez 2 ou 2 comprimés.", "en", "fr"),
        ]
    )
    entry, level = store.find_translation_match("I have 4 brothers.", "en", "fr")
    assert entry is not None and entry["target"] == "J'ai 4 frères." and level == 1.0
    _, unsure = store.find_translation_match("Take 5 or 6 pills.", "en", "fr")
    assert 0 < unsure < 0.9  # "2" twice in the target: cannot tell which is which


def test_job_lookups_see_only_their_model_and_glossary(cache: CacheManager) -> None:
    query = _entry(1)
    assert cache.memory.match([query])[0] is not None
    other_model = TmEntry(**{**query.__dict__, "model": "other@2"})
    assert cache.memory.match([other_model]) == [None]
    glossary_changed = TmEntry(**{**query.__dict__, "glossary_hash": "g2"})
    assert cache.memory.match([glossary_changed]) == [None]
    cache.memory.approve(SCRIPT[1], "en", "fr")
    assert cache.memory.match([other_model])[0] is not None  # approved: any job


def test_approved_entries_win_ties(tmp_path: Path) -> None:
    store = CacheManager(tmp_path)
    store.memory.import_entries([TmEntry("Good night.", "Bonne nuit.", "en", "fr", model="a@1")])
    store.memory.import_entries([TmEntry("Good night.", "Bonsoir.", "en", "fr", model="b@1")])
    assert store.memory.approve("Good night.", "en", "fr", target="Bonne nuit !") == 3
    entry, _ = store.find_translation_match("Good night.", "en", "fr")
    assert entry is not None and entry["user_approved"]


def test_a_human_translation_of_the_line_beats_the_machines_in_context(
    cache: CacheManager,
) -> None:
    """A line corrected in an exported TMX and imported again is what the next job writes,
    though the machine's was made in the job's very context."""
    query = _entry(1)
    machine = cache.memory.match([query])[0]
    assert machine is not None and machine.level == "context"
    cache.memory.import_entries([TmEntry(SCRIPT[1], "Je t'ai attendu à la gare.", "en", "fr")])
    cache.memory.forget()
    human = cache.memory.match([query])[0]
    assert human is not None and human.target == "Je t'ai attendu à la gare."
    assert human.score >= cache.memory.policy.reuse_score


def test_min_confidence_keeps_unsure_translations_out(tmp_path: Path) -> None:
    store = CacheManager(tmp_path, tm=TmPolicy(min_confidence=0.85))
    stored = store.memory.record([], [], [_entry(0, confidence=0.5), _entry(1, confidence=0.9)])
    assert stored == 1
    assert store.find_translation_match(SCRIPT[0], "en", "fr") == (None, 0.0)


def test_disabled_memory_answers_nothing(cache: CacheManager) -> None:
    off = CacheManager(cache.root, tm=TmPolicy(enabled=False))
    assert off.find_translation_match(SCRIPT[0], "en", "fr") == (None, 0.0)
    assert off.memory.match([_entry(0)]) == [None]


def test_reuse_is_counted_and_logged_as_events(cache: CacheManager) -> None:
    queries = [_entry(i) for i in range(3)]
    matches = cache.memory.match(queries)
    cache.memory.record(queries, matches, [])
    cache.memory.record(queries, matches, [])
    entry, _ = cache.find_translation_match(SCRIPT[0], "en", "fr", _ctx(0))
    assert entry is not None and entry["reuse_count"] == 2
    report = stats(cache)
    layer = {s.layer: s for s in report.layers}[Layer.TRANSLATIONS]
    assert layer.hits == 6 and layer.entries == len(SCRIPT) and layer.saved_seconds == 12.0


def test_cleanup_applies_max_age_min_reuse_and_size(tmp_path: Path, clock: Clock) -> None:
    store = CacheManager(tmp_path, clock=clock, tm=TmPolicy(max_age_days=30, min_reuse_count=1))
    store.memory.record([], [], [_entry(i) for i in range(4)])
    used = [_entry(0)]
    store.memory.record(used, store.memory.match(used), [])
    store.memory.approve(SCRIPT[1], "en", "fr")
    clock.now += timedelta(days=31)
    report = cleanup(store, max_bytes=1 << 40)
    assert report.memory_expired == 2  # 2 and 3: unused and never reused
    left = {e.source for e in store.memory.entries()}
    assert left == {SCRIPT[0], SCRIPT[1]}
    tight = CacheManager(tmp_path, clock=clock, tm=TmPolicy(max_bytes=1))
    assert cleanup(tight, max_bytes=1 << 40).memory_evicted == 1
    assert {e.source for e in store.memory.entries()} == {SCRIPT[1]}  # the approved one stays


def test_clear_invalidate_export_import_and_rebuild_keep_the_memory_right(
    tmp_path: Path,
) -> None:
    store = CacheManager(tmp_path / "a")
    store.memory.record([], [], [_entry(i, audio_hash="f" * 64) for i in range(3)] + [_entry(3)])
    archive = tmp_path / "tm.tar.gz"
    assert export_archive(store, archive, (Layer.TRANSLATIONS,)) == 4
    assert invalidate(store, "f" * 64)[Layer.TRANSLATIONS] == 3
    assert [e.source for e in store.memory.entries()] == [SCRIPT[3]]
    assert clear(store, (Layer.TRANSLATIONS,))[Layer.TRANSLATIONS] == 1
    other = CacheManager(tmp_path / "b")
    assert import_archive(other, archive).extras["memory"] == 4
    entries = {e.source: e for e in other.memory.entries()}
    assert entries[SCRIPT[1]].context == TmContext.around(SCRIPT, 1, 3)
    assert entries[SCRIPT[1]].audio_hash == "f" * 64
    rebuild_index(other)
    assert len(other.memory.entries()) == 4
