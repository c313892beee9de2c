"""Eight processes hammer one cache dir with mixed set, get, cleanup, stats and import."""

from __future__ import annotations

import multiprocessing
import random
import time
import traceback
from datetime import timedelta
from pathlib import Path

from cache_manager import CacheManager, cleanup, export_archive, import_archive, stats
from cache_store import validate

from ._entries import acknowledge, acknowledged, audio, put, served
from .conftest import FULL, Record

PROCESSES = 8
SECONDS = 60 if FULL else 15
OPS = ("set", "get", "cleanup", "stats", "import")
WEIGHTS = (40, 40, 4, 10, 6)


def _hammer(root: str, archive: str, seconds: float, seed: int, folder: str) -> None:
    rng = random.Random(seed)
    cache = CacheManager(root)
    log = Path(folder) / f"acked-{seed}.log"
    mine: list[str] = []
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        op = rng.choices(OPS, WEIGHTS)[0]
        try:
            if op == "set":
                key = audio(f"w{seed}", len(mine))
                put(cache, key)
                acknowledge(log, key)
                mine.append(key)
            elif op == "get" and mine:
                key = rng.choice(mine)
                outcome = served(cache, key)
                if outcome != "hit":
                    raise AssertionError(f"acknowledged entry {key[:12]} read back as {outcome}")
            elif op == "cleanup":
                cleanup(cache, max_bytes=1 << 40, days=90)  # expires the old seeds only
            elif op == "stats":
                stats(cache)
            elif op == "import":
                import_archive(cache, Path(archive))
            done += 1
        except Exception:
            with (Path(folder) / f"errors-{seed}.log").open("a") as fh:
                fh.write(f"{op}: {traceback.format_exc()}\n")
    (Path(folder) / f"ops-{seed}.log").write_text(str(done))


def test_eight_processes_lose_nothing_and_leave_a_valid_store(
    tmp_path: Path, record: Record
) -> None:
    root = tmp_path / "cache"
    then = CacheManager(root).store.now() - timedelta(days=200)
    old = CacheManager(root, clock=lambda: then)
    seeds = [audio("seed", i) for i in range(200)]
    for key in seeds:
        put(old, key)
    shared = CacheManager(tmp_path / "colleague")
    imported = [audio("imported", i) for i in range(50)]
    for key in imported:
        put(shared, key)
    archive = tmp_path / "colleague.tar.gz"
    export_archive(shared, archive)

    ctx = multiprocessing.get_context("fork")
    procs = [
        ctx.Process(target=_hammer, args=(str(root), str(archive), SECONDS, seed, str(tmp_path)))
        for seed in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=SECONDS + 240)
        assert p.exitcode == 0, f"{p.name} exited {p.exitcode}"

    errors = "".join(log.read_text() for log in tmp_path.glob("errors-*.log"))
    operations = sum(int(log.read_text()) for log in tmp_path.glob("ops-*.log"))
    cache = CacheManager(root)
    acked = acknowledged(tmp_path)
    outcomes = [served(cache, key) for key in (*acked, *imported)]
    report = validate(cache.store)
    record(
        "concurrency",
        cases=operations,
        faults=0,
        lost=outcomes.count("miss"),
        corrupt_served=outcomes.count("corrupt"),
    )
    assert errors == ""
    assert len(acked) > 100 and outcomes.count("hit") == len(outcomes)
    assert report.ok, report.problems
    assert all(served(cache, key) == "miss" for key in seeds)  # cleanup ran, and expired them
