"""The shared team cache: hit latency local against shared, and writer throughput on one host
and on two, measured side by side in one run on real services (Debian PostgreSQL and
moto_server on loopback, started here with temporary data).

    .venv/bin/python benchmarks/shared.py [--lookups 100] [--entries 100] [--segments 400]

Entries are ASR transcripts of ``--segments`` segments (a 400-segment transcript is about an
hour of film, ~90 KB). A *shared hit* is a lookup on a host that has never seen the entry: it
reads the object from S3, verifies it and backfills the host's disk. *Writers* are processes,
each with its own CacheManager, storing ``--entries`` transcripts each; "two hosts" are two
cache dirs on this machine sharing one backend (so they share its two cores too).
"""

from __future__ import annotations

import argparse
import multiprocessing
import multiprocessing.synchronize
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cache_manager import CacheManager
from testkit import SPOKEN, moto_s3, postgres, shared_level, team_env


def _store(env: dict[str, str] | None, root: Path) -> CacheManager:
    return CacheManager(root, shared=shared_level(env, root) if env else None)


def _transcript(n: int, salt: int) -> dict[str, object]:
    words = SPOKEN.split()
    return {
        "language": "en",
        "segments": [
            {
                "start": i * 4.0,
                "end": i * 4.0 + 3.5,
                "text": " ".join(words[(i + salt + k) % len(words)] for k in range(12)),
                "avg_logprob": -0.2,
            }
            for i in range(n)
        ],
    }


def _key_args(i: int, writer: int = 0) -> tuple[str, dict[str, object]]:
    return f"{writer:04d}{i:060d}", {"model": "tiny.en", "beam_size": 5}


def _write(
    env: dict[str, str] | None,
    root: str,
    writer: int,
    count: int,
    segments: int,
    start: multiprocessing.synchronize.Barrier,
) -> None:
    store = _store(env, Path(root))
    start.wait()
    for i in range(count):
        store.set_asr_result(*_key_args(i, writer), _transcript(segments, i), compute_seconds=60)


def _writers(
    env: dict[str, str] | None, roots: list[Path], per_host: int, count: int, segments: int
) -> float:
    """Entries stored per second by ``per_host`` processes on each root, released at once (the
    processes' start-up is not counted)."""
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(len(roots) * per_host + 1)
    procs = [
        ctx.Process(target=_write, args=(env, str(root), h * per_host + w, count, segments, start))
        for h, root in enumerate(roots)
        for w in range(per_host)
    ]
    for p in procs:
        p.start()
    start.wait()
    started = time.perf_counter()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a writer exited {p.exitcode}")
    return len(procs) * count / (time.perf_counter() - started)


def _median_ms(fn: Callable[[int], object], n: int) -> tuple[float, float]:
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lookups", type=int, default=100)
    ap.add_argument("--entries", type=int, default=100, help="per writer process")
    ap.add_argument("--segments", type=int, default=400)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-bench-shared-"))
    with postgres() as pg, moto_s3() as s3:
        env = team_env(pg, s3, "bench")
        os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})
        a = _store(env, work / "a")
        for i in range(args.lookups):
            a.set_asr_result(*_key_args(i), _transcript(args.segments, i), compute_seconds=60)
        size = a.store.payload_path(a.asr_key(*_key_args(0))).stat().st_size

        def local(i: int) -> None:
            assert a.store.get(a.asr_key(*_key_args(i))).hit

        def shared(i: int) -> None:  # a host that never saw the entry
            b = _store(env, work / f"b{i}")
            assert b.store.get(b.asr_key(*_key_args(i))).reason == "from the shared cache"

        only = _store(None, work / "a")

        def miss_local(i: int) -> None:
            assert not only.store.get(only.asr_key(*_key_args(i + 10**6))).hit

        def miss_shared(i: int) -> None:
            assert not a.store.get(a.asr_key(*_key_args(i + 10**6))).hit

        rows = [
            ("hit, local disk", *_median_ms(local, args.lookups)),
            ("hit, shared (S3 + backfill)", *_median_ms(shared, args.lookups)),
            ("miss, local only", *_median_ms(miss_local, args.lookups)),
            ("miss, local then shared", *_median_ms(miss_shared, args.lookups)),
        ]
        base = rows[0][1]
        print(f"\n### Lookup latency ({args.lookups} lookups, {size / 1024:.0f} KB transcripts)\n")
        print("| lookup | median ms | p95 ms | median vs local hit |")
        print("|---|---:|---:|---:|")
        for name, median, p95 in rows:
            print(f"| {name} | {median:.2f} | {p95:.2f} | {median / base:.1f}x |")

        n = args.entries
        plans = [
            ("local only: 4 writers, one host", None, ["w-local"], 4),
            ("shared: 4 writers, one host", team_env(pg, s3), ["w1"], 4),
            ("shared: 4 writers on each of two hosts", team_env(pg, s3), ["w2a", "w2b"], 4),
        ]
        results = [
            (name, _writers(e, [work / r for r in roots], per, n, args.segments))
            for name, e, roots, per in plans
        ]
        print(f"\n### Writer throughput ({n} transcripts per writer, write-through)\n")
        print("| writers | entries/s | vs local only |")
        print("|---|---:|---:|")
        for name, rate in results:
            print(f"| {name} | {rate:.0f} | {rate / results[0][1]:.2f}x |")
    print(
        f"\n{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        "PostgreSQL and moto_server on loopback"
    )


if __name__ == "__main__":
    main()
