"""The store: content-addressed payloads on one or two levels, combined once.

A lookup reads one self-verifying payload and journals an event; it never opens the index, which
only writes and maintenance do. With a shared level (sccache's two levels), a local miss asks the
shared one, whose hit is copied to the local disk (backfill); every write goes to both, and what
the shared level cannot take now waits in its outbox. ``enabled=False`` bypasses every read
(``ENABLE_CACHING=false`` or ``--no-cache``) while still writing fresh results, so the next run
benefits; ``off`` bypasses single layers (``CACHE_ASR_RESULTS=false``).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ._disk import is_disk_full, unless_disk_full
from ._index import DEFAULT_TTL_DAYS, IndexRow, IndexSession, row_of
from ._keys import CacheKey, Layer, explain_difference
from ._level import Level, payload_rel
from ._local import JournalApplier, LocalLevel
from ._locks import exclusive
from ._lookup import Lookup, Outcome
from ._payloads import PayloadError, decode, encode
from ._shared import SharedLevel
from ._sources import Sources

__all__ = ["Store", "utc_now"]

log = logging.getLogger("cache_store")

_LABEL = {Layer.FINGERPRINTS: "Fingerprint", Layer.ASR: "ASR", Layer.TRANSLATIONS: "Translation"}

_LAYER_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Folders of the cache that hold no payloads: this store's, and those of the packages over it.
_NOT_LAYERS = frozenset(
    {"journal", "quarantine", "sources", "locks", "models", "outbox"}
    | {"cuts", "glossary_learned", "optimizer"}
)


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


@dataclass
class Store:
    root: Path
    ttl_days: int = DEFAULT_TTL_DAYS
    enabled: bool = True
    clock: Callable[[], datetime] = field(default=utc_now)
    bypass_reason: str = "caching disabled"
    shared: SharedLevel | None = None  # the second level (CACHE_BACKEND=shared)
    off: Mapping[str, str] = field(default_factory=dict)  # layer: the switch that turned it off
    layers: Sequence[str] = Layer.ALL  # payload folders: the spec's, and any a stage adds

    def __post_init__(self) -> None:
        bad = [x for x in self.layers if not _LAYER_NAME.fullmatch(x) or x in _NOT_LAYERS]
        if bad:
            raise ValueError(f"{bad[0]!r} cannot be a layer: use another name (a-z, 0-9, _)")
        self.root = Path(self.root).expanduser()
        self.local = LocalLevel(self.root)
        self.levels: tuple[Level, ...] = (self.local,) + ((self.shared,) if self.shared else ())
        self.sources = Sources(self.root / "sources", lambda: _iso(self.now()))

    @property
    def models_dir(self) -> Path:
        """Layer 2: weights shared by all jobs; no cleanup ever removes it."""
        return self.root / "models"

    @property
    def quarantine_dir(self) -> Path:
        return self.local.quarantine_dir

    def now(self) -> datetime:
        """The injected clock, as naive UTC (the index's timestamps)."""
        return self.clock().astimezone(UTC).replace(tzinfo=None)

    @staticmethod
    def payload_rel(key: CacheKey) -> str:
        """Where ``key``'s payload lies under the root (and on the shared level)."""
        return payload_rel(key.layer, key.digest)

    def payload_path(self, key: CacheKey) -> Path:
        return self.root / self.payload_rel(key)

    def bypassed(self, layer: str) -> str | None:
        """Why reads of ``layer`` are bypassed, or None when they are not."""
        if not self.enabled:
            return self.bypass_reason
        return self.off.get(layer)

    # --- lookups ----------------------------------------------------------------------------
    def get(self, key: CacheKey) -> Lookup:
        return self.note(self.peek(key))

    def peek(self, key: CacheKey) -> Lookup:
        """``get`` without logging or counting the lookup (a look at a stored record)."""
        off = self.bypassed(key.layer)
        if off is not None:
            return Lookup(key, Outcome.BYPASSED, reason=off)
        rel = payload_rel(key.layer, key.digest)
        for depth, level in enumerate(self.levels):
            try:
                raw = level.read(rel)
                if raw is None:
                    continue
                document, row = self._verified(key, rel, raw)
            except PayloadError as exc:
                if depth > 0:  # another host's copy: this host's own truth is untouched
                    log.warning(
                        "shared cache entry %s... is damaged (%s): ignored", key.digest[:8], exc
                    )
                    continue
                moved = self.local.quarantine(
                    rel, key.layer, self.now().strftime("%Y%m%dT%H%M%S%f")
                )
                return Lookup(key, Outcome.CORRUPTED, reason=f"{exc}; quarantined to {moved}")
            if self.now() - row.created_at > timedelta(days=self.ttl_days):
                if depth > 0:
                    continue
                self.remove([(key.digest, rel, row.checksum)])
                why = f"older than CACHE_TTL_DAYS={self.ttl_days}"
                return Lookup(key, Outcome.EXPIRED, reason=why)
            for upper in self.levels[:depth]:  # backfill: the next lookup is a local hit
                unless_disk_full("a shared hit's local copy")(upper.write)(row, raw)
            return Lookup(
                key,
                Outcome.HIT,
                document["data"],
                reason="from the shared cache" if depth else "",
                saved_seconds=row.compute_seconds,
            )
        return self._missing(key)

    def _verified(self, key: CacheKey, rel: str, raw: bytes) -> tuple[dict[str, Any], IndexRow]:
        document, checksum = decode(raw)
        if document.get("cache_key") != key.digest:
            raise PayloadError("payload belongs to another key")
        if not {"created_at", "data"} <= document.keys():
            raise PayloadError("payload lacks its creation time or data")
        try:
            return document, row_of(document, rel, len(raw), checksum, accessed=self.now())
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"malformed payload ({exc})") from exc

    def _missing(self, key: CacheKey) -> Lookup:
        """No payload: a plain miss, explained against the newest entry for the same audio,
        or damage if the index still lists this very key."""
        try:
            with self.session() as s:
                if s.get(key.digest) is not None:
                    s.delete([key.digest])
                    return Lookup(key, Outcome.CORRUPTED, reason="payload file missing")
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return Lookup(key, Outcome.MISS, reason="not cached (index unusable: the disk is full)")
        stored = self.parts_of(key.layer, key.audio_hash) if key.audio_hash else None
        if stored is None:
            return Lookup(key, Outcome.MISS, reason="new content")
        return Lookup(key, Outcome.MISS, reason=explain_difference(key.parts, stored))

    def parts_of(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        """The key parts of the newest whole entry of ``layer`` for this audio, on any level."""
        return next(
            (p for level in self.levels if (p := level.newest_parts(layer, audio_hash))), None
        )

    def contains(self, key: CacheKey, *, shared: bool = True) -> bool:
        """Cheap planning probe (one stat, no read): would ``get`` probably hit? ``shared=False``
        asks this host only (for what ``put(share=False)`` keeps)."""
        if self.bypassed(key.layer) is not None:
            return False
        since = self.clock() - timedelta(days=self.ttl_days)
        rel = payload_rel(key.layer, key.digest)
        levels = self.levels if shared else self.levels[:1]
        return any(level.fresh(key.digest, rel, since) for level in levels)

    # --- events -----------------------------------------------------------------------------
    def note(self, lookup: Lookup) -> Lookup:
        """Log a lookup and record it in the event log (``get`` does this for its own)."""
        key = lookup.key
        label, short = _LABEL.get(key.layer, key.layer), key.digest[:8]
        if lookup.hit:
            log.info("%s cache HIT: %s... (saves %.1f s)", label, short, lookup.saved_seconds)
        else:
            level = logging.WARNING if lookup.outcome is Outcome.CORRUPTED else logging.INFO
            log.log(
                level, "%s cache %s: %s... (%s)", label, lookup.outcome.name, short, lookup.reason
            )
        self.record_event(
            self.event(
                key.layer,
                key.digest,
                lookup.outcome,
                lookup.reason_kind,
                lookup.reason,
                lookup.saved_seconds,
            )
        )
        return lookup

    def event(
        self,
        layer: str,
        key: str,
        outcome: Outcome,
        reason_kind: str | None,
        reason: str,
        saved_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """One ``cache_events`` row (a caller storing many adds them in one session)."""
        return {
            "ts": _iso(self.now()),
            "layer": layer,
            "cache_key": key,
            "outcome": outcome.value,
            "reason_kind": reason_kind,
            "reason": reason,
            "saved_seconds": round(saved_seconds, 4),
        }

    def record_event(self, event: Mapping[str, Any]) -> None:
        """Journal one event: counted in ``cpwx cache stats`` without waiting on the index."""
        self.local.journal.append({"kind": "event", **event})

    # --- writes -----------------------------------------------------------------------------
    @unless_disk_full("a cache entry")
    def put(
        self,
        key: CacheKey,
        data: Mapping[str, Any],
        compute_seconds: float = 0.0,
        share: bool = True,
    ) -> None:
        """Store on every level, this host's first; ``share=False`` keeps it on this host (a
        job's own scratch, such as a killed job's ASR chunks)."""
        document = {
            "cache_key": key.digest,
            "layer": key.layer,
            "key_parts": dict(key.parts),
            "created_at": _iso(self.now()),
            "ttl_days": self.ttl_days,
            "compute_seconds": round(compute_seconds, 3),
            "data": dict(data),
        }
        raw, checksum = encode(document)
        row = row_of(document, payload_rel(key.layer, key.digest), len(raw), checksum)
        for level in self.levels if share else self.levels[:1]:
            level.write(row, raw)

    def discard(self, keys: Iterable[CacheKey]) -> list[str]:
        """Remove these entries from this host, whatever they hold now."""
        return self.remove((k.digest, payload_rel(k.layer, k.digest), None) for k in keys)

    def remove(self, entries: Iterable[tuple[str, str, str | None]]) -> list[str]:
        """Remove entries from this host, given as (key, payload path relative to the root,
        checksum seen or None for any); an entry rewritten since it was seen stays."""
        return self.local.remove(entries)

    # --- the shared level ------------------------------------------------------------------
    def expire_shared(self, dry_run: bool = False) -> int:
        """The shared level's TTL cleanup; 0 without one."""
        return self.shared.expire(self.now(), dry_run) if self.shared is not None else 0

    def keys(self) -> set[str]:
        """Every key in this host's index (journaled writes included)."""
        with self.session() as s:
            return s.keys()

    # --- sessions and locks -----------------------------------------------------------------
    def session(self) -> AbstractContextManager[IndexSession]:
        """An index session on this host's index, every journaled record applied first."""
        return self.local.session()

    def on_journal(self, kind: str, apply: JournalApplier) -> None:
        self.local.on_journal(kind, apply)

    def journal(self, record: Mapping[str, Any]) -> None:
        """Journal a domain package's record (``kind`` names its applier, see ``on_journal``)."""
        self.local.journal.append(dict(record))

    def payload_lock(self) -> AbstractContextManager[None]:
        return self.local.payload_lock()

    @contextmanager
    def single_flight(self, key: CacheKey) -> Iterator[float]:
        """Held while one process computes ``key``: another job on the same key waits here and
        then finds the first one's result instead of computing it again. The kernel frees a
        crashed holder's lock. Yields the seconds spent waiting."""
        started = time.perf_counter()
        with exclusive(self.root / "locks" / f"{key.digest}.lock"):
            yield time.perf_counter() - started
