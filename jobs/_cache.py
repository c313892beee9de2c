"""The cache a job, a command or a flow works on, as the settings describe it."""

from __future__ import annotations

import pipeline
from cache_manager import CacheManager
from cache_store import SharedLevel
from pipeline import Settings, layers_of

from ._prefect import secret_credentials

__all__ = ["open_cache", "shared_level"]


def open_cache(settings: Settings, bypass: str | None = None) -> CacheManager:
    """``bypass``: why every read is bypassed (``--no-cache``), fresh results still written;
    None to read."""
    return CacheManager(
        settings.cache_path,
        ttl_days=settings.cache_ttl_days,
        enabled=bypass is None,
        bypass_reason=bypass or "caching disabled",
        tm=settings.tm_policy,
        shared=shared_level(settings),
        off=settings.layers_off,
        layers=layers_of(pipeline.STAGES),
    )


def shared_level(settings: Settings) -> SharedLevel | None:
    """The cache's second level under CACHE_BACKEND=shared."""
    if settings.cache_backend != "shared":
        return None
    assert settings.cache_s3_bucket and settings.cache_index_url  # checked on load
    block = settings.cache_s3_credentials_block
    return SharedLevel.open(
        settings.cache_path,
        bucket=settings.cache_s3_bucket,
        prefix=settings.cache_s3_prefix.strip("/"),
        endpoint=settings.cache_s3_endpoint,
        index_url=settings.cache_index_url,
        timeout=settings.cache_shared_timeout_seconds,
        credentials=secret_credentials(block) if block else None,
    )
