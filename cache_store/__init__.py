"""The store: content-addressed, self-verifying payloads on one or two levels, their DuckDB index,
composable keys, locks, the journal, maintenance and archives. No Prefect, and no domain logic:
the translation memory, glossary, cuts and history are packages of their own over it.
"""

from ._archive import ArchiveError, Extra, ImportReport, export_archive, import_archive
from ._disk import is_disk_full, unless_disk_full
from ._index import (
    CACHE_INDEX_DDL,
    COLUMNS,
    DEFAULT_TTL_DAYS,
    SCHEMA_VERSION,
    Index,
    IndexBusyError,
    IndexDamagedError,
    IndexRow,
    IndexSession,
)
from ._keys import (
    CODE_VERSIONS,
    CacheKey,
    CacheKeyError,
    Layer,
    asr_key,
    explain_difference,
    fingerprint_key,
)
from ._level import Level
from ._local import LocalLevel
from ._locks import exclusive
from ._lookup import MISS_KINDS, Lookup, Outcome
from ._maintenance import (
    CacheStats,
    DayStats,
    Eviction,
    LayerStats,
    Problem,
    ValidationReport,
    clear,
    dir_usage,
    evict,
    invalidate,
    list_largest,
    rebuild_index,
    record_snapshot,
    stats,
    validate,
)
from ._outbox import Republisher, share_pending
from ._payloads import PayloadError, decode, encode, read_verified, write_bytes, write_verified
from ._shared import ObjectStore, SharedIndex, SharedLevel, SharedUnavailableError
from ._sources import SourceStat
from ._store import Store, utc_now

__all__ = [
    "CACHE_INDEX_DDL",
    "CODE_VERSIONS",
    "COLUMNS",
    "DEFAULT_TTL_DAYS",
    "MISS_KINDS",
    "SCHEMA_VERSION",
    "ArchiveError",
    "CacheKey",
    "CacheKeyError",
    "CacheStats",
    "DayStats",
    "Eviction",
    "Extra",
    "ImportReport",
    "Index",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexRow",
    "IndexSession",
    "Layer",
    "LayerStats",
    "Level",
    "LocalLevel",
    "Lookup",
    "ObjectStore",
    "Outcome",
    "PayloadError",
    "Problem",
    "Republisher",
    "SharedIndex",
    "SharedLevel",
    "SharedUnavailableError",
    "SourceStat",
    "Store",
    "ValidationReport",
    "asr_key",
    "clear",
    "decode",
    "dir_usage",
    "encode",
    "evict",
    "exclusive",
    "explain_difference",
    "export_archive",
    "fingerprint_key",
    "import_archive",
    "invalidate",
    "is_disk_full",
    "list_largest",
    "read_verified",
    "rebuild_index",
    "record_snapshot",
    "share_pending",
    "stats",
    "unless_disk_full",
    "utc_now",
    "validate",
    "write_bytes",
    "write_verified",
]
