"""Finding a film's other cuts: the subhash index, similarity weights, the spec's bands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cache_manager import CacheManager, clear, invalidate, rebuild_index
from cache_store import Layer
from cuts import band_for, similarity
from records import AudioFingerprint, NoiseProfile

RNG = np.random.default_rng(5)
OLD = RNG.integers(0, 2**32, 8 * 600, dtype=np.uint64).astype(np.uint32)  # ~10 min of items


def _fp(name: str, items: np.ndarray, language: str = "hi") -> AudioFingerprint:
    return AudioFingerprint(
        audio_hash=name * 64,
        duration=len(items) / 8.07,
        sample_rate=16000,
        channels=1,
        noise_profile=NoiseProfile(30.0, -60.0, "low"),
        chromaprint=tuple(int(x) for x in items),
        source_file=f"/films/{name}/{'Jaane.Tu' if name in 'ab' else 'Other'}.2008.1080p.mkv",
        created_at="2026-01-01T00:00:00Z",
        language_detected=language,
    )


@pytest.fixture
def store(tmp_path: Path) -> CacheManager:
    cache = CacheManager(tmp_path)
    recut = np.concatenate([OLD[:1500], OLD[2000:]])  # a scene of ~60 s removed
    unrelated = RNG.integers(0, 2**32, 8 * 600, dtype=np.uint64).astype(np.uint32)
    for fp in (_fp("a", OLD), _fp("b", recut), _fp("c", unrelated)):
        cache.set_fingerprint(fp)
        cache.cuts.index(fp)
    return cache


def test_a_recut_finds_its_film_and_not_the_unrelated_one(store: CacheManager) -> None:
    [job] = store.find_similar_jobs("b" * 64, threshold=0.5)
    assert job.audio_hash == "a" * 64 and job.shared_keys > 100
    assert job.shared_ratio > 0.95 and job.band == "reuse-all"
    assert all(j.shared_ratio < 0.02 for j in store.find_similar_jobs("c" * 64, threshold=0.0))


def test_index_follows_rebuild_invalidate_and_clear(store: CacheManager) -> None:
    with store.store.session() as s:
        s.con.execute("DELETE FROM fp_subhashes")
    assert store.find_similar_jobs("b" * 64, threshold=0.0) == []
    rebuild_index(store)  # the index is derived from the fingerprint payloads
    assert [j.audio_hash for j in store.find_similar_jobs("b" * 64)] == ["a" * 64]
    invalidate(store, "a" * 64)
    assert store.find_similar_jobs("b" * 64, threshold=0.0) == []
    clear(store, (Layer.FINGERPRINTS,))
    assert store.find_similar_jobs("b" * 64) == []


def test_similarity_weights_and_bands() -> None:
    assert similarity(1.0) == 1.0
    assert similarity(1.0, ("hi", "hi"), ("x", "x")) == 1.0
    assert similarity(0.0, ("hi", "hi")) == pytest.approx(0.2 / 0.9, abs=1e-4)
    assert similarity(0.9, ("hi", "en"), ("x", "x")) == pytest.approx(0.73)
    assert [band_for(s) for s in (0.96, 0.85, 0.7, 0.5)] == [
        "reuse-all",
        "reuse-config",
        "reuse-language",
        "none",
    ]
