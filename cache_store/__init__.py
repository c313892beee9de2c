"""Content-addressed cache store: DuckDB index, JSON payloads, composable keys. No Prefect here."""

from ._index import SCHEMA_VERSION, IndexBusyError
from ._keys import CODE_VERSIONS, CacheKey, CacheKeyError, Layer, explain_difference
from ._manager import CacheManager, Lookup, Outcome, SourceStat
from ._payloads import PayloadError
from ._records import AudioFingerprint, NoiseProfile, Segment, Transcript, Word

__all__ = [
    "CODE_VERSIONS",
    "SCHEMA_VERSION",
    "AudioFingerprint",
    "CacheKey",
    "CacheKeyError",
    "CacheManager",
    "IndexBusyError",
    "Layer",
    "Lookup",
    "NoiseProfile",
    "Outcome",
    "PayloadError",
    "Segment",
    "SourceStat",
    "Transcript",
    "Word",
    "explain_difference",
]
