"""A full disk (or quota) under the cache: a write that fails for lack of space is skipped
with a warning, so the job still delivers its subtitles; nothing half-written stays behind
(payloads are staged and renamed, DuckDB rolls back)."""

from __future__ import annotations

import errno
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

__all__ = ["is_disk_full", "unless_disk_full"]

log = logging.getLogger("cache_store")
T = TypeVar("T")

_SPACE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_warned: list[str] = []


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _SPACE_ERRORS:
        return True
    if isinstance(exc, duckdb.Error):
        text = str(exc).lower()
        return "no space left" in text or "disk quota" in text or "file too large" in text
    return False


def unless_disk_full(
    what: str, default: Any = None
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Decorate a cache write: where the disk is full it logs a warning naming ``what`` and
    returns ``default`` instead of failing the job."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> T:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                # One warning per process; the rest go to the job's log.
                level = logging.INFO if _warned else logging.WARNING
                _warned.append(what)
                log.log(
                    level,
                    "the cache's disk is full: %s not stored, the job goes on (%s)",
                    what,
                    exc,
                )
                return default  # type: ignore[no-any-return]

        return guarded

    return wrap
