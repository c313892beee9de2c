"""The DuckDB index: one row per entry, the event log and stats snapshots.

DuckDB lets one process at a time open a database file for writing, and every Prefect flow run
started by a worker is its own process. So a session takes an exclusive flock on a lock file
beside the index (the kernel queues waiters and frees it if the holder dies), opens the database,
does its work, and closes it. Lookups never come here (see ``_journal``): only writes and
maintenance do. Lock errors from foreign holders are retried until a deadline.

Domain packages keep tables of their own in the same file (the translation memory, the similar-cut
index, the job history): they declare them with ``IndexSession.ensure`` and query them through
``IndexSession.con``. Everything the store itself asks of the index is a method here.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    "CACHE_INDEX_DDL",
    "COLUMNS",
    "DEFAULT_TTL_DAYS",
    "SCHEMA_VERSION",
    "Index",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexRow",
    "IndexSession",
    "Victim",
    "parse_stamp",
    "row_from_json",
    "row_of",
    "row_to_json",
]

SCHEMA_VERSION = 3
DEFAULT_TTL_DAYS = 90  # CACHE_TTL_DAYS's default: also what a payload without its own says

# No PRIMARY KEY or other ART index on cache_index: DuckDB 1.5's ART indexes can diverge from
# their table after a writer is killed (found by tests/reliability/test_crash.py: every later
# DELETE then fails with "Failed to delete all rows from index"), and a scan of this table is
# cheap next to the work that reads it. Keys stay unique because ``upsert`` replaces.
CACHE_INDEX_DDL = """CREATE TABLE IF NOT EXISTS {name} (
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

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
{CACHE_INDEX_DDL.format(name="cache_index")}
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
"""

# Eviction keeps what is expensive to recompute per byte and recently used: the lowest
# (compute seconds per byte) / (1 + days since last use) goes first.
_SCORE = (
    "(compute_seconds + 0.001) / greatest(file_size, 1) "
    "/ (1 + date_diff('second', last_accessed, ?::TIMESTAMP) / 86400.0)"
)
_MISSES = ("miss", "expired", "corrupted")


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


@dataclass(frozen=True)
class Victim:
    """An entry maintenance may remove: what it needs to remove it safely, and its size."""

    cache_key: str
    file_path: str
    checksum: str
    file_size: int


def parse_stamp(stamp: str) -> datetime:
    """A payload's ``created_at`` (ISO 8601 with a Z) as the index's naive UTC."""
    return datetime.fromisoformat(stamp.removesuffix("Z"))


def row_of(
    document: Mapping[str, Any],
    rel: str,
    size: int,
    checksum: str,
    accessed: datetime | None = None,
) -> IndexRow:
    """The index row a payload describes, from its own document: what lets any level, a
    rebuild and an import index it. Raises KeyError, TypeError or ValueError when malformed."""
    created = parse_stamp(document["created_at"])
    parts = dict(document.get("key_parts") or {})
    audio_hash = parts.get("audio_hash")
    return IndexRow(
        cache_key=str(document["cache_key"]),
        cache_type=str(document["layer"]),
        audio_hash=audio_hash if isinstance(audio_hash, str) else None,
        file_path=rel,
        file_size=size,
        checksum=checksum,
        created_at=created,
        last_accessed=accessed or created,
        access_count=1,
        ttl_days=int(document.get("ttl_days", DEFAULT_TTL_DAYS)),
        compute_seconds=float(document.get("compute_seconds", 0.0)),
        metadata={"key_parts": parts},
    )


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
    con.execute(CACHE_INDEX_DDL.format(name="cache_index_v3"))
    con.execute(
        f"INSERT INTO cache_index_v3 ({_COLS}) SELECT {_COLS} FROM cache_index "
        "QUALIFY row_number() OVER (PARTITION BY cache_key ORDER BY created_at DESC) = 1"
    )
    con.execute("DROP TABLE cache_index")
    con.execute("ALTER TABLE cache_index_v3 RENAME TO cache_index")
    con.execute("COMMIT")


class IndexSession:
    """One locked, open connection: everything done in it is atomic with respect to others."""

    def __init__(self, con: duckdb.DuckDBPyConnection, index: Index) -> None:
        self.con = con
        self._index = index

    def ensure(self, ddl: str) -> None:
        """Create a domain package's tables (``CREATE ... IF NOT EXISTS``), once per index."""
        if ddl not in self._index.ensured:
            self.con.execute(ddl)
            self._index.ensured.add(ddl)

    @contextmanager
    def registered(self, name: str, table: pa.Table) -> Iterator[None]:
        """``table`` queryable as ``name`` for the duration (bulk inserts, key lists)."""
        self.con.register(name, table)
        try:
            yield
        finally:
            self.con.unregister(name)

    # --- rows ---------------------------------------------------------------------------------
    def get(self, cache_key: str) -> IndexRow | None:
        found = self.con.execute(
            f"SELECT {_COLS} FROM cache_index WHERE cache_key = ?", [cache_key]
        ).fetchone()
        return _row(found) if found else None

    def rows(self, layers: Sequence[str] | None = None) -> list[IndexRow]:
        """Every row, or those of ``layers``, by payload path."""
        where = "cache_type IN (SELECT unnest(?))" if layers is not None else "? IS NULL"
        sql = f"SELECT {_COLS} FROM cache_index WHERE {where} ORDER BY file_path"
        return [_row(r) for r in self.con.execute(sql, [layers]).fetchall()]

    def rows_of_audio(self, audio_hash: str) -> list[IndexRow]:
        sql = f"SELECT {_COLS} FROM cache_index WHERE audio_hash = ?"
        return [_row(r) for r in self.con.execute(sql, [audio_hash]).fetchall()]

    def newest_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        """The key parts of the newest whole entry of ``layer`` for this audio (a killed job's
        ASR chunks are not whole results)."""
        found = self.con.execute(
            "SELECT metadata FROM cache_index WHERE cache_type = ? AND audio_hash = ? "
            "AND json_extract(metadata, '$.key_parts.chunk') IS NULL "
            "ORDER BY created_at DESC LIMIT 1",
            [layer, audio_hash],
        ).fetchone()
        return dict(json.loads(found[0]).get("key_parts", {})) if found and found[0] else None

    def keys(self) -> set[str]:
        return {r[0] for r in self.con.execute("SELECT cache_key FROM cache_index").fetchall()}

    def checksums(self, cache_keys: Sequence[str]) -> dict[str, str]:
        """The checksum each of these keys has now (absent keys are left out)."""
        found = self.con.execute(
            "SELECT cache_key, checksum FROM cache_index WHERE cache_key IN (SELECT unnest(?))",
            [list(cache_keys)],
        ).fetchall()
        return dict(found)

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
        with self.registered("incoming_rows", table):
            self.con.execute(
                "DELETE FROM cache_index WHERE cache_key IN (SELECT cache_key FROM incoming_rows)"
            )
            self.con.execute(f"INSERT INTO cache_index ({_COLS}) SELECT {_COLS} FROM incoming_rows")

    def delete(self, cache_keys: Sequence[str]) -> None:
        if not cache_keys:
            return
        with self.registered("doomed", pa.table({"cache_key": list(cache_keys)})):
            self.con.execute(
                "DELETE FROM cache_index WHERE cache_key IN (SELECT cache_key FROM doomed)"
            )

    def delete_layer(self, layer: str) -> int:
        found = self.con.execute(
            "DELETE FROM cache_index WHERE cache_type = ? RETURNING cache_key", [layer]
        ).fetchall()
        return len(found)

    # --- events and snapshots -----------------------------------------------------------------
    def add_events(self, records: Sequence[Mapping[str, Any]]) -> None:
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
        with self.registered("new_events", table):
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

    def add_snapshot(self, ts: datetime, snapshot: Mapping[str, Any]) -> None:
        self.con.execute(
            "INSERT INTO stats_snapshots VALUES (?, ?)", [ts, json.dumps(snapshot, default=str)]
        )

    def snapshots(self) -> int:
        found = self.con.execute("SELECT count(*) FROM stats_snapshots").fetchone()
        return int(found[0]) if found else 0

    # --- what stats report --------------------------------------------------------------------
    def usage(self) -> dict[str, tuple[int, int]]:
        """(entries, payload bytes) per layer."""
        found = self.con.execute(
            "SELECT cache_type, count(*), coalesce(sum(file_size), 0) FROM cache_index GROUP BY 1"
        ).fetchall()
        return {str(layer): (int(n), int(b)) for layer, n, b in found}

    def oldest(self) -> datetime | None:
        found = self.con.execute("SELECT min(created_at) FROM cache_index").fetchone()
        return found[0] if found else None

    def outcomes(self, since: datetime) -> dict[tuple[str, str], tuple[int, float]]:
        """(lookups, seconds saved) per (layer, outcome) since ``since``."""
        found = self.con.execute(
            "SELECT layer, outcome, count(*), coalesce(sum(saved_seconds), 0) FROM cache_events "
            "WHERE ts >= ? GROUP BY 1, 2",
            [since],
        ).fetchall()
        return {(layer, outcome): (int(n), float(saved)) for layer, outcome, n, saved in found}

    def miss_reasons(self, since: datetime) -> dict[str, int]:
        found = self.con.execute(
            "SELECT reason_kind, count(*) FROM cache_events WHERE ts >= ? AND outcome <> 'hit' "
            "GROUP BY 1 ORDER BY 2 DESC",
            [since],
        ).fetchall()
        return {str(kind): int(n) for kind, n in found}

    def daily(self, since: datetime) -> list[tuple[str, str, int, int, float]]:
        """(day, layer, hits, misses, seconds saved) since ``since``."""
        found = self.con.execute(
            "SELECT strftime(ts, '%Y-%m-%d') AS d, layer, count(*) FILTER (outcome = 'hit'), "
            "count(*) FILTER (outcome IN (SELECT unnest(?))), coalesce(sum(saved_seconds), 0) "
            "FROM cache_events WHERE ts >= ? GROUP BY 1, 2 ORDER BY 1, 2",
            [list(_MISSES), since],
        ).fetchall()
        return [(str(d), str(layer), int(h), int(m), float(s)) for d, layer, h, m, s in found]

    # --- what cleanup chooses from ------------------------------------------------------------
    def created_before(self, cutoff: datetime) -> list[Victim]:
        return self._victims("WHERE created_at < ?", [cutoff])

    def least_used(self, keep: int) -> list[Victim]:
        """Every entry but the ``keep`` most used (then most recently used)."""
        return self._victims("ORDER BY access_count DESC, last_accessed DESC OFFSET ?", [keep])

    def by_eviction_score(self, now: datetime) -> list[Victim]:
        """Every entry, cheapest to lose first."""
        return self._victims(f"ORDER BY {_SCORE} ASC", [now])

    def largest(self, top: int) -> list[tuple[str, str, int]]:
        """(layer, key, bytes) of the ``top`` biggest entries."""
        found = self.con.execute(
            "SELECT cache_type, cache_key, file_size FROM cache_index "
            "ORDER BY file_size DESC LIMIT ?",
            [top],
        ).fetchall()
        return [(str(layer), str(key), int(size)) for layer, key, size in found]

    def _victims(self, clause: str, params: list[Any]) -> list[Victim]:
        found = self.con.execute(
            f"SELECT cache_key, file_path, checksum, file_size FROM cache_index {clause}", params
        ).fetchall()
        return [Victim(str(k), str(p), str(c), int(s or 0)) for k, p, c, s in found]


class Index:
    def __init__(self, path: Path, busy_timeout: float = 300.0) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.lock_path = path.with_name(path.name + ".lock")
        self.ensured: set[str] = set()  # DDL run on this file by this process

    @contextmanager
    def session(self) -> Iterator[IndexSession]:
        with exclusive(self.lock_path), self._damage_named():
            con = self._open()
            try:
                if _SCHEMA not in self.ensured:
                    con.execute(_SCHEMA)
                    _drop_cache_index_art(con)
                    con.execute(
                        "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                        [str(SCHEMA_VERSION)],
                    )
                    self.ensured.add(_SCHEMA)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield IndexSession(con, self)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
            finally:
                con.close()

    def forget_schema(self) -> None:
        """The file was replaced (a rebuild): its tables are to be checked again."""
        self.ensured.clear()

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
