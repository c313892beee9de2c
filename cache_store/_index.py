"""The DuckDB index.

DuckDB lets one process at a time open a database file for writing, and every Prefect flow run
started by a worker is its own process. So each operation takes an exclusive flock on a lock file
beside the index (the kernel queues waiters and frees it if the holder dies), opens the database,
does its work, and closes it. Lock errors from foreign holders are retried until a deadline.
"""

from __future__ import annotations

import fcntl
import json
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

__all__ = ["SCHEMA_VERSION", "Index", "IndexBusyError", "IndexRow"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS cache_index (
    cache_key TEXT PRIMARY KEY,
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
);
CREATE TABLE IF NOT EXISTS source_stats (
    device UBIGINT, inode UBIGINT, size BIGINT, mtime_ns BIGINT,
    source_path TEXT, audio_hash TEXT NOT NULL, recorded_at TIMESTAMP,
    PRIMARY KEY (device, inode, size, mtime_ns)
);
CREATE INDEX IF NOT EXISTS idx_audio_hash ON cache_index(audio_hash);
CREATE INDEX IF NOT EXISTS idx_cache_type ON cache_index(cache_type);
"""


class IndexBusyError(RuntimeError):
    """The index stayed locked by another program past the deadline."""


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


_COLUMNS = (
    "cache_key, cache_type, audio_hash, file_path, file_size, checksum, created_at, "
    "last_accessed, access_count, ttl_days, compute_seconds, metadata"
)


def _row(values: tuple[Any, ...]) -> IndexRow:
    fields = dict(zip(IndexRow.__dataclass_fields__, values, strict=True))
    fields["metadata"] = json.loads(fields["metadata"]) if fields["metadata"] else {}
    return IndexRow(**fields)


class Index:
    def __init__(self, path: Path, busy_timeout: float = 300.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self._lock_path = path.with_name(path.name + ".lock")
        self._schema_ready = False

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                con = self._open()
                try:
                    if not self._schema_ready:
                        con.execute(_SCHEMA)
                        con.execute(
                            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)",
                            [str(SCHEMA_VERSION)],
                        )
                        self._schema_ready = True
                    yield con
                finally:
                    con.close()
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _open(self) -> duckdb.DuckDBPyConnection:
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.02
        while True:
            try:
                return duckdb.connect(str(self.path))
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    if "lock" in str(exc).lower():
                        raise IndexBusyError(
                            f"cache index {self.path} is locked by another program: {exc}"
                        ) from exc
                    raise
                time.sleep(delay * (1 + random.random()))
                delay = min(delay * 2, 1.0)

    # --- entries -------------------------------------------------------------------------
    def get(self, cache_key: str) -> IndexRow | None:
        with self.connect() as con:
            found = con.execute(
                f"SELECT {_COLUMNS} FROM cache_index WHERE cache_key = ?", [cache_key]
            ).fetchone()
        return _row(found) if found else None

    def same_audio(self, cache_type: str, audio_hash: str) -> list[IndexRow]:
        with self.connect() as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM cache_index WHERE cache_type = ? AND audio_hash = ? "
                "ORDER BY created_at DESC",
                [cache_type, audio_hash],
            ).fetchall()
        return [_row(r) for r in rows]

    def upsert(self, row: IndexRow) -> None:
        with self.connect() as con:
            con.execute(
                f"INSERT OR REPLACE INTO cache_index ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    row.cache_key,
                    row.cache_type,
                    row.audio_hash,
                    row.file_path,
                    row.file_size,
                    row.checksum,
                    row.created_at,
                    row.last_accessed,
                    row.access_count,
                    row.ttl_days,
                    row.compute_seconds,
                    json.dumps(row.metadata, sort_keys=True),
                ],
            )

    def touch(self, cache_key: str, now: datetime) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE cache_index SET last_accessed = ?, access_count = access_count + 1 "
                "WHERE cache_key = ?",
                [now, cache_key],
            )

    def delete(self, cache_key: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM cache_index WHERE cache_key = ?", [cache_key])

    def keys(self) -> set[str]:
        with self.connect() as con:
            return {r[0] for r in con.execute("SELECT cache_key FROM cache_index").fetchall()}

    # --- stat fast path --------------------------------------------------------------------
    def source_hash(self, device: int, inode: int, size: int, mtime_ns: int) -> str | None:
        with self.connect() as con:
            found = con.execute(
                "SELECT audio_hash FROM source_stats "
                "WHERE device = ? AND inode = ? AND size = ? AND mtime_ns = ?",
                [device, inode, size, mtime_ns],
            ).fetchone()
        return str(found[0]) if found else None

    def record_source(
        self,
        device: int,
        inode: int,
        size: int,
        mtime_ns: int,
        path: str,
        audio_hash: str,
        now: datetime,
    ) -> None:
        with self.connect() as con:
            # A file's identity is (device, inode): its older stat rows can never match again.
            con.execute("DELETE FROM source_stats WHERE device = ? AND inode = ?", [device, inode])
            con.execute(
                "INSERT INTO source_stats VALUES (?,?,?,?,?,?,?)",
                [device, inode, size, mtime_ns, path, audio_hash, now],
            )
