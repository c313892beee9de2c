"""Keeping the store healthy: stats, cleanup, clear, invalidate, validate, rebuild.

Every operation that changes entries runs under the index lock, as writes do; a cleanup also
holds ``cleanup.lock`` for its whole run, so two cleanups never both trim for the same excess.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from ._index import Index, IndexDamagedError, IndexRow
from ._keys import Layer
from ._locks import exclusive
from ._manager import CacheManager, _parse
from ._payloads import PayloadError, quarantine, read_verified
from ._records import AudioFingerprint
from ._similar import index_fingerprint

__all__ = [
    "CLEARABLE",
    "CacheStats",
    "CleanupReport",
    "LayerStats",
    "Problem",
    "ValidationReport",
    "cleanup",
    "clear",
    "invalidate",
    "list_largest",
    "rebuild_index",
    "record_snapshot",
    "row_from_document",
    "stats",
    "validate",
]

log = logging.getLogger("cache_store")

GLOSSARY_DIR = "glossary_learned"
CLEARABLE = (*Layer.ALL, "glossary", "models")
_MISSES = ("miss", "expired", "corrupted")
# Eviction keeps what is expensive to recompute per byte and recently used: the lowest
# (compute seconds per byte) / (1 + days since last use) goes first.
_SCORE = (
    "(compute_seconds + 0.001) / greatest(file_size, 1) "
    "/ (1 + date_diff('second', last_accessed, ?::TIMESTAMP) / 86400.0)"
)


def dir_usage(path: Path) -> tuple[int, int]:
    """Bytes and files under ``path``."""
    size = files = 0
    if path.exists():
        for p in path.rglob("*"):
            if p.is_file() and not p.is_symlink() and not p.name.startswith("."):
                size += p.stat().st_size
                files += 1
    return size, files


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
    cache: CacheManager,
    days: int = 30,
    max_bytes: int = 50 << 30,
    cost_per_gpu_minute: float = 0.05,
) -> CacheStats:
    now = cache.now()
    since = now - timedelta(days=days)
    with cache.session() as s:
        sizes = {
            layer: (n, b)
            for layer, n, b in s.con.execute(
                "SELECT cache_type, count(*), coalesce(sum(file_size), 0) FROM cache_index "
                "GROUP BY 1"
            ).fetchall()
        }
        oldest = s.con.execute("SELECT min(created_at) FROM cache_index").fetchone()
        memory = s.tm_usage()
        events = s.con.execute(
            "SELECT layer, outcome, count(*), coalesce(sum(saved_seconds), 0) FROM cache_events "
            "WHERE ts >= ? GROUP BY 1, 2",
            [since],
        ).fetchall()
        reasons = s.con.execute(
            "SELECT reason_kind, count(*) FROM cache_events WHERE ts >= ? AND outcome <> 'hit' "
            "GROUP BY 1 ORDER BY 2 DESC",
            [since],
        ).fetchall()
        daily = s.con.execute(
            "SELECT strftime(ts, '%Y-%m-%d') AS d, layer, count(*) FILTER (outcome = 'hit'), "
            "count(*) FILTER (outcome IN ('miss', 'expired', 'corrupted')), "
            "coalesce(sum(saved_seconds), 0) FROM cache_events WHERE ts >= ? "
            "GROUP BY 1, 2 ORDER BY 1, 2",
            [since],
        ).fetchall()
    counts: dict[tuple[str, str], tuple[int, float]] = {
        (layer, outcome): (n, saved) for layer, outcome, n, saved in events
    }

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

    # The translation memory's rows live in the index: they count as the translations layer.
    n, b = sizes.get(Layer.TRANSLATIONS, (0, 0))
    sizes[Layer.TRANSLATIONS] = (n + memory[0], b + memory[1])
    layers = [layer_stats(layer, *sizes.get(layer, (0, 0))) for layer in Layer.ALL]
    models = dir_usage(cache.models_dir)
    glossary = dir_usage(cache.root / GLOSSARY_DIR)
    layers.insert(1, LayerStats("models", models[1], models[0]))
    layers.append(layer_stats("glossary", glossary[1], glossary[0]))
    index_bytes = cache.index.path.stat().st_size if cache.index.path.exists() else 0
    return CacheStats(
        generated_at=now,
        days=days,
        total_bytes=sum(layer.bytes for layer in layers) + index_bytes,
        max_bytes=max_bytes,
        files=sum(layer.entries for layer in layers) + 1,
        oldest_entry=oldest[0] if oldest else None,
        layers=tuple(layers),
        miss_reasons={str(kind): n for kind, n in reasons},
        daily=tuple(DayStats(d, layer, h, m, round(sv, 3)) for d, layer, h, m, sv in daily),
        cost_per_gpu_minute=cost_per_gpu_minute,
    )


def record_snapshot(cache: CacheManager, snapshot: CacheStats) -> None:
    """Keep a stats snapshot in the index, for trends beyond the event window."""
    with cache.session() as s:
        s.con.execute(
            "INSERT INTO stats_snapshots VALUES (?, ?)",
            [snapshot.generated_at, json.dumps(snapshot.to_json(), default=str)],
        )


# --- cleanup --------------------------------------------------------------------------------
@dataclass(frozen=True)
class CleanupReport:
    dry_run: bool
    expired: int
    evicted_by_usage: int
    evicted_for_size: int
    freed_bytes: int
    bytes_before: int
    bytes_after: int
    max_bytes: int
    memory_expired: int = 0  # translation-memory entries, by TM_MAX_AGE_DAYS/TM_MIN_REUSE_COUNT
    memory_evicted: int = 0  # ... and by TM_MAX_CACHE_SIZE_GB
    shared_expired: int = 0  # entries of the shared level past their TTL
    removed: tuple[str, ...] = field(repr=False, default=())

    @property
    def removed_count(self) -> int:
        return self.expired + self.evicted_by_usage + self.evicted_for_size


def cleanup(
    cache: CacheManager,
    *,
    max_bytes: int,
    days: int | None = None,
    keep_top: int | None = None,
    dry_run: bool = False,
) -> CleanupReport:
    """TTL expiry, then usage (``keep_top``), then the size cap. Models are never removed."""
    with exclusive(cache.root / "cleanup.lock"):
        now = cache.now()
        cutoff = now - timedelta(days=days if days is not None else cache.ttl_days)
        pinned = dir_usage(cache.models_dir)[0] + dir_usage(cache.root / GLOSSARY_DIR)[0]
        with cache.session() as s:
            total = s.con.execute("SELECT coalesce(sum(file_size), 0) FROM cache_index").fetchone()
            payload_bytes = int(total[0]) if total else 0
            expired = s.con.execute(
                "SELECT cache_key, file_path, checksum, file_size FROM cache_index "
                "WHERE created_at < ?",
                [cutoff],
            ).fetchall()
            gone = {r[0] for r in expired}
            by_usage = []
            if keep_top is not None:
                by_usage = [
                    r
                    for r in s.con.execute(
                        "SELECT cache_key, file_path, checksum, file_size FROM cache_index "
                        "ORDER BY access_count DESC, last_accessed DESC OFFSET ?",
                        [keep_top],
                    ).fetchall()
                    if r[0] not in gone
                ]
                gone |= {r[0] for r in by_usage}
            remaining = payload_bytes - sum(r[3] for r in expired) - sum(r[3] for r in by_usage)
            excess = remaining + pinned - max_bytes
            for_size: list[tuple[Any, ...]] = []
            if excess > 0:
                for row in s.con.execute(
                    f"SELECT cache_key, file_path, checksum, file_size FROM cache_index "
                    f"ORDER BY {_SCORE} ASC",
                    [now],
                ).fetchall():
                    if excess <= 0:
                        break
                    if row[0] in gone:
                        continue
                    for_size.append(row)
                    excess -= row[3]
            memory = s.tm_expire(
                now - timedelta(days=cache.tm.max_age_days),
                cache.tm.min_reuse_count,
                cache.tm.max_bytes,
                dry_run,
            )
        victims = [*expired, *by_usage, *for_size]
        removed: list[str] = []
        if not dry_run and victims:
            removed = cache.remove((k, cache.root / p, c) for k, p, c, _ in victims)
        kept = set(removed) if not dry_run else {v[0] for v in victims}
        freed = sum(v[3] for v in victims if v[0] in kept)
        return CleanupReport(
            shared_expired=cache.expire_shared(dry_run),
            memory_expired=memory[0],
            memory_evicted=memory[1],
            dry_run=dry_run,
            expired=sum(1 for v in expired if v[0] in kept),
            evicted_by_usage=sum(1 for v in by_usage if v[0] in kept),
            evicted_for_size=sum(1 for v in for_size if v[0] in kept),
            freed_bytes=freed,
            bytes_before=payload_bytes + pinned,
            bytes_after=payload_bytes + pinned - freed,
            max_bytes=max_bytes,
            removed=tuple(sorted(kept)),
        )


# --- clear, invalidate, list ----------------------------------------------------------------
def clear(cache: CacheManager, layers: tuple[str, ...]) -> dict[str, int]:
    """Remove whole layers; returns entries (or files, for models and glossary) removed."""
    removed: dict[str, int] = {}
    with cache.payload_lock(), cache.session() as s:
        for layer in layers:
            if layer in Layer.ALL:
                n = s.con.execute(
                    "SELECT count(*) FROM cache_index WHERE cache_type = ?", [layer]
                ).fetchone()
                s.con.execute("DELETE FROM cache_index WHERE cache_type = ?", [layer])
                shutil.rmtree(cache.root / layer, ignore_errors=True)
                if layer == Layer.FINGERPRINTS:
                    shutil.rmtree(cache.root / "sources", ignore_errors=True)
                    shutil.rmtree(cache.cuts.root, ignore_errors=True)  # found by similarity
                    s.con.execute("DELETE FROM fp_subhashes")
                removed[layer] = int(n[0]) if n else 0
                if layer == Layer.TRANSLATIONS:
                    removed[layer] += s.tm_usage()[0]
                    s.con.execute("DELETE FROM tm_entries")
            else:
                folder = cache.models_dir if layer == "models" else cache.root / GLOSSARY_DIR
                removed[layer] = dir_usage(folder)[1]
                shutil.rmtree(folder, ignore_errors=True)
    return removed


def invalidate(cache: CacheManager, audio_hash: str) -> dict[str, int]:
    """The spec's cascade: an audio hash takes its fingerprint, ASR and translations with it.
    Learned glossaries stay: they are history, not derived data."""
    with cache.session() as s:
        rows = s.rows("audio_hash = ?", [audio_hash])
        # Memory entries made from this audio go too, unless a person approved them.
        memory = s.con.execute(
            "DELETE FROM tm_entries WHERE audio_hash = ? AND NOT user_approved RETURNING cache_key",
            [audio_hash],
        ).fetchall()
        s.con.execute("DELETE FROM fp_subhashes WHERE audio_hash = ?", [audio_hash])
    cache.forget_memories()
    removed = set(cache.remove((r.cache_key, cache.root / r.file_path, None) for r in rows))
    for source in (cache.root / "sources").glob("*.json"):
        try:
            document, _ = read_verified(source)
        except (OSError, PayloadError):
            continue
        if document.get("audio_hash") == audio_hash:
            source.unlink(missing_ok=True)
    counts = dict.fromkeys(Layer.ALL, 0)
    counts[Layer.TRANSLATIONS] = len(memory)
    for r in rows:
        if r.cache_key in removed:
            counts[r.cache_type] += 1
    return counts


def list_largest(cache: CacheManager, top: int = 20) -> list[tuple[str, str, int]]:
    """(layer, key or model folder, bytes), largest first; model folders included."""
    with cache.session() as s:
        entries = [
            (layer, key, int(size))
            for layer, key, size in s.con.execute(
                "SELECT cache_type, cache_key, file_size FROM cache_index "
                "ORDER BY file_size DESC LIMIT ?",
                [top],
            ).fetchall()
        ]
    if cache.models_dir.exists():
        for kind in cache.models_dir.iterdir():
            for model in kind.iterdir() if kind.is_dir() else ():
                entries.append(("models", f"{kind.name}/{model.name}", dir_usage(model)[0]))
    return sorted(entries, key=lambda e: -e[2])[:top]


# --- validate and rebuild -------------------------------------------------------------------
def row_from_document(
    document: dict[str, Any], checksum: str, size: int, rel_path: str
) -> IndexRow:
    """The index row a payload describes: what lets the index be rebuilt from payloads."""
    created = _parse(document["created_at"])
    parts = document.get("key_parts", {})
    return IndexRow(
        cache_key=document["cache_key"],
        cache_type=document["layer"],
        audio_hash=parts.get("audio_hash"),
        file_path=rel_path,
        file_size=size,
        checksum=checksum,
        created_at=created,
        last_accessed=created,
        access_count=1,
        ttl_days=int(document.get("ttl_days", 90)),
        compute_seconds=float(document.get("compute_seconds", 0.0)),
        metadata={"key_parts": parts},
    )


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


def _payload_files(cache: CacheManager) -> Iterator[Path]:
    for layer in Layer.ALL:
        folder = cache.root / layer
        if folder.exists():
            yield from folder.glob("*/*.json")


def _check(path: Path, expected_key: str | None = None) -> tuple[dict[str, Any], str]:
    document, checksum = read_verified(path)
    key = document.get("cache_key")
    if key != path.stem or (expected_key is not None and key != expected_key):
        raise PayloadError(f"payload names key {str(key)[:8]}, file is {path.stem[:8]}")
    if path.parent.name != path.stem[:2]:
        raise PayloadError("payload is in the wrong shard")
    if document.get("layer") != path.parent.parent.name:
        raise PayloadError(f"payload says layer {document.get('layer')!r}")
    return document, checksum


def _check_indexed(
    cache: CacheManager, rows: dict[str, IndexRow], fix: bool, stamp: str
) -> tuple[list[Problem], list[str]]:
    problems: list[Problem] = []
    doomed: list[str] = []
    for rel, row in rows.items():
        path = cache.root / rel
        try:
            _, checksum = _check(path, row.cache_key)
            if checksum != row.checksum:
                raise PayloadError("checksum differs from the index")
        except FileNotFoundError:
            problems.append(Problem("missing payload", rel))
            doomed.append(row.cache_key)
        except PayloadError as exc:
            problems.append(Problem("corrupted", rel, str(exc)))
            doomed.append(row.cache_key)
            if fix:
                quarantine(path, cache.quarantine_dir / path.parent.parent.name, stamp)
    return problems, doomed


def _check_orphans(
    cache: CacheManager, rows: dict[str, IndexRow], fix: bool, stamp: str
) -> tuple[list[Problem], list[IndexRow]]:
    problems: list[Problem] = []
    adopt: list[IndexRow] = []
    for path in _payload_files(cache):
        rel = str(path.relative_to(cache.root))
        if rel in rows:
            continue
        try:
            document, checksum = _check(path)
        except PayloadError as exc:
            problems.append(Problem("corrupted", rel, f"orphan: {exc}"))
            if fix:
                quarantine(path, cache.quarantine_dir / path.parent.parent.name, stamp)
            continue
        problems.append(Problem("orphan payload", rel, "valid, not in the index"))
        adopt.append(row_from_document(document, checksum, path.stat().st_size, rel))
    return problems, adopt


def _stale_temps(cache: CacheManager, fix: bool) -> list[Problem]:
    problems = []
    for layer in Layer.ALL:
        for temp in (cache.root / layer).rglob(".*.tmp"):
            if time.time() - temp.stat().st_mtime > 3600:
                problems.append(Problem("stale temp file", str(temp.relative_to(cache.root))))
                if fix:
                    temp.unlink(missing_ok=True)
    return problems


def validate(cache: CacheManager, fix: bool = False) -> ValidationReport:
    """Check every entry against its payload, and every payload against the index.

    ``fix`` quarantines damaged payloads, drops rows without a good payload, adopts valid
    payloads the index lost, and removes temp files left by killed writers.
    """
    with cache.session() as s:
        rows = {r.file_path: r for r in s.rows()}
    stamp = cache.now().strftime("%Y%m%dT%H%M%S%f")
    indexed, doomed = _check_indexed(cache, rows, fix, stamp)
    orphans, adopt = _check_orphans(cache, rows, fix, stamp)
    problems = (*indexed, *orphans, *_stale_temps(cache, fix))
    if fix and (doomed or adopt):
        with cache.session() as s:
            s.delete(doomed)
            s.upsert(adopt)
    return ValidationReport(checked=len(rows), problems=problems, fixed=fix)


def _salvage_memory(index: Index, old: Path) -> None:
    """The translation memory lives only in the index: carry it over when the old file still
    opens (a rebuild is often for stale rows, not a broken file)."""
    try:
        with index.session() as s:
            s.con.execute("ATTACH '" + str(old).replace("'", "''") + "' AS old (READ_ONLY)")
            s.con.execute("INSERT OR IGNORE INTO tm_entries SELECT * FROM old.tm_entries")
    except (duckdb.Error, IndexDamagedError) as exc:
        log.warning("translation memory not recovered from %s: %s", old, str(exc).splitlines()[0])


def rebuild_index(cache: CacheManager) -> tuple[int, int]:
    """A new index from the payload files alone; damaged payloads go to quarantine.

    Returns (entries indexed, payloads quarantined). The old index is replaced atomically.
    """
    rows: list[IndexRow] = []
    fingerprints: list[AudioFingerprint] = []
    bad = 0
    stamp = cache.now().strftime("%Y%m%dT%H%M%S%f")
    for path in _payload_files(cache):
        try:
            document, checksum = _check(path)
            row = row_from_document(
                document, checksum, path.stat().st_size, str(path.relative_to(cache.root))
            )
            rows.append(row)
            if row.cache_type == Layer.FINGERPRINTS:
                fingerprints.append(AudioFingerprint.from_dict(document["data"]))
        except PayloadError:
            quarantine(path, cache.quarantine_dir / path.parent.parent.name, stamp)
            bad += 1
    fresh = cache.index.path.with_name("index.rebuild.duckdb")
    fresh.unlink(missing_ok=True)
    new_index = Index(fresh)
    with new_index.session() as s:
        s.upsert(rows)
        for fingerprint in fingerprints:
            index_fingerprint(s, fingerprint)
    _salvage_memory(new_index, cache.index.path)
    duckdb.connect(str(fresh)).close()  # checkpoint the WAL into the file before the swap
    with exclusive(cache.index.lock_path):
        fresh.replace(cache.index.path)
        cache.index.path.with_name(cache.index.path.name + ".wal").unlink(missing_ok=True)
    new_index.lock_path.unlink(missing_ok=True)
    return len(rows), bad
