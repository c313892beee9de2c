"""Content-addressed cache store: JSON payloads, a DuckDB index, composable keys. No Prefect."""

from ._archive import ArchiveError, ImportReport, export_archive, import_archive
from ._index import SCHEMA_VERSION, IndexBusyError, IndexDamagedError
from ._keys import CODE_VERSIONS, CacheKey, CacheKeyError, Layer, explain_difference
from ._maintenance import (
    CLEARABLE,
    CacheStats,
    CleanupReport,
    LayerStats,
    Problem,
    ValidationReport,
    cleanup,
    clear,
    invalidate,
    list_largest,
    rebuild_index,
    record_snapshot,
    stats,
    validate,
)
from ._manager import MISS_KINDS, CacheManager, Lookup, Outcome, SourceStat
from ._payloads import PayloadError
from ._records import AudioFingerprint, NoiseProfile, Segment, Transcript, Word

__all__ = [
    "CLEARABLE",
    "CODE_VERSIONS",
    "MISS_KINDS",
    "SCHEMA_VERSION",
    "ArchiveError",
    "AudioFingerprint",
    "CacheKey",
    "CacheKeyError",
    "CacheManager",
    "CacheStats",
    "CleanupReport",
    "ImportReport",
    "IndexBusyError",
    "IndexDamagedError",
    "Layer",
    "LayerStats",
    "Lookup",
    "NoiseProfile",
    "Outcome",
    "PayloadError",
    "Problem",
    "Segment",
    "SourceStat",
    "Transcript",
    "ValidationReport",
    "Word",
    "cleanup",
    "clear",
    "explain_difference",
    "export_archive",
    "import_archive",
    "invalidate",
    "list_largest",
    "rebuild_index",
    "record_snapshot",
    "stats",
    "validate",
]
