"""Where the memory's entries live: the ``tm_entries`` table in each host's DuckDB index, and
``cpwx_tm_entries`` in the shared PostgreSQL index (the same columns, one DDL for both).

An upsert never loses what a user did or what reuse counted: an approval stays, a reuse count
only grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import pyarrow as pa

from cache_store import IndexSession, SharedIndex

__all__ = ["LocalTable", "SharedTable"]

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
_LOCAL_DDL = _TM_ENTRIES.format(name="tm_entries")
# PostgreSQL spells DuckDB's DOUBLE so.
_SHARED_DDL = (
    _TM_ENTRIES.format(name="cpwx_tm_entries").replace("DOUBLE", "DOUBLE PRECISION")
    + "\nCREATE INDEX IF NOT EXISTS cpwx_tm_pair ON cpwx_tm_entries (source_lang, target_lang);"
)

# What a memory entry costs, roughly: its texts plus a row's overhead in the index.
_BYTES = "(strlen(source_segment) + strlen(translated_segment) + 160)"


class LocalTable:
    """``tm_entries`` in one index session."""

    def __init__(self, session: IndexSession) -> None:
        session.ensure(_LOCAL_DDL)
        self.s = session

    def select(self, source_lang: str | None, target_lang: str | None) -> pa.Table:
        """Entries of one language pair, or of every pair where a language is None."""
        return self.s.con.execute(
            "SELECT * FROM tm_entries WHERE source_lang = coalesce(?, source_lang) "
            "AND target_lang = coalesce(?, target_lang) ORDER BY source_lang, target_lang, "
            "created_at, cache_key",
            [source_lang, target_lang],
        ).to_arrow_table()

    def keys(self, source_lang: str, target_lang: str) -> set[str]:
        found = self.s.con.execute(
            "SELECT cache_key FROM tm_entries WHERE source_lang = ? AND target_lang = ?",
            [source_lang, target_lang],
        ).fetchall()
        return {r[0] for r in found}

    def rows(self, cache_keys: Sequence[str]) -> list[dict[str, Any]]:
        table = self.s.con.execute(
            "SELECT * FROM tm_entries WHERE cache_key IN (SELECT unnest(?))", [list(cache_keys)]
        ).to_arrow_table()
        rows: list[dict[str, Any]] = table.to_pylist()
        return rows

    def usage(self) -> tuple[int, int]:
        """(entries, approximate bytes) of the whole memory."""
        found = self.s.con.execute(
            f"SELECT count(*), coalesce(sum({_BYTES}), 0) FROM tm_entries"
        ).fetchone()
        return (int(found[0]), int(found[1])) if found else (0, 0)

    def expire(
        self, cutoff: datetime, min_reuse: int, max_bytes: int, dry_run: bool
    ) -> tuple[int, int, int]:
        """The memory's own policy: entries unused since ``cutoff`` and reused fewer than
        ``min_reuse`` times expire; then, over ``max_bytes``, the least reused and least
        recently used go. Approved entries stay. Returns (expired, evicted, bytes freed)."""
        aged = f"NOT user_approved AND last_used < ? AND reuse_count < {int(min_reuse)}"
        expired = self.s.con.execute(
            f"SELECT cache_key, {_BYTES} FROM tm_entries WHERE {aged}", [cutoff]
        ).fetchall()
        evicted = self.s.con.execute(
            f"""
            SELECT cache_key, size FROM (
                SELECT cache_key, {_BYTES} AS size, sum({_BYTES}) OVER (
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
            with self.s.registered("doomed_tm", pa.table({"cache_key": doomed})):
                self.s.con.execute(
                    "DELETE FROM tm_entries WHERE cache_key IN (SELECT cache_key FROM doomed_tm)"
                )
        return len(expired), len(evicted), sum(int(b) for _, b in (*expired, *evicted))

    def approve(self, source: str, source_lang: str, target_lang: str) -> list[str]:
        """Approve a segment's entries; returns their keys."""
        found = self.s.con.execute(
            "UPDATE tm_entries SET user_approved = TRUE WHERE source_segment = ? "
            "AND source_lang = ? AND target_lang = ? RETURNING cache_key",
            [source, source_lang, target_lang],
        ).fetchall()
        return [r[0] for r in found]

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or replace entries, keeping a replaced entry's reuse count and approval."""
        if not rows:
            return
        with self.s.registered("incoming_tm", pa.Table.from_pylist(list(rows))):
            cols = ", ".join(rows[0])
            self.s.con.execute(
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

    def touch(self, cache_keys: Sequence[str], now: datetime) -> None:
        """Count reuses: one per key occurrence."""
        if not cache_keys:
            return
        with self.s.registered("reused", pa.table({"cache_key": list(cache_keys)})):
            self.s.con.execute(
                """
                UPDATE tm_entries SET reuse_count = reuse_count + u.n, last_used = ?
                FROM (SELECT cache_key, count(*) AS n FROM reused GROUP BY 1) AS u
                WHERE tm_entries.cache_key = u.cache_key
                """,
                [now],
            )

    def clear(self) -> int:
        found = self.s.con.execute("DELETE FROM tm_entries RETURNING cache_key").fetchall()
        return len(found)

    def forget_audio(self, audio_hash: str) -> int:
        """Entries made from this audio, unless a person approved them."""
        found = self.s.con.execute(
            "DELETE FROM tm_entries WHERE audio_hash = ? AND NOT user_approved RETURNING cache_key",
            [audio_hash],
        ).fetchall()
        return len(found)

    def copy_from(self, old_index: str) -> None:
        """Every entry of another index file this one lacks (a rebuild keeps the memory)."""
        self.s.con.execute("ATTACH '" + old_index.replace("'", "''") + "' AS old (READ_ONLY)")
        found = self.s.con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = 'old' AND table_name = 'tm_entries'"
        ).fetchone()
        if found and found[0]:
            self.s.con.execute("INSERT OR IGNORE INTO tm_entries SELECT * FROM old.tm_entries")


class SharedTable:
    """``cpwx_tm_entries`` on the shared index; raises ``SharedUnavailableError``."""

    def __init__(self, index: SharedIndex) -> None:
        index.ensure(_SHARED_DDL)
        self.index = index

    def upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """As locally: reuse counts and approvals only grow."""
        if not rows:
            return
        cols = list(rows[0])
        with self.index.cursor() as cur:
            cur.executemany(
                f"INSERT INTO cpwx_tm_entries ({', '.join(cols)}) "
                f"VALUES ({', '.join(['%s'] * len(cols))}) "
                "ON CONFLICT (cache_key) DO UPDATE SET "
                "translated_segment = excluded.translated_segment, "
                "confidence = excluded.confidence, "
                "last_used = greatest(cpwx_tm_entries.last_used, excluded.last_used), "
                "reuse_count = greatest(cpwx_tm_entries.reuse_count, excluded.reuse_count), "
                "user_approved = cpwx_tm_entries.user_approved OR excluded.user_approved",
                [tuple(row[c] for c in cols) for row in rows],
            )

    def select(self, source_lang: str, target_lang: str) -> list[dict[str, Any]]:
        with self.index.cursor() as cur:
            cur.execute(
                "SELECT * FROM cpwx_tm_entries WHERE source_lang = %s AND target_lang = %s",
                (source_lang, target_lang),
            )
            return list(cur.fetchall())
