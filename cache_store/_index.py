"""The DuckDB index: one row per entry, plus the event log and stats snapshots.

DuckDB lets one process at a time open a database file for writing, and every Prefect flow run
started by a worker is its own process. So a session takes an exclusive flock on a lock file
beside the index (the kernel queues waiters and frees it if the holder dies), opens the database,
does its work, and closes it. Lookups never come here (see ``_journal``): only writes and
maintenance do. Lock errors from foreign holders are retried until a deadline.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from ._disk import is_disk_full
from ._locks import exclusive

__all__ = [
    "SCHEMA_VERSION",
    "Index",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexRow",
    "IndexSession",
    "row_from_json",
    "row_to_json",
]

SCHEMA_VERSION = 3

# No PRIMARY KEY or other ART index on cache_index: DuckDB 1.5's ART indexes can diverge from
# their table after a writer is killed (found by tests/reliability/test_crash.py: every later
# DELETE then fails with "Failed to delete all rows from index"), and a scan of this table is
# cheap next to the work that reads it. Keys stay unique because ``upsert`` replaces.
_CACHE_INDEX = """CREATE TABLE IF NOT EXISTS {name} (
    cache_key TEXT NOT NULL,
    cache_type TEXT NOT NULL,
    audio_hash TEXT,
    file_path TEXT NOT NULL,
    file_size BIGINT,
    checksum TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_accessed TIMESTAMP NOT NULL,
    access_count INTEGER DEFAULT 1,
    ttl_days INTEGER DEFAULT 90,
    compute_seconds DOUBLE DEFAULT 0,
    metadata JSON
);"""

_TM_ENTRIES = """CREATE TABLE IF NOT EXISTS {name} (
    cache_key TEXT PRIMARY KEY,
    source_lang TEXT NOT NULL,
    target_lang TEXT NOT NULL,
    source_segment TEXT NOT NULL,
    translated_segment TEXT NOT NULL,
    model_used TEXT NOT NULL,
    glossary_hash TEXT NOT NULL,
    glossary_terms_applied TEXT[],
    context_prev TEXT[],
    context_next TEXT[],
    confidence DOUBLE NOT NULL,
    compute_seconds DOUBLE NOT NULL DEFAULT 0,
    reuse_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    last_used TIMESTAMP NOT NULL,
    user_approved BOOLEAN NOT NULL DEFAULT FALSE,
    movie_id TEXT,
    audio_hash TEXT
);"""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
{cache_index}
CREATE TABLE IF NOT EXISTS cache_events (
    ts TIMESTAMP NOT NULL,
    layer TEXT NOT NULL,
    cache_key TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason_kind TEXT,
    reason TEXT,
    saved_seconds DOUBLE DEFAULT 0
);
CREATE TABLE IF NOT EXISTS stats_snapshots (ts TIMESTAMP NOT NULL, snapshot JSON NOT NULL);
{tm_entries}
CREATE TABLE IF NOT EXISTS fp_subhashes (subhash UINTEGER NOT NULL, audio_hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_history (
    job_id TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    audio_hash TEXT NOT NULL,
    features JSON NOT NULL,
    outcome JSON NOT NULL,
    estimate_seconds DOUBLE,
    rating INTEGER
);
""".replace("{cache_index}", _CACHE_INDEX.format(name="cache_index")).replace(
    "{tm_entries}", _TM_ENTRIES.format(name="tm_entries")
)


def _drop_cache_index_art(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 2 to 3: the same rows, one per key, in a table without ART indexes (which
    also heals an index that had diverged from its table)."""
    keyed = con.execute(
        "SELECT count(*) FROM duckdb_constraints() "
        "WHERE table_name = 'cache_index' AND constraint_type = 'PRIMARY KEY'"
    ).fetchone()
    if not keyed or not keyed[0]:
        return
    con.execute("BEGIN TRANSACTION")
    con.execute("DROP INDEX IF EXISTS idx_audio_hash")
    con.execute(_CACHE_INDEX.format(name="cache_index_v3"))
    con.execute(
        f"INSERT INTO cache_index_v3 ({_COLS}) SELECT {_COLS} FROM cache_index "
        "QUALIFY row_number() OVER (PARTITION BY cache_key ORDER BY created_at DESC) = 1"
    )
    con.execute("DROP TABLE cache_index")
    con.execute("ALTER TABLE cache_index_v3 RENAME TO cache_index")
    con.execute("COMMIT")


# What a memory entry costs, roughly: its texts plus a row's overhead in the index.
TM_BYTES = "(strlen(source_segment) + strlen(translated_segment) + 160)"


class IndexBusyError(RuntimeError):
    """The index stayed locked by another program past the deadline."""


class IndexDamagedError(RuntimeError):
    """The index file cannot be opened as a database; the payloads can rebuild it."""


@dataclass(frozen=True)
class IndexRow:
    cache_key: str
    cache_type: str
    audio_hash: str | None
    file_path: str
    file_size: int
    checksum: str
    created_at: datetime
    last_accessed: datetime
    access_count: int
    ttl_days: int
    compute_seconds: float
    metadata: dict[str, Any]


COLUMNS = tuple(f.name for f in fields(IndexRow))
_COLS = ", ".join(COLUMNS)
_EVENT_COLUMNS = ("ts", "layer", "cache_key", "outcome", "reason_kind", "reason", "saved_seconds")


def row_to_json(row: IndexRow) -> dict[str, Any]:
    out = {c: getattr(row, c) for c in COLUMNS}
    out["created_at"] = row.created_at.isoformat()
    out["last_accessed"] = row.last_accessed.isoformat()
    return out


def row_from_json(d: dict[str, Any]) -> IndexRow:
    fields_ = {c: d[c] for c in COLUMNS}
    fields_["created_at"] = datetime.fromisoformat(d["created_at"])
    fields_["last_accessed"] = datetime.fromisoformat(d["last_accessed"])
    return IndexRow(**fields_)


def _row(values: tuple[Any, ...]) -> IndexRow:
    row = dict(zip(COLUMNS, values, strict=True))
    row["metadata"] = json.loads(row["metadata"]) if row["metadata"] else {}
    return IndexRow(**row)


class IndexSession:
    """One locked, open connection: everything done in it is atomic with respect to others."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def get(self, cache_key: str) -> IndexRow | None:
        found = self.con.execute(
            f"SELECT {_COLS} FROM cache_index WHERE cache_key = ?", [cache_key]
        ).fetchone()
        return _row(found) if found else None

    def rows(
        self, where: str = "TRUE", params: Sequence[Any] = (), order: str = ""
    ) -> list[IndexRow]:
        sql = f"SELECT {_COLS} FROM cache_index WHERE {where} {order}"
        return [_row(r) for r in self.con.execute(sql, list(params)).fetchall()]

    def upsert(self, rows: Iterable[IndexRow]) -> None:
        table = pa.Table.from_pylist(
            [
                {
                    **{c: getattr(r, c) for c in COLUMNS},
                    "metadata": json.dumps(r.metadata, sort_keys=True),
                }
                for r in {r.cache_key: r for r in rows}.values()  # the last for a key wins
            ]
        )
        if table.num_rows == 0:
            return
        self.con.register("incoming_rows", table)
        try:
            self.con.execute(
                "DELETE FROM cache_index WHERE cache_key IN (SELECT cache_key FROM incoming_rows)"
            )
            self.con.execute(f"INSERT INTO cache_index ({_COLS}) SELECT {_COLS} FROM incoming_rows")
        finally:
            self.con.unregister("incoming_rows")

    def delete(self, cache_keys: Sequence[str]) -> None:
        if not cache_keys:
            return
        table = pa.table({"cache_key": list(cache_keys)})
        self.con.register("doomed", table)
        try:
            self.con.execute(
                "DELETE FROM cache_index WHERE cache_key IN (SELECT cache_key FROM doomed)"
            )
        finally:
            self.con.unregister("doomed")

    def add_events(self, records: Sequence[dict[str, Any]]) -> None:
        """Store journal records, and apply their hits to last_accessed and access_count."""
        if not records:
            return
        table = pa.table(
            {
                "ts": pa.array(
                    [datetime.fromisoformat(r["ts"]) for r in records], pa.timestamp("us")
                ),
                **{c: [r.get(c) for r in records] for c in _EVENT_COLUMNS[1:]},
            }
        )
        self.con.register("new_events", table)
        try:
            self.con.execute(
                f"INSERT INTO cache_events ({', '.join(_EVENT_COLUMNS)}) "
                f"SELECT {', '.join(_EVENT_COLUMNS)} FROM new_events"
            )
            self.con.execute(
                """
                UPDATE cache_index SET last_accessed = greatest(last_accessed, h.ts),
                    access_count = access_count + h.n
                FROM (SELECT cache_key, max(ts) AS ts, count(*) AS n FROM new_events
                      WHERE outcome = 'hit' GROUP BY cache_key) AS h
                WHERE cache_index.cache_key = h.cache_key
                """
            )
        finally:
            self.con.unregister("new_events")

    # --- fingerprint candidate index ------------------------------------------------------
    def fp_index(self, audio_hash: str, keys: Sequence[int]) -> None:
        """(Re)place one film's subhashes: the inverted index that finds its other cuts."""
        self.con.execute("DELETE FROM fp_subhashes WHERE audio_hash = ?", [audio_hash])
        rows = pa.table(
            {"subhash": pa.array(keys, pa.uint32()), "audio_hash": [audio_hash] * len(keys)}
        )
        self.con.register("new_subhashes", rows)
        try:
            self.con.execute("INSERT INTO fp_subhashes SELECT * FROM new_subhashes")
        finally:
            self.con.unregister("new_subhashes")

    def fp_candidates(self, keys: Sequence[int], exclude: str, limit: int) -> list[tuple[str, int]]:
        """Films sharing the most subhashes with ``keys``, most first."""
        self.con.register("wanted_subhashes", pa.table({"subhash": pa.array(keys, pa.uint32())}))
        try:
            found = self.con.execute(
                "SELECT audio_hash, count(*) AS n FROM fp_subhashes "
                "JOIN wanted_subhashes USING (subhash) WHERE audio_hash <> ? "
                "GROUP BY 1 ORDER BY n DESC, audio_hash LIMIT ?",
                [exclude, limit],
            ).fetchall()
        finally:
            self.con.unregister("wanted_subhashes")
        return [(str(h), int(n)) for h, n in found]

    # --- job history -------------------------------------------------------------------------
    def jobs_upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        for r in rows:  # a handful per session: one per job
            self.con.execute(
                "INSERT OR REPLACE INTO job_history (job_id, created_at, audio_hash, features, "
                "outcome, estimate_seconds, rating) VALUES (?, ?, ?, ?, ?, ?, "
                "(SELECT rating FROM job_history WHERE job_id = ?))",
                [
                    r["job_id"],
                    r["created_at"],
                    r["audio_hash"],
                    r["features"],
                    r["outcome"],
                    r["estimate_seconds"],
                    r["job_id"],
                ],
            )

    def jobs_select(self, since: datetime | None) -> list[dict[str, Any]]:
        """Jobs since ``since`` (all when None), oldest first, the rating folded in."""
        found = self.con.execute(
            "SELECT job_id, strftime(created_at, '%Y-%m-%dT%H:%M:%SZ'), audio_hash, features, "
            "json_merge_patch(outcome, json_object('rating', rating)), estimate_seconds "
            "FROM job_history WHERE created_at >= coalesce(?, created_at) ORDER BY created_at",
            [since],
        ).fetchall()
        names = ("job_id", "created_at", "audio_hash", "features", "outcome", "estimate_seconds")
        return [dict(zip(names, r, strict=True)) for r in found]

    def job_rate(self, job_id: str, rating: int) -> bool:
        found = self.con.execute(
            "UPDATE job_history SET rating = ? WHERE job_id = ? RETURNING job_id",
            [rating, job_id],
        ).fetchall()
        return bool(found)

    def jobs_prune(self, before: datetime) -> int:
        gone = self.con.execute(
            "DELETE FROM job_history WHERE created_at < ? RETURNING job_id", [before]
        ).fetchall()
        return len(gone)

    # --- translation memory ---------------------------------------------------------------
    def tm_select(self, source_lang: str | None, target_lang: str | None) -> pa.Table:
        """Entries of one language pair, or of every pair where a language is None."""
        return self.con.execute(
            "SELECT * FROM tm_entries WHERE source_lang = coalesce(?, source_lang) "
            "AND target_lang = coalesce(?, target_lang) ORDER BY source_lang, target_lang, "
            "created_at, cache_key",
            [source_lang, target_lang],
        ).to_arrow_table()

    def tm_keys(self, source_lang: str, target_lang: str) -> set[str]:
        found = self.con.execute(
            "SELECT cache_key FROM tm_entries WHERE source_lang = ? AND target_lang = ?",
            [source_lang, target_lang],
        ).fetchall()
        return {r[0] for r in found}

    def tm_rows(self, cache_keys: Sequence[str]) -> pa.Table:
        return self.con.execute(
            "SELECT * FROM tm_entries WHERE cache_key IN (SELECT unnest(?))", [list(cache_keys)]
        ).to_arrow_table()

    def tm_usage(self) -> tuple[int, int]:
        """(entries, approximate bytes) of the whole memory."""
        found = self.con.execute(
            f"SELECT count(*), coalesce(sum({TM_BYTES}), 0) FROM tm_entries"
        ).fetchone()
        return (int(found[0]), int(found[1])) if found else (0, 0)

    def tm_expire(
        self, cutoff: datetime, min_reuse: int, max_bytes: int, dry_run: bool
    ) -> tuple[int, int, int]:
        """The memory's own policy: entries unused since ``cutoff`` and reused fewer than
        ``min_reuse`` times expire; then, over ``max_bytes``, the least reused and least
        recently used go. Approved entries stay. Returns (expired, evicted, bytes freed)."""
        aged = f"NOT user_approved AND last_used < ? AND reuse_count < {int(min_reuse)}"
        expired = self.con.execute(
            f"SELECT cache_key, {TM_BYTES} FROM tm_entries WHERE {aged}", [cutoff]
        ).fetchall()
        evicted = self.con.execute(
            f"""
            SELECT cache_key, size FROM (
                SELECT cache_key, {TM_BYTES} AS size, sum({TM_BYTES}) OVER (
                    ORDER BY user_approved DESC, reuse_count DESC, last_used DESC, cache_key
                    ROWS UNBOUNDED PRECEDING) AS running
                FROM tm_entries WHERE NOT ({aged})
            ) WHERE running > ? AND cache_key NOT IN (
                SELECT cache_key FROM tm_entries WHERE user_approved)
            """,
            [cutoff, max_bytes],
        ).fetchall()
        doomed = [k for k, _ in (*expired, *evicted)]
        if doomed and not dry_run:
            self.con.register("doomed_tm", pa.table({"cache_key": doomed}))
            try:
                self.con.execute(
                    "DELETE FROM tm_entries WHERE cache_key IN (SELECT cache_key FROM doomed_tm)"
                )
            finally:
                self.con.unregister("doomed_tm")
        return len(expired), len(evicted), sum(int(b) for _, b in (*expired, *evicted))

    def tm_approve(self, source: str, source_lang: str, target_lang: str) -> list[str]:
        """Approve a segment's entries; returns their keys."""
        found = self.con.execute(
            "UPDATE tm_entries SET user_approved = TRUE WHERE source_segment = ? "
            "AND source_lang = ? AND target_lang = ? RETURNING cache_key",
            [source, source_lang, target_lang],
        ).fetchall()
        return [r[0] for r in found]

    def tm_upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace entries, keeping a replaced entry's reuse count and approval."""
        if not rows:
            return
        self.con.register("incoming_tm", pa.Table.from_pylist(list(rows)))
        try:
            cols = ", ".join(rows[0])
            self.con.execute(
                f"""
                INSERT INTO tm_entries ({cols}) SELECT {cols} FROM incoming_tm
                ON CONFLICT (cache_key) DO UPDATE SET
                    translated_segment = excluded.translated_segment,
                    confidence = excluded.confidence,
                    last_used = excluded.last_used,
                    reuse_count = greatest(tm_entries.reuse_count, excluded.reuse_count),
                    user_approved = tm_entries.user_approved OR excluded.user_approved
                """
            )
        finally:
            self.con.unregister("incoming_tm")

    def tm_touch(self, cache_keys: Sequence[str], now: datetime) -> None:
        """Count reuses: one per key occurrence."""
        if not cache_keys:
            return
        self.con.register("reused", pa.table({"cache_key": list(cache_keys)}))
        try:
            self.con.execute(
                """
                UPDATE tm_entries SET reuse_count = reuse_count + u.n, last_used = ?
                FROM (SELECT cache_key, count(*) AS n FROM reused GROUP BY 1) AS u
                WHERE tm_entries.cache_key = u.cache_key
                """,
                [now],
            )
        finally:
            self.con.unregister("reused")


class Index:
    def __init__(self, path: Path, busy_timeout: float = 300.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.lock_path = path.with_name(path.name + ".lock")
        self._schema_ready = False

    @contextmanager
    def session(self) -> Iterator[IndexSession]:
        with exclusive(self.lock_path), self._damage_named():
            con = self._open()
            try:
                if not self._schema_ready:
                    con.execute(_SCHEMA)
                    _drop_cache_index_art(con)
                    con.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        [str(SCHEMA_VERSION)],
                    )
                    self._schema_ready = True
                con.execute("BEGIN TRANSACTION")
                try:
                    yield IndexSession(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    @contextmanager
    def _damage_named(self) -> Iterator[None]:
        """A block that fails its checksum while being read is damage, like a file that will
        not open: one error that names the fix."""
        try:
            yield
        except duckdb.Error as exc:
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            if "corrupt" not in message.lower():
                raise
            raise IndexDamagedError(
                f"cache index {self.path} is damaged ({message[:120]}): "
                "run `cpwx cache rebuild-index` to rebuild it from the payloads"
            ) from exc

    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.02
        while True:
            # Under our lock, so no other process is creating it: a file that a full disk
            # left empty at its creation holds nothing, and is created anew.
            if self.path.exists() and self.path.stat().st_size == 0:
                self.path.unlink()
                self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
            created = not self.path.exists()
            try:
                return duckdb.connect(str(self.path))
            except duckdb.Error as exc:
                # Another process holds the file: "Could not set lock on file ... Conflicting
                # lock is held". Anything else (say "block checksum mismatch") is damage.
                if is_disk_full(exc):  # not damage: the caller may go on without the index
                    if created:  # nothing half-made stays behind
                        self.path.unlink(missing_ok=True)
                        self.path.with_name(self.path.name + ".wal").unlink(missing_ok=True)
                    raise
                if "could not set lock" not in str(exc).lower():
                    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc)
                    raise IndexDamagedError(  # not opening is damage, whatever DuckDB says
                        f"cache index {self.path} is unreadable ({first}): "
                        "run `cpwx cache rebuild-index` to rebuild it from the payloads"
                    ) from exc
                if time.monotonic() > deadline:
                    raise IndexBusyError(
                        f"cache index {self.path} is locked by another program: {exc}"
                    ) from exc
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)
