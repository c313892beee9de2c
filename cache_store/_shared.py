"""The shared level of a two-level cache, as in sccache: many hosts, one store.

Payloads keep their self-verifying bytes on S3-compatible object storage (pyarrow's
S3FileSystem); their index and the translation memory live in PostgreSQL, which many hosts
write at once (DuckDB allows one writer process per file; ``benchmarks/index_choice.py``
measures PostgreSQL against DuckLake for this write pattern). The local level stays the truth
for its host: the shared level only adds hits. When the shared level fails, the job goes on
with its local cache: one warning, and what it stored waits in an outbox until it is shared.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pyarrow import fs as pafs

from ._index import _TM_ENTRIES, IndexRow

if TYPE_CHECKING:
    import psycopg

__all__ = ["ObjectStore", "SharedIndex", "SharedLevel", "SharedUnavailableError"]

log = logging.getLogger("cache_store")
T = TypeVar("T")

# How long a host leaves the shared level alone after it failed: a job does not wait on a
# timeout per lookup during an outage, and a long job still finds the store once it is back.
RETRY_AFTER_SECONDS = 60.0


class SharedUnavailableError(Exception):
    """The shared store did not answer (network, credentials, a stopped service)."""


@dataclass
class ObjectStore:
    """Payload bytes under ``bucket/prefix`` on any S3-compatible endpoint."""

    fs: pafs.FileSystem
    base: str

    @classmethod
    def s3(
        cls,
        bucket: str,
        prefix: str,
        endpoint: str | None,
        timeout: float,
        credentials: tuple[str, str] | None = None,
    ) -> ObjectStore:
        """``credentials``: (access key id, secret key); by default AWS's usual chain
        (``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` first)."""
        options: dict[str, Any] = {
            "connect_timeout": timeout,
            "request_timeout": timeout,
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=2),
            "allow_bucket_creation": False,
            "allow_bucket_deletion": False,
            # A payload is small: one PutObject at close, not a multipart upload, and any
            # failure surfaces in ``put`` itself.
            "allow_delayed_open": True,
            "background_writes": False,
        }
        if credentials:
            options["access_key"], options["secret_key"] = credentials
        if endpoint:
            parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
            options["endpoint_override"] = parts.netloc
            options["scheme"] = parts.scheme
        return cls(pafs.S3FileSystem(**options), "/".join(p for p in (bucket, prefix) if p))

    def _path(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def get(self, rel: str) -> bytes | None:
        try:
            with self.fs.open_input_stream(self._path(rel)) as stream:
                data: bytes = stream.read()
                return data
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SharedUnavailableError(f"object store: {_first_line(exc)}") from exc

    def put(self, rel: str, data: bytes) -> None:
        """One PUT: the object appears whole or not at all."""
        try:
            with self.fs.open_output_stream(self._path(rel)) as stream:
                stream.write(data)
        except OSError as exc:
            raise SharedUnavailableError(f"object store: {_first_line(exc)}") from exc

    def check(self) -> None:
        """Reach the bucket with these credentials, or raise ``SharedUnavailableError``."""
        try:
            self.fs.get_file_info(self.base)
        except OSError as exc:
            raise SharedUnavailableError(f"object store: {_first_line(exc)}") from exc

    def delete(self, rels: Sequence[str]) -> None:
        for rel in rels:
            try:
                self.fs.delete_file(self._path(rel))
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SharedUnavailableError(f"object store: {_first_line(exc)}") from exc


_SCHEMA = """
CREATE TABLE IF NOT EXISTS cpwx_cache_index (
    cache_key TEXT PRIMARY KEY,
    cache_type TEXT NOT NULL,
    audio_hash TEXT,
    file_path TEXT NOT NULL,
    file_size BIGINT NOT NULL,
    checksum TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    ttl_days INTEGER NOT NULL,
    compute_seconds DOUBLE PRECISION NOT NULL DEFAULT 0,
    metadata JSONB NOT NULL,
    host TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cpwx_cache_index_audio
    ON cpwx_cache_index (audio_hash, cache_type, created_at);
{tm_entries}
CREATE INDEX IF NOT EXISTS cpwx_tm_pair ON cpwx_tm_entries (source_lang, target_lang);
CREATE TABLE IF NOT EXISTS cpwx_fp_subhashes (subhash BIGINT NOT NULL, audio_hash TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS cpwx_fp_subhash ON cpwx_fp_subhashes (subhash);
""".replace(
    # The same memory as every host's own index; PostgreSQL spells DuckDB's DOUBLE so.
    "{tm_entries}",
    _TM_ENTRIES.format(name="cpwx_tm_entries").replace("DOUBLE", "DOUBLE PRECISION"),
)

_ROW_COLUMNS = (
    "cache_key",
    "cache_type",
    "audio_hash",
    "file_path",
    "file_size",
    "checksum",
    "created_at",
    "ttl_days",
    "compute_seconds",
    "metadata",
    "host",
)


class SharedIndex:
    """The shared index in PostgreSQL: one row per shared payload, and the translation memory.

    One connection per process, opened on first use; every statement commits on its own, and
    concurrent writers meet only in ``ON CONFLICT`` upserts.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._con: psycopg.Connection[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        import psycopg  # ~0.1 s: paid only where a shared cache is configured

        with self._lock:
            try:
                if self._con is None or self._con.closed:
                    self._con = self._connect()
                with self._con.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:  # down, refused, timed out, or not ours to write
                if self._con is not None:
                    self._con.close()
                self._con = None
                raise SharedUnavailableError(f"shared index: {_first_line(exc)}") from exc

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        con = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=max(1, round(self.timeout)),
            row_factory=dict_row,
            options=f"-c statement_timeout={int(self.timeout * 1000)}",
        )
        with con.transaction(), con.cursor() as cur:
            # Hosts starting at once would race on CREATE ... IF NOT EXISTS (a unique
            # violation in PostgreSQL's catalog): one at a time.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('cpwx schema'))")
            cur.execute(_SCHEMA)
        return con

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def upsert(self, rows: Sequence[IndexRow], host: str) -> None:
        cols = ", ".join(_ROW_COLUMNS)
        marks = ", ".join(["%s"] * len(_ROW_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ROW_COLUMNS[1:])
        with self._cursor() as cur:
            cur.executemany(
                f"INSERT INTO cpwx_cache_index ({cols}) VALUES ({marks}) "
                f"ON CONFLICT (cache_key) DO UPDATE SET {updates}",
                [
                    (
                        r.cache_key,
                        r.cache_type,
                        r.audio_hash,
                        r.file_path,
                        r.file_size,
                        r.checksum,
                        r.created_at,
                        r.ttl_days,
                        r.compute_seconds,
                        json.dumps(r.metadata, sort_keys=True),
                        host,
                    )
                    for r in rows
                ],
            )

    def has(self, cache_key: str, newer_than: datetime) -> bool:
        with self._cursor() as cur:
            cur.execute(
                "SELECT 1 FROM cpwx_cache_index WHERE cache_key = %s AND created_at > %s",
                (cache_key, newer_than),
            )
            return cur.fetchone() is not None

    def newest_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        """The key parts of the newest whole entry of this layer for this audio."""
        with self._cursor() as cur:
            cur.execute(
                "SELECT metadata -> 'key_parts' AS parts FROM cpwx_cache_index "
                "WHERE cache_type = %s AND audio_hash = %s "
                "AND NOT (metadata -> 'key_parts' ? 'chunk') "
                "ORDER BY created_at DESC LIMIT 1",
                (layer, audio_hash),
            )
            found = cur.fetchone()
        return dict(found["parts"] or {}) if found else None

    def expired(self, now: datetime) -> list[tuple[str, str]]:
        """(key, payload path) of every entry older than its own TTL."""
        with self._cursor() as cur:
            cur.execute(
                "SELECT cache_key, file_path FROM cpwx_cache_index "
                "WHERE created_at + ttl_days * interval '1 day' < %s",
                (now,),
            )
            return [(r["cache_key"], r["file_path"]) for r in cur.fetchall()]

    def delete(self, cache_keys: Sequence[str]) -> None:
        with self._cursor() as cur:
            cur.execute(
                "DELETE FROM cpwx_cache_index WHERE cache_key = ANY(%s)", (list(cache_keys),)
            )

    def usage(self) -> tuple[int, int]:
        """(entries, payload bytes) in the shared store."""
        with self._cursor() as cur:
            cur.execute(
                "SELECT count(*) AS n, coalesce(sum(file_size), 0) AS b FROM cpwx_cache_index"
            )
            found = cur.fetchone()
        return (int(found["n"]), int(found["b"])) if found else (0, 0)

    def fp_index(self, audio_hash: str, keys: Sequence[int]) -> None:
        """A film's Chromaprint subhashes (see ``subhashes``), so every host finds its cuts."""
        with self._cursor() as cur, cur.connection.transaction():
            cur.execute("DELETE FROM cpwx_fp_subhashes WHERE audio_hash = %s", (audio_hash,))
            with cur.copy("COPY cpwx_fp_subhashes (subhash, audio_hash) FROM STDIN") as copy:
                for key in keys:
                    copy.write_row((key, audio_hash))

    def fp_candidates(self, keys: Sequence[int], exclude: str, limit: int) -> list[tuple[str, int]]:
        """Films sharing the most subhashes with ``keys``, most first."""
        with self._cursor() as cur:
            cur.execute(
                "SELECT audio_hash, count(*) AS n FROM cpwx_fp_subhashes "
                "WHERE subhash = ANY(%s) AND audio_hash <> %s "
                "GROUP BY 1 ORDER BY n DESC, audio_hash LIMIT %s",
                (list(keys), exclude, limit),
            )
            return [(str(r["audio_hash"]), int(r["n"])) for r in cur.fetchall()]

    def tm_upsert(self, rows: Sequence[dict[str, Any]]) -> None:
        """Insert or refresh memory entries; as locally, reuse counts and approvals only grow."""
        if not rows:
            return
        cols = list(rows[0])
        with self._cursor() as cur:
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

    def tm_select(self, source_lang: str, target_lang: str) -> list[dict[str, Any]]:
        with self._cursor() as cur:
            cur.execute(
                "SELECT * FROM cpwx_tm_entries WHERE source_lang = %s AND target_lang = %s",
                (source_lang, target_lang),
            )
            return list(cur.fetchall())


@dataclass
class SharedLevel:
    """The second level: an object store and its index, behind one circuit breaker.

    Every call fails soft: after a failure the level is skipped for ``RETRY_AFTER_SECONDS``
    (one warning per process), a lookup becomes a local miss and a write waits in ``outbox``
    (one empty file per entry) for ``CacheManager.share_pending``.
    """

    objects: ObjectStore
    index: SharedIndex
    outbox: Path
    host: str
    where: str = ""  # for reports: s3://bucket/prefix
    _down_until: float = field(default=0.0, repr=False)
    _warned: bool = field(default=False, repr=False)

    @classmethod
    def open(
        cls,
        cache_dir: Path,
        *,
        bucket: str,
        prefix: str,
        endpoint: str | None,
        index_url: str,
        timeout: float,
        credentials: tuple[str, str] | None = None,
    ) -> SharedLevel:
        """Connects lazily: a host whose shared store is down still starts its jobs."""
        return cls(
            ObjectStore.s3(bucket, prefix, endpoint, timeout, credentials),
            SharedIndex(index_url, timeout),
            outbox=cache_dir / "outbox",
            host=socket.gethostname(),
            where=f"s3://{bucket}/{prefix}".rstrip("/"),
        )

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def call(self, fn: Callable[[], T], default: T) -> T:
        """``fn()``, or ``default`` while the shared store is down or when it fails now."""
        if not self.available:
            return default
        try:
            return fn()
        except SharedUnavailableError as exc:
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            level = logging.INFO if self._warned else logging.WARNING
            self._warned = True
            log.log(
                level,
                "the shared cache is unavailable (%s): caching on this host only; what is "
                "stored meanwhile is shared later (`cpwx cache push`)",
                exc,
            )
            return default

    def hold(self, kind: str, key: str) -> None:
        """Remember an entry for the next ``share_pending``."""
        (self.outbox / kind).mkdir(parents=True, exist_ok=True)
        (self.outbox / kind / key).touch()

    def held(self) -> list[tuple[str, str]]:
        """(kind, key) of every entry waiting to be shared."""
        if not self.outbox.is_dir():
            return []
        return sorted((p.parent.name, p.name) for p in self.outbox.glob("*/*") if p.is_file())

    def release(self, kind: str, key: str) -> None:
        (self.outbox / kind / key).unlink(missing_ok=True)

    def publish(self, row: IndexRow, raw: bytes) -> bool:
        """Write one payload through: object first (it is the truth), then its row."""

        def both() -> bool:
            self.objects.put(row.file_path, raw)
            self.index.upsert([row], self.host)
            return True

        if self.call(both, False):
            return True
        self.hold(row.cache_type, row.cache_key)
        return False

    def publish_memory(self, rows: Sequence[dict[str, Any]]) -> bool:
        def upsert() -> bool:
            self.index.tm_upsert(rows)
            return True

        if not rows or self.call(upsert, False):
            return True
        for row in rows:
            self.hold("tm", row["cache_key"])
        return False


def _first_line(exc: BaseException) -> str:
    """The gist of a client error: AWS SDK messages carry the cause after "AWS Error"."""
    text = str(exc).strip() or type(exc).__name__
    aws = re.search(r"AWS Error .*?(?=; Details|$)", text)
    return (aws.group(0) if aws else text).splitlines()[0]
