"""The shared level of a two-level cache, as in sccache: many hosts, one store.

Payloads keep their self-verifying bytes on S3-compatible object storage (pyarrow's
S3FileSystem); their index lives in PostgreSQL (beside the tables domain packages share there:
the translation memory, the similar-cut index), which many hosts write at once (DuckDB allows
one writer process per file; ``benchmarks/index_choice.py`` measures PostgreSQL against DuckLake
for this write pattern). The local level stays the truth
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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from pyarrow import fs as pafs

from ._index import IndexRow

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
"""

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
    """The shared index in PostgreSQL: one row per shared payload, beside the tables domain
    packages keep there (the translation memory, the similar-cut index; see ``ensure``).

    One connection per process, opened on first use; every statement commits on its own, and
    concurrent writers meet only in ``ON CONFLICT`` upserts.
    """

    def __init__(self, url: str, timeout: float) -> None:
        self.url = url
        self.timeout = timeout
        self._con: psycopg.Connection[dict[str, Any]] | None = None
        self._ensured: set[str] = set()  # DDL run on this connection
        self._lock = threading.Lock()

    @contextmanager
    def cursor(self) -> Iterator[psycopg.Cursor[dict[str, Any]]]:
        """A cursor (rows as dicts); any PostgreSQL error becomes ``SharedUnavailableError``."""
        import psycopg  # ~0.1 s: paid only where a shared cache is configured

        with self._lock:
            try:
                if self._con is None or self._con.closed:
                    self._ensured.clear()
                    self._con = self._connect()
                    self._create(_SCHEMA)
                with self._con.cursor() as cur:
                    yield cur
            except psycopg.Error as exc:  # down, refused, timed out, or not ours to write
                if self._con is not None:
                    self._con.close()
                self._con = None
                raise SharedUnavailableError(f"shared index: {_first_line(exc)}") from exc

    def ensure(self, ddl: str) -> None:
        """Create a domain package's tables (``CREATE ... IF NOT EXISTS``), once a connection."""
        with self.cursor():
            if ddl not in self._ensured:
                self._create(ddl)

    def _create(self, ddl: str) -> None:
        assert self._con is not None
        with self._con.transaction(), self._con.cursor() as cur:
            # Hosts starting at once would race on CREATE ... IF NOT EXISTS (a unique
            # violation in PostgreSQL's catalog): one at a time.
            cur.execute("SELECT pg_advisory_xact_lock(hashtext('cpwx schema'))")
            cur.execute(ddl)
        self._ensured.add(ddl)

    def _connect(self) -> psycopg.Connection[dict[str, Any]]:
        import psycopg
        from psycopg.rows import dict_row

        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=max(1, round(self.timeout)),
            row_factory=dict_row,
            options=f"-c statement_timeout={int(self.timeout * 1000)}",
        )

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None

    def upsert(self, rows: Sequence[IndexRow], host: str) -> None:
        cols = ", ".join(_ROW_COLUMNS)
        marks = ", ".join(["%s"] * len(_ROW_COLUMNS))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _ROW_COLUMNS[1:])
        with self.cursor() as cur:
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
        with self.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM cpwx_cache_index WHERE cache_key = %s AND created_at > %s",
                (cache_key, newer_than),
            )
            return cur.fetchone() is not None

    def newest_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        """The key parts of the newest whole entry of this layer for this audio."""
        with self.cursor() as cur:
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
        with self.cursor() as cur:
            cur.execute(
                "SELECT cache_key, file_path FROM cpwx_cache_index "
                "WHERE created_at + ttl_days * interval '1 day' < %s",
                (now,),
            )
            return [(r["cache_key"], r["file_path"]) for r in cur.fetchall()]

    def delete(self, cache_keys: Sequence[str]) -> None:
        with self.cursor() as cur:
            cur.execute(
                "DELETE FROM cpwx_cache_index WHERE cache_key = ANY(%s)", (list(cache_keys),)
            )

    def usage(self) -> tuple[int, int]:
        """(entries, payload bytes) in the shared store."""
        with self.cursor() as cur:
            cur.execute(
                "SELECT count(*) AS n, coalesce(sum(file_size), 0) AS b FROM cpwx_cache_index"
            )
            found = cur.fetchone()
        return (int(found["n"]), int(found["b"])) if found else (0, 0)


@dataclass
class SharedLevel:
    """The second level: an object store and its index, behind one circuit breaker.

    Implements ``Level``, and every call fails soft: after a failure the level is skipped for
    ``RETRY_AFTER_SECONDS`` (one warning per process), a lookup becomes a local miss and a write
    waits in ``outbox`` (one empty file per entry) for ``cache_store.share_pending``.
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

    def share(self, kind: str, keys: Sequence[str], action: Callable[[], object]) -> bool:
        """Run ``action`` (a write to this level); when the level is down, hold ``keys`` of
        ``kind`` in the outbox instead, for ``cache_store.share_pending``. False when held."""

        def done() -> bool:
            action()
            return True

        if not keys or self.call(done, False):
            return True
        for key in keys:
            self.hold(kind, key)
        return False

    # --- Level ------------------------------------------------------------------------------
    def read(self, rel: str) -> bytes | None:
        return self.call(lambda: self.objects.get(rel), None)

    def write(self, row: IndexRow, raw: bytes) -> bool:
        """Object first (it is the truth), then its row."""

        def both() -> None:
            self.objects.put(row.file_path, raw)
            self.index.upsert([row], self.host)

        return self.share(row.cache_type, [row.cache_key], both)

    def fresh(self, cache_key: str, rel: str, since: datetime) -> bool:  # noqa: ARG002
        naive = since.astimezone(UTC).replace(tzinfo=None)
        return self.call(lambda: self.index.has(cache_key, naive), False)

    def newest_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        return self.call(lambda: self.index.newest_parts(layer, audio_hash), None)

    def expire(self, now: datetime, dry_run: bool) -> int:
        """The TTL cleanup of this level (local size caps never remove shared entries):
        objects first, then their rows. Returns the entries expired (or that would be)."""

        def expire() -> int:
            old = self.index.expired(now)
            if not dry_run:
                self.objects.delete([rel for _, rel in old])
                self.index.delete([key for key, _ in old])
            return len(old)

        return self.call(expire, 0)


def _first_line(exc: BaseException) -> str:
    """The gist of a client error: AWS SDK messages carry the cause after "AWS Error"."""
    text = str(exc).strip() or type(exc).__name__
    aws = re.search(r"AWS Error .*?(?=; Details|$)", text)
    return (aws.group(0) if aws else text).splitlines()[0]
