"""Keeping the store healthy: stats, cleanup, clear, invalidate, validate, rebuild.

Every operation that changes entries runs under the index lock, as writes do; a cleanup also
holds ``cleanup.lock`` for its whole run, so two cleanups never both trim for the same excess.
What domain packages keep beside the payloads (the translation memory, the similar-cut index)
joins in through the ``also`` callbacks, inside the same index session.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ._index import Index, IndexRow, IndexSession, Victim, row_of
from ._keys import Layer
from ._locks import exclusive
from ._payloads import PayloadError, quarantine, read_verified
from ._store import Store

__all__ = [
    "CacheStats",
    "DayStats",
    "Eviction",
    "LayerStats",
    "Problem",
    "ValidationReport",
    "clear",
    "dir_usage",
    "evict",
    "invalidate",
    "list_largest",
    "rebuild_index",
    "record_snapshot",
    "stats",
    "validate",
]

log = logging.getLogger("cache_store")

_MISSES = ("miss", "expired", "corrupted")
# What a domain package does in the same session: counts to add, by layer.
Also = Callable[[IndexSession], Mapping[str, int]]


def dir_usage(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path``."""
    size = files = 0
    if path.exists():
        for p in path.rglob("*"):
            if p.is_file() and not p.is_symlink() and not p.name.startswith("."):
                size += p.stat().st_size
                files += 1
    return size, files


def _stamp(store: Store) -> str:
    return store.now().strftime("%Y%m%dT%H%M%S%f")


# --- stats ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerStats:
    layer: str
    entries: int
    bytes: int
    hits: int = 0
    misses: int = 0
    bypassed: int = 0
    saved_seconds: float = 0.0

    @property
    def hit_rate(self) -> float | None:
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


@dataclass(frozen=True)
class DayStats:
    day: str
    layer: str
    hits: int
    misses: int
    saved_seconds: float


@dataclass(frozen=True)
class CacheStats:
    generated_at: datetime
    days: int
    total_bytes: int
    max_bytes: int
    files: int
    oldest_entry: datetime | None
    layers: tuple[LayerStats, ...]
    miss_reasons: dict[str, int]
    daily: tuple[DayStats, ...]
    cost_per_gpu_minute: float

    @property
    def saved_seconds(self) -> float:
        return sum(layer.saved_seconds for layer in self.layers)

    @property
    def cost_saved(self) -> float:
        """The spec's estimate: compute time a hit saved, priced per GPU-minute."""
        return self.saved_seconds / 60 * self.cost_per_gpu_minute

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["generated_at"] = self.generated_at.isoformat() + "Z"
        out["oldest_entry"] = self.oldest_entry.isoformat() + "Z" if self.oldest_entry else None
        out["saved_seconds"] = round(self.saved_seconds, 1)
        out["cost_saved"] = round(self.cost_saved, 2)
        for layer, src in zip(out["layers"], self.layers, strict=True):
            layer["hit_rate"] = src.hit_rate
        return out


def stats(
    store: Store,
    days: int = 30,
    max_bytes: int = 50 << 30,
    cost_per_gpu_minute: float = 0.05,
    extra: Mapping[str, tuple[int, int]] | None = None,
) -> CacheStats:
    """The spec's report. ``extra``: (entries, bytes) kept outside the payloads, by layer: added
    to a payload layer, or a layer of its own after them (the glossary's files)."""
    now = store.now()
    since = now - timedelta(days=days)
    with store.session() as s:
        sizes = s.usage()
        oldest = s.oldest()
        counts = s.outcomes(since)
        reasons = s.miss_reasons(since)
        daily = s.daily(since)

    def layer_stats(layer: str, entries: int, size: int) -> LayerStats:
        return LayerStats(
            layer,
            entries,
            size,
            hits=counts.get((layer, "hit"), (0, 0.0))[0],
            misses=sum(counts.get((layer, o), (0, 0.0))[0] for o in _MISSES),
            bypassed=counts.get((layer, "bypassed"), (0, 0.0))[0],
            saved_seconds=round(counts.get((layer, "hit"), (0, 0.0))[1], 3),
        )

    def used(layer: str) -> tuple[int, int]:
        n, b = sizes.get(layer, (0, 0))
        more = (extra or {}).get(layer, (0, 0))
        return n + more[0], b + more[1]

    layers = [layer_stats(layer, *used(layer)) for layer in store.layers]
    models = dir_usage(store.models_dir)
    layers.insert(1, LayerStats("models", models[1], models[0]))
    layers += [layer_stats(name, *used(name)) for name in extra or {} if name not in store.layers]
    index_path = store.local.index.path
    index_bytes = index_path.stat().st_size if index_path.exists() else 0
    return CacheStats(
        generated_at=now,
        days=days,
        total_bytes=sum(layer.bytes for layer in layers) + index_bytes,
        max_bytes=max_bytes,
        files=sum(layer.entries for layer in layers) + 1,
        oldest_entry=oldest,
        layers=tuple(layers),
        miss_reasons=reasons,
        daily=tuple(DayStats(*day) for day in daily),
        cost_per_gpu_minute=cost_per_gpu_minute,
    )


def record_snapshot(store: Store, snapshot: CacheStats) -> None:
    """Keep a stats snapshot in the index, for trends beyond the event window."""
    with store.session() as s:
        s.add_snapshot(snapshot.generated_at, snapshot.to_json())


# --- cleanup --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Eviction:
    """What a cleanup removed from the payloads (or would, on a dry run)."""

    dry_run: bool
    expired: int
    evicted_by_usage: int
    evicted_for_size: int
    freed_bytes: int
    bytes_before: int
    bytes_after: int
    max_bytes: int
    removed: tuple[str, ...] = field(repr=False, default=())

    @property
    def removed_count(self) -> int:
        return self.expired + self.evicted_by_usage + self.evicted_for_size


def evict(
    store: Store,
    *,
    max_bytes: int,
    days: int | None = None,
    keep_top: int | None = None,
    dry_run: bool = False,
    pinned_bytes: int = 0,
) -> Eviction:
    """TTL expiry, then usage (``keep_top``), then the size cap counting ``pinned_bytes`` (the
    models and other files no cleanup removes)."""
    with exclusive(store.root / "cleanup.lock"):
        now = store.now()
        cutoff = now - timedelta(days=days if days is not None else store.ttl_days)
        pinned = dir_usage(store.models_dir)[0] + pinned_bytes
        with store.session() as s:
            payload_bytes = sum(b for _, b in s.usage().values())
            expired = s.created_before(cutoff)
            gone = {v.cache_key for v in expired}
            by_usage = (
                [v for v in s.least_used(keep_top) if v.cache_key not in gone]
                if (keep_top is not None)
                else []
            )
            gone |= {v.cache_key for v in by_usage}
            remaining = payload_bytes - sum(v.file_size for v in (*expired, *by_usage))
            excess = remaining + pinned - max_bytes
            for_size: list[Victim] = []
            if excess > 0:
                for victim in s.by_eviction_score(now):
                    if excess <= 0:
                        break
                    if victim.cache_key not in gone:
                        for_size.append(victim)
                        excess -= victim.file_size
        victims = [*expired, *by_usage, *for_size]
        if dry_run:
            kept = {v.cache_key for v in victims}
        else:
            kept = set(store.remove((v.cache_key, v.file_path, v.checksum) for v in victims))
        freed = sum(v.file_size for v in victims if v.cache_key in kept)
        return Eviction(
            dry_run=dry_run,
            expired=sum(1 for v in expired if v.cache_key in kept),
            evicted_by_usage=sum(1 for v in by_usage if v.cache_key in kept),
            evicted_for_size=sum(1 for v in for_size if v.cache_key in kept),
            freed_bytes=freed,
            bytes_before=payload_bytes + pinned,
            bytes_after=payload_bytes + pinned - freed,
            max_bytes=max_bytes,
            removed=tuple(sorted(kept)),
        )


# --- clear, invalidate, list ----------------------------------------------------------------
def clear(store: Store, layers: Sequence[str], also: Also | None = None) -> dict[str, int]:
    """Remove whole payload layers (and the models); returns entries (files, for models)
    removed, plus what ``also`` counts."""
    removed: dict[str, int] = {}
    with store.payload_lock(), store.session() as s:
        for layer in layers:
            if layer in store.layers:
                removed[layer] = s.delete_layer(layer)
                shutil.rmtree(store.root / layer, ignore_errors=True)
                if layer == Layer.FINGERPRINTS:
                    shutil.rmtree(store.sources.root, ignore_errors=True)
            elif layer == "models":
                removed[layer] = dir_usage(store.models_dir)[1]
                shutil.rmtree(store.models_dir, ignore_errors=True)
        for layer, n in (also(s) if also else {}).items():
            removed[layer] = removed.get(layer, 0) + n
    return {layer: removed.get(layer, 0) for layer in layers}


def invalidate(store: Store, audio_hash: str, also: Also | None = None) -> dict[str, int]:
    """The spec's cascade: an audio hash takes its fingerprint, ASR and translations with it
    (``also``: what domain packages derived from it)."""
    with store.session() as s:
        rows = s.rows_of_audio(audio_hash)
        more = dict(also(s)) if also else {}
    removed = set(store.remove((r.cache_key, r.file_path, None) for r in rows))
    store.sources.forget(audio_hash)
    counts = dict.fromkeys(store.layers, 0)
    for r in rows:
        if r.cache_key in removed:
            counts[r.cache_type] += 1
    for layer, n in more.items():
        counts[layer] = counts.get(layer, 0) + n
    return counts


def list_largest(store: Store, top: int = 20) -> list[tuple[str, str, int]]:
    """(layer, key or model folder, bytes), largest first; model folders included."""
    with store.session() as s:
        entries = s.largest(top)
    if store.models_dir.exists():
        for kind in store.models_dir.iterdir():
            for model in kind.iterdir() if kind.is_dir() else ():
                entries.append(("models", f"{kind.name}/{model.name}", dir_usage(model)[0]))
    return sorted(entries, key=lambda e: -e[2])[:top]


# --- validate and rebuild -------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    kind: str  # corrupted | missing payload | orphan payload | stale temp file
    path: str
    detail: str = ""


@dataclass(frozen=True)
class ValidationReport:
    checked: int
    problems: tuple[Problem, ...]
    fixed: bool

    @property
    def ok(self) -> bool:
        return not self.problems


def _payload_files(store: Store) -> Iterator[Path]:
    for layer in store.layers:
        folder = store.root / layer
        if folder.exists():
            yield from folder.glob("*/*.json")


def _check_payload(
    store: Store, path: Path, expected_key: str | None = None
) -> tuple[dict[str, Any], IndexRow]:
    """A payload file's document and the row it describes, checked against where it lies."""
    document, checksum = read_verified(path)
    key = document.get("cache_key")
    if key != path.stem or (expected_key is not None and key != expected_key):
        raise PayloadError(f"payload names key {str(key)[:8]}, file is {path.stem[:8]}")
    if path.parent.name != path.stem[:2]:
        raise PayloadError("payload is in the wrong shard")
    if document.get("layer") != path.parent.parent.name:
        raise PayloadError(f"payload says layer {document.get('layer')!r}")
    rel = str(path.relative_to(store.root))
    try:
        return document, row_of(document, rel, path.stat().st_size, checksum)
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"malformed payload ({exc})") from exc


def _quarantine(store: Store, path: Path, stamp: str) -> None:
    quarantine(path, store.quarantine_dir / path.parent.parent.name, stamp)


def _check_indexed(
    store: Store, rows: dict[str, IndexRow], fix: bool, stamp: str
) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    doomed: list[str] = []
    for rel, row in rows.items():
        path = store.root / rel
        try:
            _, found = _check_payload(store, path, row.cache_key)
            if found.checksum != row.checksum:
                raise PayloadError("checksum differs from the index")
        except FileNotFoundError:
            problems.append(Problem("missing payload", rel))
            doomed.append(row.cache_key)
        except PayloadError as exc:
            problems.append(Problem("corrupted", rel, str(exc)))
            doomed.append(row.cache_key)
            if fix:
                _quarantine(store, path, stamp)
    return problems, doomed


def _check_orphans(
    store: Store, rows: dict[str, IndexRow], fix: bool, stamp: str
) -> tuple[list[Problem], list[IndexRow]]:
    problems: list[Problem] = []
    adopt: list[IndexRow] = []
    for path in _payload_files(store):
        rel = str(path.relative_to(store.root))
        if rel in rows:
            continue
        try:
            _, row = _check_payload(store, path)
        except PayloadError as exc:
            problems.append(Problem("corrupted", rel, f"orphan: {exc}"))
            if fix:
                _quarantine(store, path, stamp)
            continue
        problems.append(Problem("orphan payload", rel, "valid, not in the index"))
        adopt.append(row)
    return problems, adopt


def _stale_temps(store: Store, fix: bool) -> list[Problem]:
    problems = []
    for layer in store.layers:
        for temp in (store.root / layer).rglob(".*.tmp"):
            if time.time() - temp.stat().st_mtime > 3600:
                problems.append(Problem("stale temp file", str(temp.relative_to(store.root))))
                if fix:
                    temp.unlink(missing_ok=True)
    return problems


def validate(store: Store, fix: bool = False) -> ValidationReport:
    """Check every entry against its payload, and every payload against the index.

    ``fix`` quarantines damaged payloads, drops rows without a good payload, adopts valid
    payloads the index lost, and removes temp files left by killed writers.
    """
    with store.session() as s:
        rows = {r.file_path: r for r in s.rows()}
    stamp = _stamp(store)
    indexed, doomed = _check_indexed(store, rows, fix, stamp)
    orphans, adopt = _check_orphans(store, rows, fix, stamp)
    problems = (*indexed, *orphans, *_stale_temps(store, fix))
    if fix and (doomed or adopt):
        with store.session() as s:
            s.delete(doomed)
            s.upsert(adopt)
    return ValidationReport(checked=len(rows), problems=problems, fixed=fix)


# What domain packages rebuild in a new index: (new index, the old index file, the payloads'
# documents by layer). The old file may not open: that is theirs to handle.
Rebuild = Callable[[Index, Path, Mapping[str, list[dict[str, Any]]]], None]


def rebuild_index(store: Store, also: Rebuild | None = None) -> tuple[int, int]:
    """A new index from the payload files alone; damaged payloads go to quarantine.

    Returns (entries indexed, payloads quarantined). The old index is replaced atomically.
    """
    rows: list[IndexRow] = []
    documents: dict[str, list[dict[str, Any]]] = {}
    bad = 0
    stamp = _stamp(store)
    for path in _payload_files(store):
        try:
            document, row = _check_payload(store, path)
            rows.append(row)
            documents.setdefault(row.cache_type, []).append(document)
        except PayloadError:
            _quarantine(store, path, stamp)
            bad += 1
    index = store.local.index
    fresh = index.path.with_name("index.rebuild.duckdb")
    fresh.unlink(missing_ok=True)
    new_index = Index(fresh)
    with new_index.session() as s:
        s.upsert(rows)
    if also is not None:
        also(new_index, index.path, documents)
    duckdb.connect(str(fresh)).close()  # checkpoint the WAL into the file before the swap
    with exclusive(index.lock_path):
        fresh.replace(index.path)
        index.path.with_name(index.path.name + ".wal").unlink(missing_ok=True)
        index.forget_schema()
    new_index.lock_path.unlink(missing_ok=True)
    return len(rows), bad
