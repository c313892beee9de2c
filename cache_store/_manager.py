"""CacheManager: the one public door to the store (the spec's Python API)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._index import Index, IndexRow
from ._keys import CacheKey, Layer, explain_difference
from ._payloads import PayloadError, quarantine, read_json_verified, write_json_atomic
from ._records import AudioFingerprint, Transcript

__all__ = ["CacheManager", "Lookup", "Outcome", "SourceStat"]

log = logging.getLogger("cache_store")

_LABEL = {Layer.FINGERPRINTS: "Fingerprint", Layer.ASR: "ASR", Layer.TRANSLATIONS: "Translation"}


class Outcome(StrEnum):
    HIT = "hit"
    MISS = "miss"
    EXPIRED = "expired"
    CORRUPTED = "corrupted"
    BYPASSED = "bypassed"


@dataclass(frozen=True)
class Lookup:
    key: CacheKey
    outcome: Outcome
    data: dict[str, Any] | None = None
    reason: str = ""
    saved_seconds: float = 0.0

    @property
    def hit(self) -> bool:
        return self.outcome is Outcome.HIT


@dataclass(frozen=True)
class SourceStat:
    """The identity a source file had when it was last decoded: any change means decode again."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> SourceStat:
        st = path.stat()
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CacheManager:
    """Content-addressed store: DuckDB index + JSON payloads under ``cache_dir``.

    ``enabled=False`` bypasses every read (``ENABLE_CACHING=false`` or ``--no-cache``) while still
    writing fresh results, so the next cached run benefits.
    """

    cache_dir: Path | str = "~/.cp-whisperx/cache"
    ttl_days: int = 90
    enabled: bool = True
    clock: Callable[[], datetime] = field(default=_utc_now)
    bypass_reason: str = "caching disabled"

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir).expanduser()
        self.index = Index(self.root / "index.duckdb")

    @property
    def root(self) -> Path:
        assert isinstance(self.cache_dir, Path)
        return self.cache_dir

    @property
    def models_dir(self) -> Path:
        """Layer 2: weights shared by all jobs; no cleanup ever removes it."""
        return self.root / "models"

    def _now(self) -> datetime:
        return self.clock().astimezone(UTC).replace(tzinfo=None)

    # --- generic layer access -------------------------------------------------------------
    def get(self, key: CacheKey) -> Lookup:
        label, short = _LABEL.get(key.layer, key.layer), key.digest[:8]
        if not self.enabled:
            log.info("%s cache BYPASSED: %s... (%s)", label, short, self.bypass_reason)
            return Lookup(key, Outcome.BYPASSED, reason=self.bypass_reason)
        row = self.index.get(key.digest)
        if row is None:
            reason = self._miss_reason(key)
            log.info("%s cache MISS: %s... (%s)", label, short, reason)
            return Lookup(key, Outcome.MISS, reason=reason)
        now = self._now()
        if now - row.created_at > timedelta(days=row.ttl_days):
            reason = f"older than CACHE_TTL_DAYS={row.ttl_days}"
            log.info("%s cache EXPIRED: %s... (%s)", label, short, reason)
            self._remove(row)
            return Lookup(key, Outcome.EXPIRED, reason=reason)
        path = self.root / row.file_path
        try:
            document = read_json_verified(path, row.checksum)
            if document.get("cache_key") != key.digest:
                raise PayloadError("payload belongs to another key")
        except PayloadError as exc:
            moved = quarantine(path, self.root / "quarantine", now.strftime("%Y%m%dT%H%M%S%f"))
            self.index.delete(row.cache_key)
            log.warning(
                "%s cache CORRUPTED: %s... (%s); quarantined to %s", label, short, exc, moved
            )
            return Lookup(key, Outcome.CORRUPTED, reason=str(exc))
        self.index.touch(row.cache_key, now)
        log.info("%s cache HIT: %s... (saves %.1f s)", label, short, row.compute_seconds)
        return Lookup(key, Outcome.HIT, document["data"], saved_seconds=row.compute_seconds)

    def put(self, key: CacheKey, data: Mapping[str, Any], compute_seconds: float = 0.0) -> None:
        now = self._now()
        rel = f"{key.layer}/{key.digest}.json"
        document = {
            "cache_key": key.digest,
            "layer": key.layer,
            "key_parts": dict(key.parts),
            "created_at": now.isoformat() + "Z",
            "compute_seconds": compute_seconds,
            "data": dict(data),
        }
        # Payload first, row second: a crash between leaves an orphan file, never a dangling row.
        checksum, size = write_json_atomic(self.root / rel, document)
        self.index.upsert(
            IndexRow(
                cache_key=key.digest,
                cache_type=key.layer,
                audio_hash=key.audio_hash,
                file_path=rel,
                file_size=size,
                checksum=checksum,
                created_at=now,
                last_accessed=now,
                access_count=1,
                ttl_days=self.ttl_days,
                compute_seconds=compute_seconds,
                metadata={"key_parts": dict(key.parts)},
            )
        )

    def contains(self, key: CacheKey) -> bool:
        """Cheap planning probe (no payload read): would ``get`` probably hit?"""
        if not self.enabled:
            return False
        row = self.index.get(key.digest)
        return row is not None and self._now() - row.created_at <= timedelta(days=row.ttl_days)

    def _miss_reason(self, key: CacheKey) -> str:
        if key.audio_hash is None:
            return "new content"
        others = self.index.same_audio(key.layer, key.audio_hash)
        if not others:
            return "new content"
        return explain_difference(key.parts, others[0].metadata.get("key_parts", {}))

    def _remove(self, row: IndexRow) -> None:
        self.index.delete(row.cache_key)
        (self.root / row.file_path).unlink(missing_ok=True)

    # --- stat fast path (layer 1) ---------------------------------------------------------
    def audio_hash_for(self, stat: SourceStat) -> str | None:
        """The audio hash recorded for this exact file state, without reading any media."""
        if not self.enabled:
            return None
        return self.index.source_hash(stat.device, stat.inode, stat.size, stat.mtime_ns)

    def record_source(self, path: Path, stat: SourceStat, audio_hash: str) -> None:
        self.index.record_source(
            stat.device, stat.inode, stat.size, stat.mtime_ns, str(path), audio_hash, self._now()
        )

    # --- the spec's API -------------------------------------------------------------------
    @staticmethod
    def fingerprint_key(audio_hash: str) -> CacheKey:
        return CacheKey.build(Layer.FINGERPRINTS, audio_hash=audio_hash)

    @staticmethod
    def asr_key(audio_hash: str, config: Mapping[str, Any]) -> CacheKey:
        return CacheKey.build(Layer.ASR, audio_hash=audio_hash, **config)

    def get_fingerprint(self, audio_hash: str) -> dict[str, Any] | None:
        return self.get(self.fingerprint_key(audio_hash)).data

    def set_fingerprint(self, fingerprint: AudioFingerprint, compute_seconds: float = 0.0) -> None:
        self.put(
            self.fingerprint_key(fingerprint.audio_hash), fingerprint.to_dict(), compute_seconds
        )

    def get_asr_result(self, audio_hash: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.get(self.asr_key(audio_hash, config)).data

    def set_asr_result(
        self,
        audio_hash: str,
        config: Mapping[str, Any],
        result: Mapping[str, Any] | Transcript,
        compute_seconds: float = 0.0,
    ) -> None:
        data = result.to_dict() if isinstance(result, Transcript) else dict(result)
        segments = data.get("segments")
        if not isinstance(segments, list) or not all(
            isinstance(s, Mapping) and {"start", "end", "text"} <= set(s) for s in segments
        ):
            raise ValueError("an ASR result needs 'segments', each with 'start', 'end' and 'text'")
        self.put(self.asr_key(audio_hash, config), data, compute_seconds)
