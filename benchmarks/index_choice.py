"""The shared cache index: PostgreSQL directly against DuckLake, measured side by side in one run.

    .venv/bin/python benchmarks/index_choice.py [--writers 4] [--rows 200] [--lookups 200]

A shared cache writes ONE index row per entry as soon as the entry is computed (one commit per
row, upsert semantics: a key computed twice keeps one row), from several processes on several
hosts at once, and looks keys up one at a time. The candidates for the index all hosts share:

* ``postgres``: a plain PostgreSQL table, ``cache_key`` its primary key, written with
  ``INSERT ... ON CONFLICT DO UPDATE`` in autocommit.
* ``ducklake``: DuckLake (DuckDB's lakehouse format) with its catalog in PostgreSQL and its data
  as Parquet on S3 (``moto_server`` here), with DuckLake's defaults. DuckLake has no primary keys
  and no ``ON CONFLICT``, so an upsert is ``DELETE`` + ``INSERT`` in one transaction. With the
  defaults, small inserts are *inlined*: the rows go into tables in the PostgreSQL catalog, not
  into Parquet (until ``ducklake_flush_inlined_data``).
* ``ducklake-parquet``: the same with inlining off (``data_inlining_row_limit`` 0), so that every
  commit writes its row as a Parquet file on S3: the layout the choice was first framed as.
* ``ducklake-append``: DuckLake's defaults, append-only (a plain ``INSERT`` per entry, no
  ``DELETE``): what a lake wants, with duplicates by design and the newest row read back
  (``ORDER BY created_at DESC LIMIT 1``).

Why these measurements decide the choice: the index must stay exact under concurrent one-row
commits from many hosts (no key lost, no key twice), every commit sits on the path of a finished
computation, and every cache lookup is a point read. PostgreSQL gives a primary key, row-level
locking and ``ON CONFLICT``; DuckLake is built for batched analytical writes: each commit is a
new snapshot in its catalog, conflicts are detected per table (so concurrent upserts into the one
table collide and must be retried), nothing enforces uniqueness, and without inlining each commit
adds objects to the bucket until compaction.

Each backend gets the same workload, on the same PostgreSQL cluster and the same S3 endpoint:

1. ``--writers`` spawned processes each upsert ``--rows`` rows, one commit per row, released at
   once by a barrier. Every ``--shared-every``-th key is the same in every writer (the same entry
   computed on several hosts), so writers race on those keys. Reported: connect time per writer
   (for DuckLake, loading the extensions and ATTACHing the lake), total rows/s, conflicts that
   reached the caller and were retried (DuckLake also retries commits internally, unseen here;
   see ``ducklake_max_retry_count``), rows that failed after every retry, keys lost (expected at
   the end but absent), and duplicate rows (a key present more than once).
2. Point lookups: ``--lookups`` single-key reads of random written keys from one warm connection
   after the writes; median and p95.
3. Objects in the bucket under the lake's data path after the writes (small-file growth).

The DuckDB extensions come from the PyPI packages ``duckdb-extension-{ducklake,postgres,httpfs}``
and are LOADed from their files (autoinstall and autoload off), so nothing is downloaded. The
postgres extension's file is named ``postgres.duckdb_extension`` but its entry point is
``postgres_scanner_duckdb_cpp_init`` (DuckDB derives it from the file name), so the files are
linked into a temporary folder under their entry-point names and loaded from there.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import multiprocessing
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from testkit import S3_ENV, moto_s3, postgres

BUCKET = "cpwx"
MAX_ATTEMPTS = 30  # per row, before it counts as failed
EXTENSIONS = {"httpfs": "httpfs", "postgres": "postgres_scanner", "ducklake": "ducklake"}
COLUMNS = (
    "cache_key",
    "cache_type",
    "audio_hash",
    "file_path",
    "file_size",
    "checksum",
    "created_at",
    "ttl_days",
    "compute_seconds",
    "key_parts",
    "host",
)

PG_TABLE = """CREATE TABLE cache_index (
    cache_key TEXT PRIMARY KEY,
    cache_type TEXT NOT NULL,
    audio_hash TEXT,
    file_path TEXT NOT NULL,
    file_size BIGINT,
    checksum TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    ttl_days INTEGER NOT NULL DEFAULT 90,
    compute_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    key_parts JSONB,
    host TEXT
)"""
PG_UPSERT = (
    f"INSERT INTO cache_index ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON CONFLICT (cache_key) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in COLUMNS[1:])
)
LAKE_TABLE = """CREATE TABLE lake.cache_index (
    cache_key TEXT NOT NULL,
    cache_type TEXT NOT NULL,
    audio_hash TEXT,
    file_path TEXT NOT NULL,
    file_size BIGINT,
    checksum TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    ttl_days INTEGER NOT NULL,
    compute_seconds DOUBLE NOT NULL,
    key_parts JSON,
    host TEXT
)"""
LAKE_INSERT = (
    f"INSERT INTO lake.cache_index ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(['?'] * len(COLUMNS))})"
)
LOOKUP = f"SELECT {', '.join(COLUMNS)} FROM {{table}} WHERE cache_key = {{mark}}"


@dataclass(frozen=True)
class Backend:
    """Everything a spawned writer needs to reach one backend (picklable)."""

    name: str
    pg_port: int
    database: str  # the table's database (postgres) or the DuckLake catalog's database
    s3_endpoint: str = ""
    ext_dir: str = ""
    inline_limit: int | None = None  # None: DuckLake's default; 0: every commit writes Parquet
    upsert: bool = True  # False: DuckLake append-only (plain INSERT), the newest row wins on read

    @property
    def is_lake(self) -> bool:
        return self.name != "postgres"

    @property
    def pg_url(self) -> str:
        return f"postgresql://cpwx@127.0.0.1:{self.pg_port}/{self.database}"

    @property
    def data_prefix(self) -> str:
        return f"{self.name}/"


@dataclass
class WriterResult:
    connect_s: float = 0.0
    start: float = 0.0
    end: float = 0.0
    conflicts: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # message -> times seen
    failures: list[str] = field(default_factory=list)  # the last error of each failed row


@dataclass
class Outcome:
    backend: str
    writers: list[WriterResult]
    rows_total: int
    rows_present: int
    distinct_present: int
    lost: int
    lookups_ms: list[float]
    objects: int | None
    object_bytes: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def rows_per_s(self) -> float:
        wall = max(w.end for w in self.writers) - min(w.start for w in self.writers)
        return self.rows_total / wall if wall > 0 else float("nan")


# -- the workload ---------------------------------------------------------------------------


def key_of(writer: int, row: int, shared_every: int) -> str:
    """Every ``shared_every``-th row is the same key in every writer; the rest are its own."""
    name = f"shared-{row}" if shared_every and row % shared_every == 0 else f"w{writer}-{row}"
    return hashlib.sha256(name.encode()).hexdigest()


def expected_keys(writers: int, rows: int, shared_every: int) -> set[str]:
    return {key_of(w, r, shared_every) for w in range(writers) for r in range(rows)}


def row_of(writer: int, row: int, shared_every: int) -> tuple[Any, ...]:
    key = key_of(writer, row, shared_every)
    audio = hashlib.sha256(f"audio-{row}".encode()).hexdigest()
    parts = {"layer": "asr", "audio_hash": audio, "model": "tiny.en", "beam_size": 5}
    return (
        key,
        "asr",
        audio,
        f"asr/{key[:2]}/{key}.json.zst",
        10_000 + row,
        hashlib.sha256(key.encode()).hexdigest(),
        datetime.now(UTC).replace(tzinfo=None),
        90,
        30.0 + writer,
        json.dumps(parts),
        f"{platform.node()}-w{writer}",
    )


# -- DuckLake plumbing ----------------------------------------------------------------------


def link_extensions(folder: Path) -> Path:
    """Link the PyPI packages' extension files under the names DuckDB derives entry points from."""
    import duckdb

    site = Path(duckdb.__file__).resolve().parents[1]
    for package, entry in EXTENSIONS.items():
        found = site / f"duckdb_extension_{package}" / "extensions" / f"v{duckdb.__version__}"
        target = found / f"{package}.duckdb_extension"
        if not target.is_file():
            raise RuntimeError(f"{target} is missing: pip install duckdb-extension-{package}")
        (folder / f"{entry}.duckdb_extension").symlink_to(target)
    return folder


def lake_connect(backend: Backend) -> Any:
    """A DuckDB connection with the lake ATTACHed as ``lake`` (creating it on first use)."""
    import duckdb

    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    con = duckdb.connect(config=config)
    for entry in EXTENSIONS.values():
        con.execute(f"LOAD '{Path(backend.ext_dir) / entry}.duckdb_extension'")
    host = backend.s3_endpoint.removeprefix("http://")
    con.execute(
        f"CREATE SECRET s3 (TYPE s3, KEY_ID '{S3_ENV['AWS_ACCESS_KEY_ID']}', "
        f"SECRET '{S3_ENV['AWS_SECRET_ACCESS_KEY']}', REGION '{S3_ENV['AWS_DEFAULT_REGION']}', "
        f"ENDPOINT '{host}', USE_SSL false, URL_STYLE 'path')"
    )
    dsn = f"dbname={backend.database} host=127.0.0.1 port={backend.pg_port} user=cpwx"
    data_path = f"s3://{BUCKET}/{backend.data_prefix}"
    con.execute(f"ATTACH 'ducklake:postgres:{dsn}' AS lake (DATA_PATH '{data_path}')")
    return con


def lake_upsert(con: Any, values: tuple[Any, ...]) -> None:
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM lake.cache_index WHERE cache_key = ?", [values[0]])
        con.execute(LAKE_INSERT, list(values))
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise


# -- writers (spawned processes) ------------------------------------------------------------


def _is_conflict(exc: BaseException) -> bool:
    import duckdb
    import psycopg

    if isinstance(exc, duckdb.TransactionException | psycopg.errors.SerializationFailure):
        return True
    if isinstance(exc, psycopg.errors.DeadlockDetected):
        return True
    text = str(exc).lower()
    return "conflict" in text or "retry" in text


def writer(
    backend: Backend,
    index: int,
    rows: int,
    shared_every: int,
    barrier: Any,
    results: Any,
) -> None:
    os.environ.update(S3_ENV)
    out = WriterResult()
    try:
        began = time.perf_counter()
        if backend.is_lake:
            con = lake_connect(backend)

            def upsert(values: tuple[Any, ...]) -> None:
                if backend.upsert:
                    lake_upsert(con, values)
                else:
                    con.execute(LAKE_INSERT, list(values))
        else:
            import psycopg
            from psycopg.types.json import Jsonb

            pg = psycopg.connect(backend.pg_url, autocommit=True)

            def upsert(values: tuple[Any, ...]) -> None:
                pg.execute(PG_UPSERT, (*values[:9], Jsonb(json.loads(values[9])), values[10]))

        out.connect_s = time.perf_counter() - began
        barrier.wait(timeout=120)
        out.start = time.time()
        for r in range(rows):
            values = row_of(index, r, shared_every)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    upsert(values)
                    break
                except Exception as exc:
                    text = " ".join(str(exc).split())
                    message = f"{type(exc).__name__}: {text[:600]}"
                    out.errors[message] = out.errors.get(message, 0) + 1
                    if attempt == MAX_ATTEMPTS or not _is_conflict(exc):
                        out.failed += 1
                        out.failures.append(f"after {attempt} attempts: {message}")
                        break
                    out.conflicts += 1
                    time.sleep(random.uniform(0, 0.01 * attempt))
        out.end = time.time()
        (con if backend.is_lake else pg).close()
    except Exception:
        out.failures.append(traceback.format_exc(limit=3))
        with contextlib.suppress(Exception):
            barrier.abort()
    results.put((index, out))


def run_writers(backend: Backend, writers: int, rows: int, shared_every: int) -> list[WriterResult]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(writers)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=writer, args=(backend, i, rows, shared_every, barrier, results))
        for i in range(writers)
    ]
    for p in procs:
        p.start()
    got = dict(results.get(timeout=600) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    return [got[i] for i in range(writers)]


# -- after the writes -----------------------------------------------------------------------


def time_lookups(run_one: Any, keys: list[str], n: int) -> list[float]:
    """Milliseconds per single-key lookup, after a few warm-up lookups; every key must hit."""
    rng = random.Random(7)
    for key in rng.sample(keys, min(5, len(keys))):
        run_one(key)
    times = []
    for _ in range(n):
        key = rng.choice(keys)
        began = time.perf_counter()
        found = run_one(key)
        times.append((time.perf_counter() - began) * 1000)
        if not found:
            raise RuntimeError(f"lookup missed a written key {key}")
    return times


def count_objects(endpoint: str, prefix: str) -> tuple[int, int]:
    import boto3  # type: ignore[import-untyped]

    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
    )
    count = size = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for obj in page.get("Contents", []):
            count += 1
            size += obj["Size"]
    return count, size


@dataclass
class ReadBack:
    total: int
    distinct: int
    present: set[str]
    lookups_ms: list[float]
    objects: int | None = None
    object_bytes: int | None = None


def create(backend: Backend) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://cpwx@127.0.0.1:{backend.pg_port}/cpwx") as admin:
        admin.autocommit = True
        admin.execute(f"CREATE DATABASE {backend.database}")
    if backend.is_lake:
        con = lake_connect(backend)
        con.execute(LAKE_TABLE)
        if backend.inline_limit is not None:
            option = "CALL lake.set_option('data_inlining_row_limit', ?)"
            con.execute(option, [backend.inline_limit])
        con.close()
    else:
        with psycopg.connect(backend.pg_url, autocommit=True) as pg:
            pg.execute(PG_TABLE)


def read_back_pg(backend: Backend, keys: list[str], lookups: int) -> ReadBack:
    import psycopg

    with psycopg.connect(backend.pg_url, autocommit=True) as pg:
        total, distinct = pg.execute(
            "SELECT count(*), count(DISTINCT cache_key) FROM cache_index"
        ).fetchone() or (0, 0)
        present = {k for (k,) in pg.execute("SELECT cache_key FROM cache_index")}
        query = LOOKUP.format(table="cache_index", mark="%s")
        cur = pg.cursor()
        times = time_lookups(
            lambda k: cur.execute(query, (k,), prepare=True).fetchall(), keys, lookups
        )
    return ReadBack(int(total), int(distinct), present, times)


def read_back_lake(backend: Backend, keys: list[str], lookups: int, notes: list[str]) -> ReadBack:
    con = lake_connect(backend)
    total, distinct = con.execute(
        "SELECT count(*), count(DISTINCT cache_key) FROM lake.cache_index"
    ).fetchone()
    present = {k for (k,) in con.execute("SELECT cache_key FROM lake.cache_index").fetchall()}
    query = LOOKUP.format(table="lake.cache_index", mark="?")
    if not backend.upsert:
        query += " ORDER BY created_at DESC LIMIT 1"
    out = ReadBack(
        int(total),
        int(distinct),
        present,
        time_lookups(lambda k: con.execute(query, [k]).fetchall(), keys, lookups),
    )
    snapshots = con.execute("SELECT count(*) FROM lake.snapshots()").fetchone()[0]
    notes.append(f"{snapshots} DuckLake snapshots in the catalog after the writes")
    out.objects, out.object_bytes = count_objects(backend.s3_endpoint, backend.data_prefix)
    if backend.inline_limit == 0:
        began = time.perf_counter()
        con.execute("CALL ducklake_merge_adjacent_files('lake')")
        merged = time.perf_counter() - began
        after = time_lookups(lambda k: con.execute(query, [k]).fetchall(), keys, lookups)
        objects, _ = count_objects(backend.s3_endpoint, backend.data_prefix)
        notes.append(
            f"ducklake_merge_adjacent_files took {merged:.1f} s; lookups after it: median "
            f"{statistics.median(after):.2f} ms, p95 {p95(after):.2f} ms; {objects} objects "
            "(the merged-away files stay until ducklake_expire_snapshots + "
            "ducklake_cleanup_old_files)"
        )
    con.close()
    return out


def measure(backend: Backend, args: argparse.Namespace, keys: set[str], on_log: Any) -> Outcome:
    create(backend)
    on_log(f"{backend.name}: {args.writers} writers x {args.rows} rows ...")
    results = run_writers(backend, args.writers, args.rows, args.shared_every)
    seen: dict[str, int] = {}
    for w in results:
        for message, times in w.errors.items():
            seen[message] = seen.get(message, 0) + times
    notes = [f"{times} x {message}" for message, times in sorted(seen.items())]
    notes.extend(
        f"writer {i} FAILED a row {failure.strip().splitlines()[-1]}"
        for i, w in enumerate(results)
        for failure in w.failures
    )
    if any(w.end == 0 for w in results):
        raise RuntimeError(f"{backend.name}: a writer did not finish: {notes}")

    on_log(f"{backend.name}: {args.lookups} lookups ...")
    key_list = sorted(keys)
    if backend.is_lake:
        back = read_back_lake(backend, key_list, args.lookups, notes)
    else:
        back = read_back_pg(backend, key_list, args.lookups)
    return Outcome(
        backend=backend.name,
        writers=results,
        rows_total=args.writers * args.rows,
        rows_present=back.total,
        distinct_present=back.distinct,
        lost=len(keys - back.present),
        lookups_ms=back.lookups_ms,
        objects=back.objects,
        object_bytes=back.object_bytes,
        notes=notes,
    )


# -- report ---------------------------------------------------------------------------------


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def ratio(value: float, base: float) -> str:
    return f"{value / base:.3g}x" if base > 0 else "-"


def table(outcomes: list[Outcome], expected: int) -> str:
    base = outcomes[0]
    head = (
        "| backend | writer connect s | rows/s | vs PG | conflicts retried | failed rows "
        f"| keys lost (of {expected}) | duplicate rows | lookup median ms | lookup p95 ms "
        "| median vs PG | S3 objects (MiB) |"
    )
    lines = [head, "|" + "---|" * 12]
    for o in outcomes:
        median = statistics.median(o.lookups_ms)
        objects = "-" if o.objects is None else f"{o.objects} ({(o.object_bytes or 0) / 2**20:.2f})"
        lines.append(
            f"| {o.backend} "
            f"| {statistics.median(w.connect_s for w in o.writers):.2f} "
            f"| {o.rows_per_s:.0f} | {ratio(o.rows_per_s, base.rows_per_s)} "
            f"| {sum(w.conflicts for w in o.writers)} | {sum(w.failed for w in o.writers)} "
            f"| {o.lost} | {o.rows_present - o.distinct_present} "
            f"| {median:.2f} | {p95(o.lookups_ms):.2f} "
            f"| {ratio(median, statistics.median(base.lookups_ms))} | {objects} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--writers", type=int, default=4, help="concurrent writer processes")
    ap.add_argument("--rows", type=int, default=200, help="rows each writer upserts")
    ap.add_argument(
        "--shared-every", type=int, default=10, help="every Nth key is shared by all writers"
    )
    ap.add_argument("--lookups", type=int, default=200)
    ap.add_argument(
        "--backends",
        default="postgres,ducklake,ducklake-parquet,ducklake-append",
        help="comma-separated; postgres first (the ratios are against the first)",
    )
    args = ap.parse_args()
    os.environ.update(S3_ENV)
    keys = expected_keys(args.writers, args.rows, args.shared_every)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    outcomes: list[Outcome] = []
    with (
        tempfile.TemporaryDirectory(prefix="cpwx-ext-") as ext,
        postgres() as pg,
        moto_s3(BUCKET) as s3,
    ):
        link_extensions(Path(ext))
        import psycopg

        with psycopg.connect(pg.url) as admin:
            row = admin.execute("SHOW server_version").fetchone()
            pg_version = str(row[0]) if row else "?"
        for name in args.backends.split(","):
            backend = Backend(
                name=name,
                pg_port=pg.port,
                database="index_" + name.replace("-", "_"),
                s3_endpoint=s3.endpoint,
                ext_dir=ext,
                inline_limit=0 if name == "ducklake-parquet" else None,
                upsert=name != "ducklake-append",
            )
            outcomes.append(measure(backend, args, keys, log))
    log("done")

    shared = f"every {args.shared_every}th key" if args.shared_every else "no key"
    print(
        f"\n{args.writers} writers x {args.rows} rows, one commit per row, {shared} shared by "
        f"all writers; {args.lookups} point lookups from one warm connection afterwards.\n"
    )
    print(table(outcomes, len(keys)))
    import duckdb

    print(
        f"\nMachine: {platform.platform()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; PostgreSQL {pg_version}, psycopg {psycopg.__version__}, "
        f"duckdb {duckdb.__version__} with ducklake/postgres/httpfs from PyPI; "
        "PostgreSQL and moto_server on loopback."
    )
    for o in outcomes:
        for note in o.notes:
            print(f"- {o.backend}: {note}")
    print(f"\nTotal wall time {time.monotonic() - started:.0f} s.")


if __name__ == "__main__":
    main()
