"""CacheManager: the one public door to the store (the spec's Python API)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from ._align import Fingerprint, subhashes
from ._cuts import CutLinks
from ._disk import is_disk_full, unless_disk_full
from ._glossary import GlossaryError
from ._glossary_store import movie_id_from_path
from ._history import JobRecord
from ._index import Index, IndexRow, IndexSession, row_from_json, row_to_json
from ._journal import Journal
from ._keys import CacheKey, Layer, explain_difference
from ._locks import exclusive
from ._payloads import PayloadError, decode, encode, quarantine, read_verified, stage
from ._records import AudioFingerprint, Transcript
from ._shared import SharedLevel
from ._similar import SimilarJob, compare, index_fingerprint
from ._tm import TmContext, TmEntry, TmMatch, TmPolicy, TranslationMemory, canonical

__all__ = ["MISS_KINDS", "CacheManager", "Lookup", "Outcome", "SourceStat"]

log = logging.getLogger("cache_store")

_SUBHASHES = "subhashes"  # outbox kind: a film's entry in the shared similar-cut index

_LABEL = {Layer.FINGERPRINTS: "Fingerprint", Layer.ASR: "ASR", Layer.TRANSLATIONS: "Translation"}


class Outcome(StrEnum):
    HIT = "hit"
    MISS = "miss"
    EXPIRED = "expired"
    CORRUPTED = "corrupted"
    BYPASSED = "bypassed"


MISS_KINDS = ("new content", "config changed", "model changed", "expired", "corrupted", "bypassed")


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

    @property
    def reason_kind(self) -> str | None:
        """One of MISS_KINDS for a miss; None for a hit."""
        if self.outcome is Outcome.HIT:
            return None
        if self.outcome is not Outcome.MISS:
            return self.outcome.value
        if self.reason.startswith("model changed"):
            return "model changed"
        if self.reason.startswith(("config changed", "code version changed")):
            return "config changed"
        return "new content"


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


def _title(source_file: str) -> str | None:
    """A film id from a stored source path: cuts of one film usually share their title."""
    try:
        return movie_id_from_path(Path(source_file))
    except GlossaryError:
        return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds") + "Z"


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.removesuffix("Z"))


@dataclass
class CacheManager:
    """Content-addressed store: JSON payloads named by their key, a DuckDB index beside them.

    A lookup reads one self-verifying payload file and appends an event to this process's
    journal; it never opens the index, which only writes and maintenance do. ``enabled=False``
    bypasses every read (``ENABLE_CACHING=false`` or ``--no-cache``) while still writing fresh
    results, so the next cached run benefits.

    With a ``shared`` level (sccache's two levels), a local miss asks the shared store, whose
    hit is copied to the local disk, and every write goes through to both.
    """

    cache_dir: Path | str = "~/.cp-whisperx/cache"
    ttl_days: int = 90
    enabled: bool = True
    clock: Callable[[], datetime] = field(default=_utc_now)
    bypass_reason: str = "caching disabled"
    tm: TmPolicy = field(default_factory=TmPolicy)
    shared: SharedLevel | None = None  # the second level (CACHE_BACKEND=shared)

    def __post_init__(self) -> None:
        self.cache_dir = Path(self.cache_dir).expanduser()
        self.index = Index(self.root / "index.duckdb")
        self.journal = Journal(self.root / "journal")
        self.cuts = CutLinks(self.root / "cuts")
        self._memories: dict[tuple[str, str], TranslationMemory] = {}

    @property
    def root(self) -> Path:
        assert isinstance(self.cache_dir, Path)
        return self.cache_dir

    @property
    def models_dir(self) -> Path:
        """Layer 2: weights shared by all jobs; no cleanup ever removes it."""
        return self.root / "models"

    @property
    def quarantine_dir(self) -> Path:
        return self.root / "quarantine"

    def now(self) -> datetime:
        """The injected clock, as naive UTC (the index's timestamps)."""
        return self.clock().astimezone(UTC).replace(tzinfo=None)

    @staticmethod
    def payload_rel(key: CacheKey) -> str:
        return _payload_rel(key.layer, key.digest)

    def payload_path(self, key: CacheKey) -> Path:
        return self.root / self.payload_rel(key)

    # --- generic layer access -------------------------------------------------------------
    def get(self, key: CacheKey) -> Lookup:
        return self.note(self._lookup(key))

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
        self.journal.append(
            {
                "kind": "event",
                **self._event(
                    key.layer,
                    key.digest,
                    lookup.outcome,
                    lookup.reason_kind,
                    lookup.reason,
                    lookup.saved_seconds,
                ),
            }
        )
        return lookup

    def _event(
        self,
        layer: str,
        key: str,
        outcome: Outcome,
        reason_kind: str | None,
        reason: str,
        saved_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """One ``cache_events`` row."""
        return {
            "ts": _iso(self.now()),
            "layer": layer,
            "cache_key": key,
            "outcome": outcome.value,
            "reason_kind": reason_kind,
            "reason": reason,
            "saved_seconds": round(saved_seconds, 4),
        }

    def note_glossary(self, movie_id: str, known: bool, reason: str) -> None:
        """Count a job's use of layer 5: a hit when its film's glossary already knew terms."""
        outcome = Outcome.HIT if known else Outcome.MISS if self.enabled else Outcome.BYPASSED
        kind = None if known else "new content" if self.enabled else "bypassed"
        event = self._event("glossary", movie_id, outcome, kind, reason)
        self.journal.append({"kind": "event", **event})

    def _lookup(self, key: CacheKey) -> Lookup:
        if not self.enabled:
            return Lookup(key, Outcome.BYPASSED, reason=self.bypass_reason)
        path = self.payload_path(key)
        try:
            document, checksum = read_verified(path)
            if document.get("cache_key") != key.digest:
                raise PayloadError("payload belongs to another key")
            if not {"created_at", "data"} <= document.keys():
                raise PayloadError("payload lacks its creation time or data")
        except FileNotFoundError:
            return self._from_shared(key) or self._missing(key)
        except PayloadError as exc:
            moved = quarantine(
                path, self.quarantine_dir / key.layer, self.now().strftime("%Y%m%dT%H%M%S%f")
            )
            self._forget(key)
            return Lookup(key, Outcome.CORRUPTED, reason=f"{exc}; quarantined to {moved}")
        if self.now() - _parse(document["created_at"]) > timedelta(days=self.ttl_days):
            self.remove([(key.digest, path, checksum)])
            return Lookup(key, Outcome.EXPIRED, reason=f"older than CACHE_TTL_DAYS={self.ttl_days}")
        return Lookup(
            key,
            Outcome.HIT,
            document["data"],
            saved_seconds=float(document.get("compute_seconds", 0.0)),
        )

    @unless_disk_full("the index row of a quarantined entry (validate drops it)")
    def _forget(self, key: CacheKey) -> None:
        with self.session() as s:
            s.delete([key.digest])

    @unless_disk_full("a cache entry")
    def put(
        self,
        key: CacheKey,
        data: Mapping[str, Any],
        compute_seconds: float = 0.0,
        share: bool = True,
    ) -> None:
        """Store locally, then write through to the shared level unless ``share`` is False
        (a job's own scratch, such as a killed job's ASR chunks)."""
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
        row = _row_of(document, self.payload_rel(key), raw, checksum)
        self._store_local(row, raw)
        if share and self.shared is not None:
            self.shared.publish(row, raw)

    def _store_local(self, row: IndexRow, raw: bytes) -> None:
        staged = stage(self.root / row.file_path, raw, row.checksum)
        # The payload is the truth and goes in first; its row reaches the index through the
        # journal, so a write never waits for the index (one DuckDB writer at a time, ~15 ms).
        with self.payload_lock():
            staged.commit()
            self.journal.append({"kind": "row", **row_to_json(row)})

    # --- the shared level -------------------------------------------------------------------
    def _from_shared(self, key: CacheKey) -> Lookup | None:
        """A hit from the shared level, copied to the local disk; None for any miss there."""
        shared = self.shared
        if shared is None:
            return None
        rel = self.payload_rel(key)
        raw = shared.call(lambda: shared.objects.get(rel), None)
        if raw is None:
            return None
        try:
            document, checksum = decode(raw)
            if document.get("cache_key") != key.digest:
                raise PayloadError("payload belongs to another key")
            row = _row_of(document, rel, raw, checksum, accessed=self.now())
        except (PayloadError, KeyError, TypeError, ValueError) as exc:
            log.warning("shared cache entry %s... is damaged (%s): ignored", key.digest[:8], exc)
            return None
        if self.now() - row.created_at > timedelta(days=self.ttl_days):
            return None
        unless_disk_full("a shared hit's local copy")(self._store_local)(row, raw)
        return Lookup(
            key,
            Outcome.HIT,
            document.get("data"),
            reason="from the shared cache",
            saved_seconds=row.compute_seconds,
        )

    def _shared_parts(self, layer: str, audio_hash: str) -> dict[str, Any] | None:
        """The key parts of the shared level's newest entry for this audio."""
        shared = self.shared
        if shared is None:
            return None
        return shared.call(lambda: shared.index.newest_parts(layer, audio_hash), None)

    def share_pending(self) -> int:
        """Share what was stored while the shared level was down; returns the entries still
        waiting (0 without a shared level)."""
        shared = self.shared
        if shared is None:
            return 0
        waiting = shared.held()
        if waiting and shared.available:
            memory = [key for kind, key in waiting if kind == "tm"]
            for kind, key in waiting:
                if kind == _SUBHASHES:
                    fingerprint = self.fingerprint(key)
                    if fingerprint is None or self._share_subhashes(shared, fingerprint):
                        shared.release(kind, key)
                elif kind != "tm" and self._share_payload(shared, kind, key):
                    shared.release(kind, key)
            if memory and shared.publish_memory(self._memory_rows(memory)):
                for key in memory:
                    shared.release("tm", key)
            waiting = shared.held()
        if waiting:
            log.warning(
                "%d cache entries are not shared yet (the shared cache was unreachable); they "
                "stay on this host and `cpwx cache push` shares them",
                len(waiting),
            )
        return len(waiting)

    def expire_shared(self, dry_run: bool = False) -> int:
        """The shared level's TTL cleanup (local size caps never remove shared entries):
        objects first, then their rows. Returns the entries expired (or that would be)."""
        shared = self.shared
        if shared is None:
            return 0

        def expire() -> int:
            old = shared.index.expired(self.now())
            if not dry_run:
                shared.objects.delete([rel for _, rel in old])
                shared.index.delete([key for key, _ in old])
            return len(old)

        return shared.call(expire, 0)

    def _share_payload(self, shared: SharedLevel, layer: str, digest: str) -> bool:
        """One held entry, read back from the local disk; True once shared or gone."""
        rel = _payload_rel(layer, digest)
        try:
            raw = (self.root / rel).read_bytes()
            document, checksum = decode(raw)
            row = _row_of(document, rel, raw, checksum)
        except (OSError, PayloadError, KeyError, TypeError, ValueError):
            return True  # removed or damaged here since: nothing to share
        return shared.publish(row, raw)

    def _memory_rows(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        with self.session() as s:
            rows: list[dict[str, Any]] = s.tm_rows(keys).to_pylist()
        return rows

    @unless_disk_full("a removal (the entries stay until a cleanup)", default=[])
    def remove(self, entries: Iterable[tuple[str, Path, str | None]]) -> list[str]:
        """Remove entries given as (key, payload path, checksum seen or None for any).

        Holds the payload lock, under which every ``put`` renames its file and journals its
        row, and applies the journal first: so the index knows every write, and an entry
        rewritten since it was seen (another checksum now) is left alone. Returns the keys
        removed.
        """
        wanted = list(entries)
        with self.payload_lock(), self.session() as s:
            current = dict(
                s.con.execute(
                    "SELECT cache_key, checksum FROM cache_index "
                    "WHERE cache_key IN (SELECT unnest(?))",
                    [[digest for digest, _, _ in wanted]],
                ).fetchall()
            )
            todo = [
                (digest, path)
                for digest, path, seen in wanted
                if seen is None or current.get(digest, seen) == seen
            ]

            def unlink(batch: list[tuple[str, Path]]) -> None:
                for _, path in batch:
                    path.unlink(missing_ok=True)

            # Unlinks are disk-bound (~100 us each once written back, on a VM disk); eight
            # threads, each over its own slice, overlap them.
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(unlink, [todo[i::8] for i in range(8)]))
            removed = [digest for digest, _ in todo]
            s.delete(removed)
        return removed

    def contains(self, key: CacheKey) -> bool:
        """Cheap planning probe (one stat, no read): would ``get`` probably hit?"""
        if not self.enabled:
            return False
        try:
            written = self.payload_path(key).stat().st_mtime
        except FileNotFoundError:
            shared = self.shared
            fresh_since = self.now() - timedelta(days=self.ttl_days)
            return shared is not None and shared.call(
                lambda: shared.index.has(key.digest, fresh_since), False
            )
        age = self.clock().timestamp() - written
        return age <= self.ttl_days * 86400

    def _missing(self, key: CacheKey) -> Lookup:
        """No payload: a plain miss, explained against the newest entry for the same audio,
        or damage if the index still lists this very key."""
        try:
            with self.session() as s:
                if s.get(key.digest) is not None:
                    s.delete([key.digest])
                    return Lookup(key, Outcome.CORRUPTED, reason="payload file missing")
                stored = _newest_parts(s, key.layer, key.audio_hash) if key.audio_hash else None
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return Lookup(key, Outcome.MISS, reason="not cached (index unusable: the disk is full)")
        if stored is None and key.audio_hash:
            stored = self._shared_parts(key.layer, key.audio_hash)
        if stored is None:
            return Lookup(key, Outcome.MISS, reason="new content")
        return Lookup(key, Outcome.MISS, reason=explain_difference(key.parts, stored))

    def asr_parts_of(self, audio_hash: str) -> dict[str, Any] | None:
        """The settings (``asr_key``'s config) of this audio's newest stored transcript."""
        try:
            with self.session() as s:
                parts = _newest_parts(s, Layer.ASR, audio_hash)
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return None
        parts = parts or self._shared_parts(Layer.ASR, audio_hash)
        own = ("audio_hash", "code_version")  # added by the key itself
        return None if parts is None else {k: v for k, v in parts.items() if k not in own}

    @contextmanager
    def session(self) -> Iterator[IndexSession]:
        """An index session, with every journaled row and event applied first (committed on
        its own, so a failure in the caller's work never loses them)."""
        self._apply_journal()
        with self.index.session() as s:
            yield s

    @unless_disk_full("the journal's rows and events (kept for the next session)")
    def _apply_journal(self) -> None:
        records = self.journal.drain()
        try:
            with self.index.session() as s:
                latest = {r["cache_key"]: r for r in records if r.get("kind") == "row"}
                s.upsert(row_from_json(r) for r in latest.values())
                s.add_events([r for r in records if r.get("kind") == "event"])
                s.jobs_upsert([r for r in records if r.get("kind") == "job"])
        except BaseException:
            for record in records:  # not stored: keep them for the next session
                self.journal.append(record)
            raise

    # --- job history (what the optimizer learns from) -------------------------------------
    def record_job(self, record: JobRecord) -> None:
        """Journaled like a row: a job never waits on the index to leave its record."""
        self.journal.append({"kind": "job", **record.row()})

    def job_history(self, days: float | None = None) -> list[JobRecord]:
        """Recorded jobs, oldest first; only the last ``days`` when given."""
        since = self.clock() - timedelta(days=days) if days is not None else None
        with self.session() as s:
            rows = s.jobs_select(since.replace(tzinfo=None) if since else None)
        return [JobRecord.from_row(r) for r in rows]

    def rate_job(self, job_id: str, rating: int) -> bool:
        """The user's 1-5 rating of a job's subtitles; False when no such job is recorded."""
        if not 1 <= rating <= 5:
            raise ValueError(f"a rating is 1 to 5, not {rating}")
        with self.session() as s:
            return s.job_rate(job_id, rating)

    def prune_history(self, days: float) -> int:
        """Forget jobs older than ``days`` (ML_TRAINING_DATA_RETENTION_DAYS)."""
        with self.session() as s:
            return s.jobs_prune((self.clock() - timedelta(days=days)).replace(tzinfo=None))

    def keys(self) -> set[str]:
        """Every key in the index (journaled writes included)."""
        with self.session() as s:
            return {r[0] for r in s.con.execute("SELECT cache_key FROM cache_index").fetchall()}

    @contextmanager
    def payload_lock(self) -> Iterator[None]:
        """Held while a payload is renamed in and its row journaled, or while payloads are
        removed: the two never interleave. Taken before the index lock, never inside it."""
        with exclusive(self.root / "payloads.lock"):
            yield

    @contextmanager
    def single_flight(self, key: CacheKey) -> Iterator[float]:
        """Held while one process computes ``key``: another job on the same key waits here and
        then finds the first one's result instead of computing it again. The kernel frees a
        crashed holder's lock. Yields the seconds spent waiting."""
        started = time.perf_counter()
        with exclusive(self.root / "locks" / f"{key.digest}.lock"):
            yield time.perf_counter() - started

    # --- stat fast path (layer 1) ---------------------------------------------------------
    def _source_file(self, stat: SourceStat) -> Path:
        return self.root / "sources" / f"{stat.device}-{stat.inode}.json"

    def audio_hash_for(self, stat: SourceStat) -> str | None:
        """The audio hash recorded for this exact file state, without reading any media."""
        if not self.enabled:
            return None
        try:
            document, _ = read_verified(self._source_file(stat))
        except (FileNotFoundError, PayloadError):
            return None
        if (document.get("size"), document.get("mtime_ns")) != (stat.size, stat.mtime_ns):
            return None
        value = document.get("audio_hash")
        return value if isinstance(value, str) else None

    @unless_disk_full("the source file's stat record")
    def record_source(self, path: Path, stat: SourceStat, audio_hash: str) -> None:
        raw, checksum = encode(
            {
                "source_path": str(path),
                "size": stat.size,
                "mtime_ns": stat.mtime_ns,
                "audio_hash": audio_hash,
                "recorded_at": _iso(self.now()),
            }
        )
        stage(self._source_file(stat), raw, checksum).commit()

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
        key = self.fingerprint_key(fingerprint.audio_hash)
        self.put(key, fingerprint.to_dict(), compute_seconds)

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

    # --- similar media (layer 1's Chromaprint) ---------------------------------------------
    @unless_disk_full("the fingerprint's similarity index")
    def index_fingerprint(self, fingerprint: AudioFingerprint) -> None:
        """Make a stored film findable by its other cuts, on every host with a shared level."""
        with self.session() as s:
            index_fingerprint(s, fingerprint)
        if self.shared is not None:
            self._share_subhashes(self.shared, fingerprint)

    def _share_subhashes(self, shared: SharedLevel, fingerprint: AudioFingerprint) -> bool:
        keys = subhashes(fingerprint.chromaprint).tolist()

        def publish() -> bool:
            shared.index.fp_index(fingerprint.audio_hash, keys)
            return True

        if shared.call(publish, False):
            return True
        shared.hold(_SUBHASHES, fingerprint.audio_hash)
        return False

    def fingerprint(self, audio_hash: str) -> AudioFingerprint | None:
        """A stored fingerprint, read without counting a lookup."""
        found = self._lookup(self.fingerprint_key(audio_hash))
        return AudioFingerprint.from_dict(found.data) if found.hit and found.data else None

    def find_similar_jobs(
        self, audio_hash: str, threshold: float = 0.80, limit: int = 5
    ) -> list[SimilarJob]:
        """The spec's lookup: stored films most like this audio, best first, with the shared
        spans, the similarity and its band. Only the films sharing the most Chromaprint
        subhashes are aligned, so the cost does not grow with the store."""
        new = self.fingerprint(audio_hash)
        return [] if new is None else self.similar_to(new, threshold, limit)

    def similar_to(
        self,
        new: AudioFingerprint,
        threshold: float = 0.80,
        limit: int = 5,
        at_speeds: Mapping[float, Fingerprint] | None = None,
    ) -> list[SimilarJob]:
        """``find_similar_jobs`` for a fingerprint already in hand (a job's). ``at_speeds``:
        the new audio also fingerprinted at other speeds (``SPEEDS``), so a PAL release finds
        and aligns with its film-speed cut; each candidate is aligned at the speed whose
        subhashes found it."""
        prints = {1.0: new.chromaprint, **(at_speeds or {})}
        found: dict[str, tuple[int, float]] = {}  # audio hash: (shared subhashes, speed)
        keys = {speed: subhashes(fp).tolist() for speed, fp in prints.items()}

        def vote(speed: float, candidates: list[tuple[str, int]]) -> None:
            for other, count in candidates:
                if count > found.get(other, (0, 1.0))[0]:
                    found[other] = (count, speed)

        try:
            with self.session() as s:
                for speed in prints:
                    vote(speed, s.fp_candidates(keys[speed], new.audio_hash, limit))
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            return []
        level = self.shared
        if level is not None:  # films other hosts processed

            def ask() -> list[tuple[float, list[tuple[str, int]]]]:
                return [
                    (speed, level.index.fp_candidates(keys[speed], new.audio_hash, limit))
                    for speed in prints
                ]

            nothing: list[tuple[float, list[tuple[str, int]]]] = []
            for speed, candidates in level.call(ask, nothing):
                vote(speed, candidates)
        best = sorted(found.items(), key=lambda item: (-item[1][0], item[0]))[:limit]
        jobs = []
        for other_hash, (shared, speed) in best:
            old = self.fingerprint(other_hash)
            if old is not None:
                titles = (_title(new.source_file), _title(old.source_file))
                jobs.append(compare(new, old, shared, titles, at_speeds, speed))
        return sorted((j for j in jobs if j.similarity >= threshold), key=lambda j: -j.similarity)

    # --- layer 4: translation memory ------------------------------------------------------
    def translation_memory(self, source_lang: str, target_lang: str) -> TranslationMemory:
        """The matcher for one language pair, loaded once per manager (writes reload it)."""
        pair = (source_lang, target_lang)
        if pair not in self._memories:
            shared = self.shared
            nothing: list[dict[str, Any]] = []
            theirs = (
                shared.call(lambda: shared.index.tm_select(source_lang, target_lang), nothing)
                if shared is not None
                else nothing
            )
            with self.session() as s:
                if theirs:  # backfill what other hosts translated
                    ours = s.tm_keys(source_lang, target_lang)
                    s.tm_upsert([row for row in theirs if row["cache_key"] not in ours])
                table = s.tm_select(source_lang, target_lang)
            self._memories[pair] = TranslationMemory(table)
        return self._memories[pair]

    def forget_memories(self) -> None:
        """Drop loaded matchers after the memory changed underneath them."""
        self._memories.clear()

    def find_translation_match(
        self,
        source: str,
        source_lang: str,
        target_lang: str,
        context: Mapping[str, Iterable[str]] | None = None,
        threshold: float | None = None,
    ) -> tuple[dict[str, Any] | None, float]:
        """The spec's lookup: (entry with at least ``target``, match level) or (None, 0.0).

        ``context`` holds ``prev`` and ``next``, each neighbouring source segments nearest
        first. Any model's translations qualify here; jobs narrow that to their own model.
        """
        if not self.enabled or not self.tm.enabled:
            return None, 0.0
        ctx = TmContext(
            tuple((context or {}).get("prev", ())), tuple((context or {}).get("next", ()))
        )
        found = self.translation_memory(source_lang, target_lang).match(
            source, ctx, threshold=self.tm.fuzzy_threshold if threshold is None else threshold
        )
        if found is None:
            return None, 0.0
        return {**found.entry.to_dict(), "target": found.target}, found.score

    def match_translations(self, queries: Sequence[TmEntry]) -> list[TmMatch | None]:
        """A job's lookups, one per segment (``target`` unused): this model's and human
        translations under the same glossary terms, at or above ``TM_FUZZY_MATCH_THRESHOLD``."""
        if not queries or not self.enabled or not self.tm.enabled:
            return [None for _ in queries]
        first = queries[0]
        memory = self.translation_memory(first.source_lang, first.target_lang)
        return [
            memory.match(
                q.source,
                q.context,
                threshold=self.tm.fuzzy_threshold,
                models=(q.model,),
                glossary_hash=q.glossary_hash,
            )
            for q in queries
        ]

    @unless_disk_full("the job's translations", default=0)
    def record_translations(
        self,
        queries: Sequence[TmEntry],
        matches: Sequence[TmMatch | None],
        fresh: Iterable[TmEntry],
    ) -> int:
        """After a job: store its fresh translations (not those under ``TM_MIN_CONFIDENCE``),
        count each reuse, and log one event per segment, in one index session. Returns the
        entries stored."""
        now = self.now()
        rows = {
            e.key: {**e.row(), "created_at": now, "last_used": now}
            for e in fresh
            if e.source and (e.user_approved or e.confidence >= self.tm.min_confidence)
        }
        reused: list[str] = []
        events = []
        for query, match in zip(queries, matches, strict=True):
            hit = match is not None and match.score >= self.tm.reuse_score
            if match is not None and hit:
                reused.append(match.entry.key)
                reason = f"{match.level} match {match.score:.2f}"
            elif match is not None:
                reason = f"best match {match.score:.2f} < {self.tm.reuse_score:.2f}"
            else:
                reason = "no match" if self.enabled else self.bypass_reason
            events.append(
                self._event(
                    Layer.TRANSLATIONS,
                    match.entry.key if hit and match else query.key,
                    Outcome.HIT if hit else Outcome.MISS if self.enabled else Outcome.BYPASSED,
                    None if hit else "new content" if self.enabled else "bypassed",
                    reason,
                    match.entry.compute_seconds if hit and match else 0.0,
                )
            )
        with self.session() as s:
            s.tm_upsert(list(rows.values()))
            s.tm_touch(reused, now)
            s.add_events(events)
        self._share_memory(list(rows.values()))
        self.forget_memories()
        log.info(
            "Translation memory: %d/%d segments reused, %d new entries stored",
            len(reused),
            len(events),
            len(rows),
        )
        return len(rows)

    def import_translations(self, entries: Iterable[TmEntry]) -> int:
        """Store entries as given (a TMX import): no confidence bar, timestamps kept."""
        now = self.now()
        rows = {
            e.key: {
                **e.row(),
                "created_at": e.created_at or now,
                "last_used": e.last_used or e.created_at or now,
            }
            for e in entries
        }
        with self.session() as s:
            s.tm_upsert(list(rows.values()))
        self._share_memory(list(rows.values()))
        self.forget_memories()
        return len(rows)

    def _share_memory(self, rows: Sequence[dict[str, Any]]) -> None:
        if self.shared is not None:
            self.shared.publish_memory(rows)

    def translations(
        self, source_lang: str | None = None, target_lang: str | None = None
    ) -> list[TmEntry]:
        """Every memory entry, optionally of one language pair (for TMX export)."""
        with self.session() as s:
            table = s.tm_select(source_lang, target_lang)
        return [TmEntry.from_row(row) for row in table.to_pylist()]

    def approve_translation(
        self, source: str, source_lang: str, target_lang: str, target: str | None = None
    ) -> int:
        """Mark a segment's translations approved; with ``target``, store the user's own
        translation as an approved human entry. Approved entries win ties and never expire.
        Returns the entries approved."""
        with self.session() as s:
            if target is not None:
                entry = TmEntry(source, target, source_lang, target_lang, user_approved=True)
                now = self.now()
                s.tm_upsert([{**entry.row(), "created_at": now, "last_used": now}])
            approved = s.tm_approve(canonical(source), source_lang, target_lang)
            rows = s.tm_rows(approved).to_pylist()
        self._share_memory(rows)
        self.forget_memories()
        return len(approved)


def _payload_rel(layer: str, digest: str) -> str:
    """``<layer>/<2 hex>/<key>.json``, on every level: 256 shards keep directories small, and
    so keep unlinks and lookups fast at millions of entries."""
    return f"{layer}/{digest[:2]}/{digest}.json"


def _row_of(
    document: Mapping[str, Any],
    rel: str,
    raw: bytes,
    checksum: str,
    accessed: datetime | None = None,
) -> IndexRow:
    """The index row of a payload, from its own document (so any level can rebuild it)."""
    created = _parse(document["created_at"])
    parts = dict(document.get("key_parts") or {})
    audio_hash = parts.get("audio_hash")
    return IndexRow(
        cache_key=document["cache_key"],
        cache_type=document["layer"],
        audio_hash=audio_hash if isinstance(audio_hash, str) else None,
        file_path=rel,
        file_size=len(raw),
        checksum=checksum,
        created_at=created,
        last_accessed=accessed or created,
        access_count=1,
        ttl_days=int(document.get("ttl_days", 90)),
        compute_seconds=float(document.get("compute_seconds", 0.0)),
        metadata={"key_parts": parts},
    )


def _newest_parts(s: IndexSession, layer: str, audio_hash: str) -> dict[str, Any] | None:
    rows = s.rows(
        # a killed job's ASR chunks (see the ASR stage) are not whole results
        "cache_type = ? AND audio_hash = ? AND json_extract(metadata, '$.key_parts.chunk') IS NULL",
        (layer, audio_hash),
        "ORDER BY created_at DESC LIMIT 1",
    )
    return dict(rows[0].metadata.get("key_parts", {})) if rows else None
