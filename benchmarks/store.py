"""Store speed at scale, measured side by side in one run.

    .venv/bin/python benchmarks/store.py [--entries 1000000] [--expired 100000]

1. An index of N entries (rows bulk-loaded, payload files written for the entries touched):
   lookup latency (hits, and misses that consult the index), ``stats``, and a cleanup that
   expires ``--expired`` entries.
2. 8 processes each doing 500 mixed set/get on one fresh cache dir, against one process doing
   the same alone: errors, lost entries, aggregate throughput.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

import cache_manager as cm
from cache_manager import CacheManager
from cache_store import COLUMNS, encode

CONFIG = {"model": "tiny.en", "model_version": "v1", "language": "hi", "beam_size": 5}
SEGMENTS = [{"start": float(i), "end": i + 0.9, "text": f"line {i} of dialogue"} for i in range(40)]


def _entry(cache: CacheManager, i: int, created: datetime) -> tuple[dict[str, object], bytes]:
    key = cache.asr_key(f"{i:064x}", CONFIG)
    raw, checksum = encode(
        {
            "cache_key": key.digest,
            "layer": key.layer,
            "key_parts": dict(key.parts),
            "created_at": created.isoformat() + "Z",
            "ttl_days": 90,
            "compute_seconds": 30.0,
            "data": {"segments": SEGMENTS},
        }
    )
    row = {
        "cache_key": key.digest,
        "cache_type": "asr",
        "audio_hash": f"{i:064x}",
        "file_path": cache.store.payload_rel(key),
        "file_size": len(raw),
        "checksum": checksum,
        "created_at": created,
        "last_accessed": created,
        "access_count": 1,
        "ttl_days": 90,
        "compute_seconds": 30.0,
        "metadata": "{}",
    }
    return row, raw


def build(cache: CacheManager, entries: int, expired: int, sample: list[int]) -> None:
    """Bulk-load rows; write payload files only for sampled and expired entries."""
    now = cache.store.now()
    with_files = set(sample) | set(range(expired))
    batch: list[dict[str, object]] = []
    for shard in range(256):
        (cache.root / "asr" / f"{shard:02x}").mkdir(parents=True, exist_ok=True)

    def flush() -> None:
        with cache.store.session() as s, s.registered("bulk", pa.Table.from_pylist(batch)):
            s.con.execute(
                f"INSERT INTO cache_index ({', '.join(COLUMNS)}) "
                f"SELECT {', '.join(COLUMNS)} FROM bulk"
            )
        batch.clear()

    for i in range(entries):
        created = now - timedelta(days=200) if i < expired else now - timedelta(days=1)
        row, raw = _entry(cache, i, created)
        batch.append(row)
        if i in with_files:
            (cache.root / str(row["file_path"])).write_bytes(raw)
        if len(batch) == 100_000:
            flush()
    if batch:
        flush()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def scale(entries: int, expired: int, work: Path) -> list[tuple[str, str, str]]:
    cache = CacheManager(work / "big")
    rng = random.Random(1)
    sample = rng.sample(range(expired, entries), 2000)
    t = time.perf_counter()
    build(cache, entries, expired, sample)
    built = time.perf_counter()
    print(f"  built {entries:,} rows in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    hits = []
    for i in sample:
        t = time.perf_counter()
        assert cache.store.get(cache.asr_key(f"{i:064x}", CONFIG)).hit
        hits.append(time.perf_counter() - t)
    misses = []
    for i in range(200):
        t = time.perf_counter()
        assert not cache.store.get(cache.asr_key(f"{entries + i:064x}", CONFIG)).hit
        misses.append(time.perf_counter() - t)
    # Expired entries are old: give the new files the kernel's dirty-expiry time (30 s) to be
    # written back, as they would have been, before timing their removal.
    os.sync()
    time.sleep(max(0.0, 35 - (time.perf_counter() - built)))
    t = time.perf_counter()
    report = cm.stats(cache)
    stats_s = time.perf_counter() - t
    assert report.layers[2].entries == entries
    t = time.perf_counter()
    cleaned = cm.cleanup(cache, max_bytes=1 << 50)
    cleanup_s = time.perf_counter() - t
    assert cleaned.payloads.expired == expired, cleaned
    return [
        (
            f"get, hit ({entries:,} entries)",
            f"p50 {pct(hits, 0.5):.2f} ms, p99 {pct(hits, 0.99):.2f} ms",
            "p50 <= 2 ms, p99 <= 10 ms",
        ),
        (
            "get, miss (explained from the index)",
            f"p50 {pct(misses, 0.5):.1f} ms, p99 {pct(misses, 0.99):.1f} ms",
            "-",
        ),
        ("stats", f"{stats_s:.2f} s", "<= 1 s"),
        (
            f"cleanup of {expired:,} expired entries (files written back)",
            f"{cleanup_s:.2f} s",
            "<= 10 s",
        ),
    ]


def _worker(cache_dir: str, worker: int, ops: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    cache = CacheManager(cache_dir)
    errors = 0
    written = []
    t = time.perf_counter()
    for n in range(ops):
        audio = f"{worker:08x}{n:056x}"
        try:
            if n % 2 == 0:
                cache.set_asr_result(audio, CONFIG, {"segments": SEGMENTS}, compute_seconds=1.0)
                written.append(audio)
            else:
                got = cache.get_asr_result(written[-1], CONFIG)
                errors += got is None
        except Exception:
            errors += 1
    out.put((worker, time.perf_counter() - t, errors, written))


def concurrency(work: Path, procs: int, ops: int) -> list[tuple[str, str, str]]:
    rows = []
    throughput = {}
    for n in (1, procs):
        cache_dir = work / f"conc{n}"
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        workers = [
            ctx.Process(target=_worker, args=(str(cache_dir), w, ops, queue)) for w in range(n)
        ]
        t = time.perf_counter()
        for w in workers:
            w.start()
        results = [queue.get(timeout=600) for _ in workers]
        for w in workers:
            w.join()
        wall = time.perf_counter() - t
        errors = sum(r[2] for r in results)
        cache = CacheManager(cache_dir)
        lost = sum(1 for r in results for a in r[3] if cache.get_asr_result(a, CONFIG) is None)
        throughput[n] = n * ops / wall
        rows.append(
            (
                f"{n} process(es) x {ops} mixed set/get",
                f"{throughput[n]:.0f} ops/s, {errors} errors, {lost} lost",
                "0 errors, 0 lost",
            )
        )
    rows.append(
        (
            f"aggregate throughput, {procs} vs 1",
            f"{throughput[procs] / throughput[1]:.2f}x",
            "report",
        )
    )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--expired", type=int, default=100_000)
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--ops", type=int, default=500)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-store-bench-"))
    try:
        rows = scale(args.entries, args.expired, work) + concurrency(work, args.procs, args.ops)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nStore benchmark, {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}\n")
    print("| measure | result | target |\n|---|---|---|")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")


if __name__ == "__main__":
    main()
