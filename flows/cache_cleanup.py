"""The cache-cleanup flow: TTL and size-cap cleanup, then a stats snapshot, both as artifacts."""

from __future__ import annotations

import dataclasses
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

import cache_store as cs
from cpwx.console import stats_for, store_for
from cpwx.report import cleanup_markdown, stats_markdown
from cpwx.settings import load_settings


@task(name="cleanup", cache_policy=NO_CACHE)
def cleanup_task(days: int | None, dry_run: bool) -> cs.CleanupReport:
    settings = load_settings()
    return cs.cleanup(
        store_for(settings),
        max_bytes=settings.cache_max_bytes,
        days=days,
        dry_run=dry_run,
    )


@task(name="stats-snapshot", cache_policy=NO_CACHE)
def snapshot_task(days: int) -> cs.CacheStats:
    settings = load_settings()
    snapshot = stats_for(settings, days)
    cs.record_snapshot(store_for(settings), snapshot)
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
    return {
        "cleanup": {k: v for k, v in dataclasses.asdict(report).items() if k != "removed"},
        "stats": snapshot.to_json(),
    }
