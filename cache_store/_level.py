"""One interface for every place payloads live, as httpx puts all I/O behind its transport.

A level holds payloads (self-verifying bytes under ``<layer>/<2 hex>/<key>.json``) and their
index rows. ``LocalLevel`` is this host's disk and DuckDB index, the truth for its host;
``SharedLevel`` is S3-compatible storage and PostgreSQL that many hosts share. ``Store``
combines them once: reads go down the levels and backfill the ones above, writes go to each.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ._index import IndexRow

__all__ = ["Level", "payload_rel"]


def payload_rel(layer: str, digest: str) -> str:
    """``<layer>/<2 hex>/<key>.json``, on every level: 256 shards keep directories small, and
    so keep unlinks and lookups fast at millions of entries."""
    return f"{layer}/{digest[:2]}/{digest}.json"


class Level(Protocol):
    where: str  # for messages: a folder, or s3://bucket/prefix

    def read(self, rel: str) -> bytes | None:
        """The payload's bytes; None when this level does not have it (or cannot answer).
        Bytes are verified by the caller; an unreadable local file raises ``PayloadError``."""
        ...

    def write(self, row: IndexRow, raw: bytes) -> bool:
        """Store a payload and its row; False when it could not be stored now (held for later)."""
        ...

    def fresh(self, cache_key: str, rel: str, since: datetime) -> bool:
        """Cheap probe: does this level hold the entry, written at or after ``since`` (UTC)?"""
        ...

    def newest_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        """The key parts of this level's newest whole entry of ``layer`` for this audio: what a
        miss is explained against."""
        ...
