"""The shared level on real services: moto_server's S3 API and Debian PostgreSQL on loopback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from cache_manager import CacheManager
from cache_store import Outcome, encode
from memory import TmEntry
from testkit import S3_ENV, free_port, run_in_processes, shared_level

from ..cuts.test_similar import OLD, _fp

Host = Callable[[str], CacheManager]


@pytest.fixture
def host(shared_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    """A host by name: its own local cache dir, the test's shared backend."""
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)

    def make(name: str) -> CacheManager:
        root = tmp_path / name
        return CacheManager(root, shared=shared_level(shared_env, root))

    return make


def _asr(audio_hash: str, beam: int = 5) -> tuple[str, dict[str, object]]:
    return audio_hash, {"model": "tiny.en", "beam_size": beam}


TRANSCRIPT = {"language": "en", "segments": [{"start": 0.0, "end": 1.0, "text": "Hello."}]}


def test_a_hit_on_another_host_comes_from_the_shared_level_and_backfills(host: Host) -> None:
    a, b = host("a"), host("b")
    a.set_asr_result(*_asr("f" * 64), TRANSCRIPT, compute_seconds=12.5)

    assert b.store.contains(b.asr_key(*_asr("f" * 64)))  # the shared index answers planning probes
    found = b.store.get(b.asr_key(*_asr("f" * 64)))
    assert found.outcome is Outcome.HIT
    assert found.reason == "from the shared cache"
    assert found.data == TRANSCRIPT and found.saved_seconds == 12.5
    # Backfilled: the next lookup is local, its row reaches b's own index.
    assert b.store.payload_path(found.key).is_file()
    assert found.key.digest in set(b.store.keys())


def test_a_miss_is_explained_from_the_shared_index(host: Host) -> None:
    a, b = host("a"), host("b")
    a.set_asr_result(*_asr("e" * 64, beam=5), TRANSCRIPT)
    missed = b.store.get(b.asr_key(*_asr("e" * 64, beam=1)))
    assert missed.outcome is Outcome.MISS
    assert missed.reason_kind == "config changed" and "beam_size" in missed.reason


def test_a_damaged_shared_object_is_a_miss_not_a_hit(
    host: Host, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = host("a"), host("b")
    key = a.asr_key(*_asr("d" * 64))
    a.set_asr_result(*_asr("d" * 64), TRANSCRIPT)
    raw, _ = encode({"cache_key": key.digest, "created_at": "x"})
    assert b.shared is not None
    b.shared.objects.put(b.store.payload_rel(key), raw[:-5] + b"xxxxx")
    with caplog.at_level(logging.WARNING, "cache_store"):
        assert b.store.get(key).outcome is Outcome.MISS
    assert "damaged" in caplog.text
    assert not b.store.payload_path(key).exists()


def test_a_cut_on_one_host_finds_its_film_from_another(host: Host) -> None:
    a, b = host("a"), host("b")
    film = _fp("a", OLD)
    a.set_fingerprint(film)
    a.cuts.index(film)
    recut = _fp("b", np.concatenate([OLD[:1500], OLD[2000:]]))  # a scene of ~60 s removed
    [job] = b.cuts.similar_to(recut, threshold=0.5)
    assert job.audio_hash == film.audio_hash and job.shared_ratio > 0.95
    assert job.band == "reuse-all"


def test_translation_memory_is_shared(host: Host) -> None:
    a, b = host("a"), host("b")
    entry = TmEntry("Where is the station?", "Où est la gare ?", "en", "fr", confidence=0.95)
    assert a.memory.record([], [], [entry]) == 1
    found, score = b.find_translation_match("Where is the station?", "en", "fr")
    assert found is not None and found["target"] == "Où est la gare ?" and score == 1.0
    # An approval on one host reaches the others.
    a.memory.approve("Where is the station?", "en", "fr")
    found, _ = host("c").find_translation_match("Where is the station?", "en", "fr")
    assert found is not None and found["user_approved"]


def _write_many(env: dict[str, str], root: str, writer: int, count: int) -> None:
    import os

    os.environ.update(S3_ENV)
    store = CacheManager(Path(root), shared=shared_level(env, Path(root)))
    for i in range(count):
        store.store.put(
            CacheManager.fingerprint_key(f"{writer:02d}{i:062d}"), {"writer": writer, "i": i}
        )


def test_four_writers_on_each_of_two_hosts_lose_nothing(
    shared_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    per_writer = 25
    run_in_processes(
        *(
            (_write_many, (shared_env, str(tmp_path / f"host{w % 2}"), w, per_writer))
            for w in range(8)
        )
    )
    with psycopg.connect(shared_env["CACHE_INDEX_URL"]) as con:
        found = con.execute("SELECT count(*) FROM cpwx_cache_index").fetchone()
    assert found == (8 * per_writer,)
    reader = CacheManager(tmp_path / "reader", shared=shared_level(shared_env, tmp_path / "reader"))
    for w in range(8):
        for i in range(per_writer):
            got = reader.store.get(CacheManager.fingerprint_key(f"{w:02d}{i:062d}"))
            assert got.hit and got.data == {"writer": w, "i": i}
    for h in (0, 1):  # each host's own index keeps all its writers' rows too
        assert len(CacheManager(tmp_path / f"host{h}").store.keys()) == 4 * per_writer


def test_an_unreachable_shared_store_holds_writes_until_a_push(
    shared_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    dead = {
        **shared_env,
        "CACHE_S3_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        "CACHE_INDEX_URL": f"postgresql://cpwx@127.0.0.1:{free_port()}/cpwx",
    }
    root = tmp_path / "a"
    offline = CacheManager(root, shared=shared_level(dead, root))
    memory = TmEntry("Good night.", "Bonne nuit.", "en", "fr", confidence=0.99)
    film = _fp("a", OLD)
    with caplog.at_level(logging.INFO, "cache_store"):
        offline.set_asr_result(*_asr("c" * 64), TRANSCRIPT)
        offline.memory.record([], [], [memory])
        offline.set_fingerprint(film)
        offline.cuts.index(film)
        assert offline.store.get(offline.asr_key(*_asr("c" * 64))).hit  # local caching goes on
        assert offline.share_pending() == 4  # transcript, memory, fingerprint, its subhashes
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("is unavailable" in r.getMessage() for r in warnings) == 1  # one per process
    assert any("not shared yet" in r.getMessage() for r in warnings)

    back = CacheManager(root, shared=shared_level(shared_env, root))
    assert back.share_pending() == 0
    other = CacheManager(tmp_path / "b", shared=shared_level(shared_env, tmp_path / "b"))
    assert other.store.get(other.asr_key(*_asr("c" * 64))).hit
    found, _ = other.find_translation_match("Good night.", "en", "fr")
    assert found is not None and found["target"] == "Bonne nuit."
    [job] = other.cuts.similar_to(_fp("b", OLD[100:]), threshold=0.5)
    assert job.audio_hash == film.audio_hash


def test_cleanup_expires_shared_entries_by_their_ttl(host: Host) -> None:
    a = host("a")
    a.store.put(CacheManager.fingerprint_key("b" * 64), {"x": 1})
    assert a.store.expire_shared() == 0
    later = CacheManager(
        a.root, ttl_days=90, shared=a.shared, clock=lambda: a.clock() + timedelta(days=91)
    )
    assert later.store.expire_shared(dry_run=True) == 1
    assert later.store.expire_shared() == 1
    fresh = host("b")
    assert fresh.store.get(CacheManager.fingerprint_key("b" * 64)).outcome is Outcome.MISS
