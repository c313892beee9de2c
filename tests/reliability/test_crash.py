"""SIGKILL a writer at random points in a payload write, an index update, a cleanup and an
import; after each kill the store opens, no payload is wrong, and nothing corrupt is served."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest

from cache_manager import CacheManager, cleanup, export_archive, import_archive
from cache_store import validate

from ._entries import acknowledge, acknowledged, audio, put, served
from .conftest import FULL, Record

KILLS = 200 if FULL else 50
ROUND = 25
KINDS = ("payload write", "index update", "cleanup", "import")


def _work(root: str, kind: str, cycle: int, archive: str, folder: str) -> None:
    """Do one kind of write over and over until killed."""
    cache = CacheManager(root)
    log = Path(folder) / f"acked-{cycle}.log"
    n = 0
    while True:
        if kind in ("payload write", "index update"):
            key = audio(f"c{cycle}", n)
            put(cache, key)
            acknowledge(log, key)
            if kind == "index update":
                with cache.store.session():  # applies the journals to index.duckdb
                    pass
        elif kind == "cleanup":
            cleanup(cache, max_bytes=1 << 40, days=90)
        else:
            import_archive(cache, Path(archive))
        n += 1


@pytest.mark.timeout(1800 if FULL else 900)
def test_kills_at_random_points_never_leave_a_wrong_entry(tmp_path: Path, record: Record) -> None:
    rng = random.Random(1234)
    ctx = multiprocessing.get_context("fork")
    lost = corrupt = 0
    for cycle in range(KILLS):
        if cycle % ROUND == 0:  # a fresh store now and then: checking all of it after every
            root = tmp_path / f"cache{cycle // ROUND}"  # kill would grow quadratically
            acked = tmp_path / f"acked{cycle // ROUND}"
            acked.mkdir()
            then = CacheManager(root).store.now() - timedelta(days=200)
            old = CacheManager(root, clock=lambda then=then: then)
            imported: list[str] = []
        kind = KINDS[cycle % len(KINDS)]
        archive = tmp_path / "archive.tar.gz"
        if kind == "cleanup":  # something old for it to expire
            for i in range(150):
                put(old, audio(f"old{cycle}", i))
        elif kind == "import":  # entries this cache does not have yet
            colleague = CacheManager(tmp_path / f"colleague{cycle}")
            fresh = [audio(f"imp{cycle}", i) for i in range(60)]
            for key in fresh:
                put(colleague, key)
            export_archive(colleague, archive)
            imported.extend(fresh)
        worker = ctx.Process(target=_work, args=(str(root), kind, cycle, str(archive), str(acked)))
        worker.start()
        time.sleep(rng.uniform(0.05, 0.6))
        assert worker.pid is not None and worker.is_alive(), f"{kind} worker died on its own"
        os.kill(worker.pid, signal.SIGKILL)
        worker.join()

        cache = CacheManager(root)  # opens
        report = validate(cache.store)
        wrong = [p for p in report.problems if p.kind == "corrupted"]
        assert wrong == [], f"after a kill in {kind}: {wrong}"
        outcomes = [served(cache, key) for key in acknowledged(acked)]
        lost += outcomes.count("miss")
        corrupt += outcomes.count("corrupt")
        corrupt += sum(served(cache, key) == "corrupt" for key in imported)
        assert (lost, corrupt) == (0, 0), f"after a kill in {kind}: {lost} lost, {corrupt} corrupt"
    record("crash", cases=KILLS, faults=KILLS, lost=lost, corrupt_served=corrupt)
    assert validate(CacheManager(root).store, fix=True).fixed
    final = validate(CacheManager(root).store)
    assert final.ok, final.problems
