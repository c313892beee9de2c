"""CacheManager: the spec's Python API (``get_asr_result``, ``set_asr_result``,
``find_similar_jobs``, ``find_translation_match``) over small facets, each its own package."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import cuts
import memory
from cache_store import (
    DEFAULT_TTL_DAYS,
    CacheKey,
    Layer,
    SharedLevel,
    Store,
    asr_key,
    fingerprint_key,
    share_pending,
    utc_now,
)
from cuts import Cuts, SimilarJob
from glossary import GlossaryStore
from history import History
from memory import Memory, TmPolicy
from records import AudioFingerprint, Transcript

__all__ = ["CacheManager"]


@dataclass
class CacheManager:
    """The store and the facets over it: ``memory`` (layer 4), ``glossaries`` (layer 5),
    ``cuts`` (other cuts of a film) and ``history`` (what the optimizer learns from).

    ``enabled=False`` bypasses every read (``ENABLE_CACHING=false`` or ``--no-cache``) while
    still writing fresh results; ``off`` bypasses single layers (``CACHE_ASR_RESULTS=false``).
    """

    cache_dir: Path | str = "~/.cp-whisperx/cache"
    ttl_days: int = DEFAULT_TTL_DAYS
    enabled: bool = True
    clock: Callable[[], datetime] = field(default=utc_now)
    bypass_reason: str = "caching disabled"
    tm: TmPolicy = field(default_factory=TmPolicy)
    shared: SharedLevel | None = None  # the second level (CACHE_BACKEND=shared)
    off: Mapping[str, str] = field(default_factory=dict)
    layers: Sequence[str] = Layer.ALL  # payload layers: the spec's, and any a stage adds

    def __post_init__(self) -> None:
        self.store = Store(
            Path(self.cache_dir),
            self.ttl_days,
            self.enabled,
            self.clock,
            self.bypass_reason,
            self.shared,
            self.off,
            self.layers,
        )
        self.memory = Memory(self.store, self.tm)
        self.cuts = Cuts(self.store)
        self.history = History(self.store)
        self.glossaries = GlossaryStore(self.store.root / "glossary_learned")

    @property
    def root(self) -> Path:
        return self.store.root

    # --- the spec's API -----------------------------------------------------------------------
    @staticmethod
    def fingerprint_key(audio_hash: str) -> CacheKey:
        return fingerprint_key(audio_hash)

    @staticmethod
    def asr_key(audio_hash: str, config: Mapping[str, Any]) -> CacheKey:
        return asr_key(audio_hash, config)

    def get_fingerprint(self, audio_hash: str) -> dict[str, Any] | None:
        return self.store.get(fingerprint_key(audio_hash)).data

    def set_fingerprint(self, fingerprint: AudioFingerprint, compute_seconds: float = 0.0) -> None:
        self.store.put(
            fingerprint_key(fingerprint.audio_hash), fingerprint.to_dict(), compute_seconds
        )

    def get_asr_result(self, audio_hash: str, config: Mapping[str, Any]) -> dict[str, Any] | None:
        return self.store.get(asr_key(audio_hash, config)).data

    def set_asr_result(
        self,
        audio_hash: str,
        config: Mapping[str, Any],
        result: Mapping[str, Any] | Transcript,
        compute_seconds: float = 0.0,
    ) -> None:
        data = result.to_dict() if isinstance(result, Transcript) else dict(result)
        segments = data.get("segments")
        if not isinstance(segments, list) or not all(
            isinstance(s, Mapping) and {"start", "end", "text"} <= set(s) for s in segments
        ):
            raise ValueError("an ASR result needs 'segments', each with 'start', 'end' and 'text'")
        self.store.put(asr_key(audio_hash, config), data, compute_seconds)

    def find_similar_jobs(
        self, audio_hash: str, threshold: float = 0.80, limit: int = 5
    ) -> list[SimilarJob]:
        return self.cuts.find_similar(audio_hash, threshold, limit)

    def find_translation_match(
        self,
        source: str,
        source_lang: str,
        target_lang: str,
        context: Mapping[str, Iterable[str]] | None = None,
        threshold: float | None = None,
    ) -> tuple[dict[str, Any] | None, float]:
        return self.memory.find(source, source_lang, target_lang, context, threshold)

    # --- the shared level ---------------------------------------------------------------------
    def share_pending(self) -> int:
        """Share what an outage held back, payloads and the facets' records alike; returns the
        entries still waiting (0 without a shared level)."""
        return share_pending(
            self.store,
            {memory.OUTBOX_KIND: self.memory.republish, cuts.OUTBOX_KIND: self.cuts.republish},
        )
