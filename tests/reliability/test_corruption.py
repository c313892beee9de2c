"""Random bytes flipped in 100 payloads and in the index file: all of it detected, damaged
entries become misses and go to quarantine, and the index is rebuilt from the payloads."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from cache_manager import CacheManager, rebuild_index
from cache_store import IndexDamagedError, validate

from ._entries import CONFIG, audio, put, served
from .conftest import FULL, Record

PAYLOADS = 100
INDEX_TRIALS = 40 if FULL else 15


def _flip(path: Path, rng: random.Random, flips: int) -> None:
    data = bytearray(path.read_bytes())
    for _ in range(flips):
        data[rng.randrange(len(data))] ^= rng.randrange(1, 256)
    path.write_bytes(bytes(data))


def test_flipped_payload_bytes_are_always_detected_and_quarantined(
    tmp_path: Path, record: Record
) -> None:
    rng = random.Random(99)
    cache = CacheManager(tmp_path)
    keys = [audio("entry", i) for i in range(PAYLOADS + 50)]
    for key in keys:
        put(cache, key)
    damaged = rng.sample(keys, PAYLOADS)
    for key in damaged:
        _flip(cache.store.payload_path(cache.asr_key(key, CONFIG)), rng, rng.randint(1, 8))

    outcomes = {key: served(cache, key) for key in keys}
    quarantined = [p for p in cache.store.quarantine_dir.rglob("*") if p.is_file()]
    detected = sum(outcomes[key] == "miss" for key in damaged)
    record(
        "corruption: payloads",
        cases=len(keys),
        faults=PAYLOADS,
        lost=sum(outcomes[k] != "hit" for k in keys if k not in damaged),
        corrupt_served=sum(o == "corrupt" for o in outcomes.values()),
    )
    assert detected == PAYLOADS
    assert all(outcomes[k] == "hit" for k in keys if k not in damaged)
    assert len(quarantined) == PAYLOADS
    report = validate(cache.store, fix=True)  # the rows of the quarantined entries go too
    assert validate(cache.store).ok, report.problems


def test_a_damaged_index_is_detected_and_rebuilt_without_losing_an_entry(
    tmp_path: Path, record: Record
) -> None:
    rng = random.Random(7)
    pristine = tmp_path / "pristine"
    cache = CacheManager(pristine)
    keys = [audio("kept", i) for i in range(80)]
    for key in keys:
        put(cache, key)
    with cache.store.session():  # every row in index.duckdb
        pass
    lost = detected = 0
    for trial in range(INDEX_TRIALS):
        root = tmp_path / f"trial{trial}"
        shutil.copytree(pristine, root)
        _flip(root / "index.duckdb", rng, rng.randint(1, 10))
        damaged = CacheManager(root)
        with (
            pytest.raises(IndexDamagedError, match="cpwx cache rebuild-index"),
            damaged.store.session() as s,
        ):
            s.rows()
        detected += 1
        assert all(served(damaged, key) == "hit" for key in keys)  # hits need no index
        indexed, bad = rebuild_index(damaged)
        with damaged.store.session() as s:
            rows = {r.cache_key for r in s.rows()}
        lost += len(keys) - len(rows)
        assert (indexed, bad) == (len(keys), 0) and len(rows) == len(keys)
        assert validate(damaged.store).ok
        shutil.rmtree(root)
    record("corruption: index", cases=INDEX_TRIALS, faults=INDEX_TRIALS, lost=lost)
    assert detected == INDEX_TRIALS and lost == 0
