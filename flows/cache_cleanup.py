"""The cache-cleanup flow: TTL and size-cap cleanup, then a stats snapshot, both as artifacts."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

import cache_manager as cm
from cache_store import CacheStats, record_snapshot
from jobs import open_cache
from jobs.report import cleanup_markdown, stats_markdown
from pipeline.settings import load_settings

__all__ = ["cache_cleanup"]


@task(name="cleanup", cache_policy=NO_CACHE)
def cleanup_task(days: int | None, dry_run: bool) -> cm.CleanupReport:
    settings = load_settings()
    return cm.cleanup(
        open_cache(settings), max_bytes=settings.cache_max_bytes, days=days, dry_run=dry_run
    )


@task(name="stats-snapshot", cache_policy=NO_CACHE)
def snapshot_task(days: int) -> CacheStats:
    settings = load_settings()
    cache = open_cache(settings)
    snapshot = cm.stats(
        cache,
        days=days,
        max_bytes=settings.cache_max_bytes,
        cost_per_gpu_minute=settings.cache_cost_per_gpu_minute,
    )
    record_snapshot(cache.store, snapshot)
    return snapshot


@flow(name="cache-cleanup")
def cache_cleanup(
    days: int | None = None, dry_run: bool = False, stats_days: int = 30
) -> dict[str, Any]:
    """Expire old entries and hold the cache under CACHE_MAX_SIZE_GB, then record its stats.

    Args:
        days: Expire entries older than this (default CACHE_TTL_DAYS).
        dry_run: Only report what would be removed.
        stats_days: Window of the stats snapshot.
    """
    report = cleanup_task(days, dry_run)
    snapshot = snapshot_task(stats_days)
    create_markdown_artifact(
        key="cache-cleanup",
        markdown=cleanup_markdown(report) + "\n\n" + stats_markdown(snapshot),
        description="What the cleanup removed, and the cache afterwards",
    )
    return {"cleanup": report.to_json(), "stats": snapshot.to_json()}
