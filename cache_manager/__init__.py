"""The spec's ``CacheManager``: one facade over the five layers (the store's fingerprints, models
and ASR results; the translation memory; the learned glossary) and the cuts and job history
built on them, and what ``cpwx cache`` does across them all."""

from ._maintenance import (
    CleanupReport,
    cleanup,
    clear,
    clearable,
    export_archive,
    import_archive,
    invalidate,
    rebuild_index,
    stats,
)
from ._manager import CacheManager

__all__ = [
    "CacheManager",
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
