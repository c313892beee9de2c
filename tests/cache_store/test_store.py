from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from cache_store import IndexDamagedError, Outcome, SourceStat, Store, asr_key, read_verified
from testkit import run_in_processes

from ..conftest import Clock

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "en", "beam_size": 5}
RESULT = {"language": "en", "segments": [{"start": 0.0, "end": 1.5, "text": "hello"}]}


def test_miss_reason_names_changed_setting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = Store(tmp_path)
    cache.put(asr_key("a" * 64, CONFIG), RESULT)
    lookup = cache.get(asr_key("a" * 64, {**CONFIG, "beam_size": 1}))
    assert lookup.outcome is Outcome.MISS
    assert lookup.reason == "config changed: beam_size 5 -> 1"
    assert "ASR cache MISS" in caplog.text
    assert cache.get(asr_key("b" * 64, CONFIG)).reason == "new content"


def test_expired_after_ttl_with_injected_clock(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    cache = Store(tmp_path, ttl_days=90, clock=clock)
    cache.put(asr_key("a" * 64, CONFIG), RESULT)
    clock.now += timedelta(days=89)
    assert cache.get(asr_key("a" * 64, CONFIG)).data == RESULT
    clock.now += timedelta(days=2)
    lookup = cache.get(asr_key("a" * 64, CONFIG))
    assert lookup.outcome is Outcome.EXPIRED
    assert "ASR cache EXPIRED" in caplog.text
    assert not list((tmp_path / "asr").rglob("*.json"))
    assert cache.get(lookup.key).outcome is Outcome.MISS


def test_corrupted_payload_is_quarantined_never_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = Store(tmp_path)
    cache.put(asr_key("a" * 64, CONFIG), RESULT)
    key = asr_key("a" * 64, CONFIG)
    payload = cache.payload_path(key)
    payload.write_bytes(payload.read_bytes().replace(b'"hello"', b'"tampered"'))
    lookup = cache.get(key)
    assert lookup.outcome is Outcome.CORRUPTED and lookup.data is None
    assert "checksum mismatch" in lookup.reason
    assert "CORRUPTED" in caplog.text
    assert not payload.exists()
    assert len(list((tmp_path / "quarantine" / "asr").iterdir())) == 1
    assert cache.get(key).outcome is Outcome.MISS


def test_missing_payload_is_a_miss(tmp_path: Path) -> None:
    cache = Store(tmp_path)
    cache.put(asr_key("a" * 64, CONFIG), RESULT)
    key = asr_key("a" * 64, CONFIG)
    cache.payload_path(key).unlink()
    assert cache.get(key).outcome is Outcome.CORRUPTED


def test_disabled_cache_bypasses_reads_but_keeps_writing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    Store(tmp_path).put(asr_key("a" * 64, CONFIG), RESULT)
    off = Store(tmp_path, enabled=False, bypass_reason="--no-cache")
    lookup = off.get(asr_key("a" * 64, CONFIG))
    assert lookup.outcome is Outcome.BYPASSED
    assert "BYPASSED" in caplog.text and "--no-cache" in caplog.text
    off.put(asr_key("b" * 64, CONFIG), RESULT)
    assert Store(tmp_path).get(asr_key("b" * 64, CONFIG)).data == RESULT


def test_stat_fast_path_invalidated_by_any_change(tmp_path: Path) -> None:
    cache = Store(tmp_path / "cache")
    media = tmp_path / "film.mp4"
    media.write_bytes(b"x" * 100)
    cache.sources.record(media, SourceStat.of(media), "h" * 64)
    assert cache.sources.audio_hash_for(SourceStat.of(media)) == "h" * 64
    stat = media.stat()
    import os

    os.utime(media, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache.sources.audio_hash_for(SourceStat.of(media)) is None
    cache.sources.record(media, SourceStat.of(media), "h" * 64)
    with open(media, "ab") as fh:
        fh.write(b"y")
    assert cache.sources.audio_hash_for(SourceStat.of(media)) is None


def _writer(cache_dir: str, prefix: str, count: int) -> None:
    cache = Store(cache_dir)
    for i in range(count):
        cache.put(asr_key(f"{prefix}{i:060d}", CONFIG), RESULT)


def test_two_processes_write_one_cache_dir(tmp_path: Path) -> None:
    run_in_processes(*[(_writer, (str(tmp_path), p, 60)) for p in ("aaaa", "bbbb")])
    cache = Store(tmp_path)
    assert len(cache.keys()) == 120
    for prefix in ("aaaa", "bbbb"):
        for i in range(60):
            assert cache.get(asr_key(f"{prefix}{i:060d}", CONFIG)).data == RESULT


def test_remove_spares_an_entry_rewritten_since_it_was_seen(tmp_path: Path) -> None:
    cache = Store(tmp_path)
    key = asr_key("a" * 64, CONFIG)
    cache.put(asr_key("a" * 64, CONFIG), RESULT)
    _, old = read_verified(cache.payload_path(key))
    cache.put(asr_key("a" * 64, CONFIG), {**RESULT, "language": "en"})
    assert cache.remove([(key.digest, cache.payload_rel(key), old)]) == []
    assert cache.get(asr_key("a" * 64, CONFIG)).data == {**RESULT, "language": "en"}
    _, new = read_verified(cache.payload_path(key))
    assert cache.remove([(key.digest, cache.payload_rel(key), new)]) == [key.digest]
    assert cache.keys() == set() and not cache.payload_path(key).exists()


def test_damaged_index_names_the_fix_and_hits_still_serve(tmp_path: Path) -> None:
    cache = Store(tmp_path)
    cache.put(asr_key("a" * 64, CONFIG), RESULT)
    cache.keys()  # apply the journal, so the index file exists
    cache.local.index.path.write_bytes(b"\x00garbage" * 100)
    assert cache.get(asr_key("a" * 64, CONFIG)).data == RESULT  # hits never open the index
    with pytest.raises(IndexDamagedError, match="cpwx cache rebuild-index"):
        cache.get(asr_key("b" * 64, CONFIG))


def _hold_then_die(root: str, ready: str) -> None:
    import os
    import signal

    store = Store(Path(root))
    with store.single_flight(asr_key("a" * 64, {"model": "m"})):
        Path(ready).touch()
        os.kill(os.getpid(), signal.SIGKILL)  # a crash while computing: no clean-up runs


def test_a_crashed_single_flight_holder_does_not_block_the_next_job(tmp_path: Path) -> None:
    import multiprocessing
    import time

    ready = tmp_path / "holding"
    holder = multiprocessing.get_context("spawn").Process(
        target=_hold_then_die, args=(str(tmp_path / "cache"), str(ready))
    )
    holder.start()
    holder.join(timeout=60)
    assert ready.exists() and holder.exitcode == -9
    store = Store(tmp_path / "cache")
    started = time.perf_counter()
    with store.single_flight(asr_key("a" * 64, {"model": "m"})) as waited:
        assert waited < 1.0
    assert time.perf_counter() - started < 1.0


def test_a_schema_2_index_drops_its_art_and_keeps_every_row(tmp_path: Path) -> None:
    import duckdb

    cache = Store(tmp_path)
    for i in range(3):
        cache.put(asr_key(f"{i}" * 64, {"model": "m"}), {"segments": []})
    with cache.session():
        pass
    con = duckdb.connect(str(tmp_path / "index.duckdb"))  # as schema 2 made it
    con.execute("ALTER TABLE cache_index ADD PRIMARY KEY (cache_key)")
    con.execute("CREATE INDEX idx_audio_hash ON cache_index(audio_hash)")
    con.close()
    reopened = Store(tmp_path)
    with reopened.session() as s:
        assert len(s.rows()) == 3
        keyed = s.con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'cache_index' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchone()
        indexes = s.con.execute(
            "SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'cache_index'"
        ).fetchone()
    assert keyed == (0,) and indexes == (0,)
    assert reopened.get(asr_key("0" * 64, {"model": "m"})).data == {"segments": []}
