"""What ``cpwx cache`` does across the layers: the store's maintenance, with the translation
memory, the similar-cut index and the glossary files kept in step in the same sessions."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cache_store as cs
from cache_store import (
    ArchiveError,
    CacheStats,
    Eviction,
    Extra,
    ImportReport,
    Index,
    IndexSession,
    Layer,
    dir_usage,
)
from cuts import Cuts
from history import History
from memory import Memory, TmxError, read_tmx, write_tmx

from ._manager import CacheManager

__all__ = [
    "CleanupReport",
    "cleanup",
    "clear",
    "clearable",
    "export_archive",
    "import_archive",
    "invalidate",
    "rebuild_index",
    "stats",
]

GLOSSARY = "glossary"
MEMORY_MEMBER = "translation_memory.tmx"  # layer 4's rows, which live in the index, as TMX


def clearable(cache: CacheManager) -> tuple[str, ...]:
    """What ``cpwx cache clear`` takes: every payload layer, the glossaries and the models."""
    return (*cache.store.layers, GLOSSARY, "models")


def stats(
    cache: CacheManager,
    days: int = 30,
    max_bytes: int = 50 << 30,
    cost_per_gpu_minute: float = 0.05,
) -> CacheStats:
    """The spec's report: the translation memory counts as the translations layer, the
    glossary files as a layer of their own."""
    with cache.store.session() as s:
        memory = Memory.usage(s)
    size, files = dir_usage(cache.glossaries.root)
    extra = {Layer.TRANSLATIONS: memory, GLOSSARY: (files, size)}
    return cs.stats(cache.store, days, max_bytes, cost_per_gpu_minute, extra)


@dataclass(frozen=True)
class CleanupReport:
    payloads: Eviction
    memory_expired: int = 0  # translation-memory entries, by TM_MAX_AGE_DAYS/TM_MIN_REUSE_COUNT
    memory_evicted: int = 0  # ... and by TM_MAX_CACHE_SIZE_GB
    shared_expired: int = 0  # entries of the shared level past their TTL

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self.payloads).items() if k != "removed"}
        return out | {k: v for k, v in asdict(self).items() if k != "payloads"}


def cleanup(
    cache: CacheManager,
    *,
    max_bytes: int,
    days: int | None = None,
    keep_top: int | None = None,
    dry_run: bool = False,
) -> CleanupReport:
    """TTL expiry, then usage (``keep_top``), then the size cap; then the memory's own policy
    and the shared level's TTL. Models and glossaries count towards the cap, never removed."""
    eviction = cs.evict(
        cache.store,
        max_bytes=max_bytes,
        days=days,
        keep_top=keep_top,
        dry_run=dry_run,
        pinned_bytes=dir_usage(cache.glossaries.root)[0],
    )
    expired, evicted = cache.memory.expire(dry_run)
    return CleanupReport(eviction, expired, evicted, cache.store.expire_shared(dry_run))


def clear(cache: CacheManager, layers: tuple[str, ...]) -> dict[str, int]:
    """Remove whole layers; returns entries (or files, for models and glossary) removed."""

    def also(s: IndexSession) -> Mapping[str, int]:
        out: dict[str, int] = {}
        if Layer.FINGERPRINTS in layers:
            cache.cuts.clear(s)  # found by similarity
        if Layer.TRANSLATIONS in layers:
            out[Layer.TRANSLATIONS] = cache.memory.clear(s)
        if GLOSSARY in layers:
            out[GLOSSARY] = dir_usage(cache.glossaries.root)[1]
            shutil.rmtree(cache.glossaries.root, ignore_errors=True)
        return out

    return cs.clear(cache.store, layers, also)


def invalidate(cache: CacheManager, audio_hash: str) -> dict[str, int]:
    """The spec's cascade: an audio hash takes its fingerprint, ASR and translations (memory
    entries made from it, unless a person approved them) with it. Learned glossaries stay:
    they are history, not derived data."""

    def also(s: IndexSession) -> Mapping[str, int]:
        cache.cuts.forget_audio(s, audio_hash)
        return {Layer.TRANSLATIONS: cache.memory.forget_audio(s, audio_hash)}

    return cs.invalidate(cache.store, audio_hash, also)


def rebuild_index(cache: CacheManager) -> tuple[int, int]:
    """A new index from the payload files alone, with the subhashes the fingerprints give
    and the memory salvaged from the old file where it still opens."""

    def also(index: Index, old: Path, documents: Mapping[str, list[dict[str, Any]]]) -> None:
        Cuts.reindex(index, documents.get(Layer.FINGERPRINTS, []))
        Memory.salvage(index, old)
        History.ensure(index)

    return cs.rebuild_index(cache.store, also)


def _memory_member(cache: CacheManager) -> Extra:
    def write(path: Path) -> int:
        entries = cache.memory.entries()
        if entries:
            write_tmx(entries, path)
        return len(entries)

    def verify(path: Path) -> Callable[[], int]:
        try:
            entries = read_tmx(path)
        except TmxError as exc:
            raise ArchiveError(str(exc)) from exc
        return lambda: cache.memory.import_entries(entries) if entries else 0

    return Extra("memory", MEMORY_MEMBER, Layer.TRANSLATIONS, write, verify)


def export_archive(cache: CacheManager, target: Path, layers: tuple[str, ...] | None = None) -> int:
    """Write the entries of ``layers`` (default: every layer) to ``target`` (tar.gz), the
    memory as TMX; returns how many."""
    return cs.export_archive(cache.store, target, layers, [_memory_member(cache)])


def import_archive(cache: CacheManager, archive: Path) -> ImportReport:
    """Verify an archive whole, then merge it; the fingerprints it brings become findable."""
    return cs.import_archive(cache.store, archive, [_memory_member(cache)], Cuts.on_import)
