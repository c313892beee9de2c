from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from cache_manager import CacheManager, cleanup, clear, invalidate, rebuild_index, stats
from cache_store import Layer, list_largest, validate
from testkit import run_in_processes

from ..conftest import Clock

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "en", "beam_size": 5}


def _result(words: int = 3) -> dict[str, object]:
    return {"segments": [{"start": 0.0, "end": 1.0, "text": " ".join(["word"] * words)}]}


def test_stats_match_a_known_sequence(tmp_path: Path, clock: Clock) -> None:
    cache = CacheManager(tmp_path, clock=clock, ttl_days=30)
    cache.set_asr_result("a" * 64, CONFIG, _result(), compute_seconds=60.0)
    assert cache.get_asr_result("a" * 64, CONFIG)  # hit, 60 s saved
    assert cache.get_asr_result("a" * 64, CONFIG)  # hit, 60 s saved
    assert cache.get_asr_result("b" * 64, CONFIG) is None  # new content
    assert cache.get_asr_result("a" * 64, {**CONFIG, "beam_size": 1}) is None  # config
    assert cache.get_asr_result("a" * 64, {**CONFIG, "model_version": "v2"}) is None  # model
    CacheManager(tmp_path, clock=clock, enabled=False).get_asr_result("a" * 64, CONFIG)
    report = stats(cache, days=30, cost_per_gpu_minute=0.10)
    asr = next(layer for layer in report.layers if layer.layer == "asr")
    assert (asr.entries, asr.hits, asr.misses, asr.bypassed) == (1, 2, 3, 1)
    assert asr.saved_seconds == 120.0 and asr.hit_rate == 0.4
    assert report.saved_seconds == 120.0 and abs(report.cost_saved - 0.20) < 1e-9
    assert report.miss_reasons == {
        "new content": 1,
        "config changed": 1,
        "model changed": 1,
        "bypassed": 1,
    }
    assert [layer.layer for layer in report.layers] == [
        "fingerprints",
        "models",
        "asr",
        "translations",
        "glossary",
    ]
    assert report.oldest_entry is not None and report.total_bytes > asr.bytes > 0
    clock.now += timedelta(days=31)
    later = stats(cache, days=30)
    assert next(layer for layer in later.layers if layer.layer == "asr").hits == 0
    assert cache.get_asr_result("a" * 64, CONFIG) is None  # now expired
    assert stats(cache).miss_reasons == {"expired": 1}


def test_cleanup_ttl_usage_and_size_cap(tmp_path: Path, clock: Clock) -> None:
    cache = CacheManager(tmp_path, clock=clock, ttl_days=90)
    (tmp_path / "models" / "whisperx" / "big").mkdir(parents=True)
    (tmp_path / "models" / "whisperx" / "big" / "model.bin").write_bytes(b"m" * 1000)
    cache.set_asr_result("0" * 64, CONFIG, _result(), compute_seconds=1.0)  # will expire
    clock.now += timedelta(days=100)
    for i in range(1, 6):  # cheap fingerprints-like entries and one costly ASR entry
        cache.set_asr_result(f"{i}" * 64, CONFIG, _result(200), compute_seconds=1.0)
    cache.set_asr_result("9" * 64, CONFIG, _result(200), compute_seconds=500.0)
    dry = cleanup(cache, max_bytes=1 << 40, dry_run=True)
    assert dry.payloads.expired == 1 and len(cache.store.keys()) == 7
    done = cleanup(cache, max_bytes=1 << 40)
    assert done.payloads.expired == 1 and len(cache.store.keys()) == 6
    per_entry = cache.store.payload_path(CacheManager.asr_key("9" * 64, CONFIG))
    size = per_entry.stat().st_size
    capped = cleanup(cache, max_bytes=1000 + 3 * size + 10)
    assert capped.payloads.evicted_for_size == 3
    survivors = cache.store.keys()
    assert CacheManager.asr_key("9" * 64, CONFIG).digest in survivors  # costly one outlives
    assert (tmp_path / "models" / "whisperx" / "big" / "model.bin").exists()
    assert capped.payloads.bytes_after <= 1000 + 3 * size + 10
    cache.get_asr_result("9" * 64, CONFIG)
    kept = cleanup(cache, max_bytes=1 << 40, keep_top=1)
    assert kept.payloads.evicted_by_usage == 2
    assert cache.store.keys() == {CacheManager.asr_key("9" * 64, CONFIG).digest}


CAP, ENTRY_MAX = 40_000, 2_000


def _cleaner(cache_dir: str, rounds: int) -> None:
    cache = CacheManager(cache_dir)
    for _ in range(rounds):
        report = cleanup(cache, max_bytes=CAP)
        # Serialised cleanups each see the other's result: none trims far below the cap.
        assert (
            report.payloads.evicted_for_size == 0 or report.payloads.bytes_after > CAP - ENTRY_MAX
        )


def _writer(cache_dir: str, prefix: str, count: int) -> None:
    cache = CacheManager(cache_dir)
    for i in range(count):
        cache.set_asr_result(f"{prefix}{i:060d}", CONFIG, _result(50), compute_seconds=5.0)
        assert cache.get_asr_result(f"{prefix}{i:060d}", CONFIG) in (None, _result(50))


def test_two_cleanups_and_writers_at_once(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    for i in range(100):
        cache.set_asr_result(f"seed{i:060d}", CONFIG, _result(50), compute_seconds=1.0)
    run_in_processes(
        *[(_cleaner, (str(tmp_path), 5))] * 2,
        *[(_writer, (str(tmp_path), p, 40)) for p in ("wa", "wb")],
    )
    report = validate(cache.store)
    assert report.ok, report.problems
    final = cleanup(cache, max_bytes=CAP)
    total = sum(r.bytes for r in stats(cache).layers)
    assert total == final.payloads.bytes_after
    assert CAP - ENTRY_MAX < total <= CAP  # the cap holds, and is not over-trimmed


def test_clear_layers_and_keep_models(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    cache.set_asr_result("a" * 64, CONFIG, _result())
    (tmp_path / "models" / "whisperx" / "m").mkdir(parents=True)
    (tmp_path / "models" / "whisperx" / "m" / "model.bin").write_bytes(b"m")
    assert clear(cache, ("asr",)) == {"asr": 1}
    assert not (tmp_path / "asr").exists() and cache.store.keys() == set()
    assert (tmp_path / "models" / "whisperx" / "m" / "model.bin").exists()
    assert clear(cache, ("models",)) == {"models": 1}
    assert not (tmp_path / "models").exists()


def test_invalidate_cascades_but_keeps_glossary(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    from cache_store import CacheKey

    cache.set_asr_result("a" * 64, CONFIG, _result())
    cache.set_asr_result("b" * 64, CONFIG, _result())
    cache.store.put(CacheKey.build(Layer.FINGERPRINTS, audio_hash="a" * 64), {"x": 1})
    cache.store.put(CacheKey.build(Layer.TRANSLATIONS, audio_hash="a" * 64, target="hi"), {"y": 2})
    (tmp_path / "glossary_learned" / "film").mkdir(parents=True)
    (tmp_path / "glossary_learned" / "film" / "terms.json").write_text("{}")
    counts = invalidate(cache, "a" * 64)
    assert counts == {"fingerprints": 1, "asr": 1, "translations": 1}
    assert cache.get_asr_result("a" * 64, CONFIG) is None
    assert cache.get_asr_result("b" * 64, CONFIG) is not None
    assert (tmp_path / "glossary_learned" / "film" / "terms.json").exists()


def test_list_largest_includes_models(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    cache.set_asr_result("a" * 64, CONFIG, _result(10))
    cache.set_asr_result("b" * 64, CONFIG, _result(1000))
    (tmp_path / "models" / "whisperx" / "big").mkdir(parents=True)
    (tmp_path / "models" / "whisperx" / "big" / "model.bin").write_bytes(b"m" * 100_000)
    top = list_largest(cache.store, top=2)
    assert top[0] == ("models", "whisperx/big", 100_000)
    assert top[1][1] == CacheManager.asr_key("b" * 64, CONFIG).digest


def test_validate_finds_and_fixes_damage(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    for c in "abcd":
        cache.set_asr_result(c * 64, CONFIG, _result())
    paths = {c: cache.store.payload_path(cache.asr_key(c * 64, CONFIG)) for c in "abcd"}
    raw = bytearray(paths["a"].read_bytes())
    raw[-5] ^= 1
    paths["a"].write_bytes(bytes(raw))  # corrupted
    paths["b"].unlink()  # missing
    with cache.store.session() as s:
        s.delete([paths["c"].stem])  # orphan (valid payload, no row)
    temp = tmp_path / "asr" / ".x.json.1.tmp"
    temp.write_text("partial")
    os.utime(temp, (0, 0))
    report = validate(cache.store)
    kinds = sorted(p.kind for p in report.problems)
    assert kinds == ["corrupted", "missing payload", "orphan payload", "stale temp file"]
    fixed = validate(cache.store, fix=True)
    assert fixed.fixed and validate(cache.store).ok
    assert cache.get_asr_result("c" * 64, CONFIG) is not None  # adopted
    assert cache.get_asr_result("d" * 64, CONFIG) is not None
    assert list((tmp_path / "quarantine" / "asr").iterdir())


def test_rebuild_index_from_payloads_alone(tmp_path: Path) -> None:
    cache = CacheManager(tmp_path)
    for c in "abc":
        cache.set_asr_result(c * 64, CONFIG, _result(), compute_seconds=7.0)
    before = cache.store.keys()
    cache.store.local.index.path.write_bytes(b"this is not a database")
    assert rebuild_index(CacheManager(tmp_path)) == (3, 0)
    fresh = CacheManager(tmp_path)
    assert fresh.store.keys() == before
    assert validate(fresh.store).ok
    assert fresh.store.get(fresh.asr_key("a" * 64, CONFIG)).saved_seconds == 7.0
