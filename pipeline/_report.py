"""What a stage reports: hit or miss and why, the seconds it took and saved, and what only the
stage knows (the ASR's reuse of a similar cut, the translation memory's matches)."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

from cache_store import Lookup, Outcome
from memory import TmMatch
from optimizer import Candidate, Recommendation

__all__ = ["AsrReport", "CacheState", "MemoryReport", "SimilarReport", "StageReport"]

CacheState = Literal["hit", "miss", "off"]


@dataclass(frozen=True)
class MemoryReport:
    """What the translation memory did for one job's segments."""

    segments: int
    context: int  # exact segment and context
    exact: int  # exact segment, similar context
    fuzzy: int  # similar segment, at or above the reuse bar
    translated: int  # sent to the model
    stored: int  # fresh translations kept (confident enough)
    reused_segments: tuple[int, ...] = ()  # indices of the segments served from memory

    @property
    def reused(self) -> int:
        return self.context + self.exact + self.fuzzy

    @property
    def hit_rate(self) -> float | None:
        return round(self.reused / self.segments, 4) if self.segments else None

    @classmethod
    def of(cls, matches: list[TmMatch | None], reuse: float, stored: int) -> MemoryReport:
        reused = tuple(i for i, m in enumerate(matches) if m is not None and m.score >= reuse)
        used = [m for m in (matches[i] for i in reused) if m is not None]
        return cls(
            reused_segments=reused,
            segments=len(matches),
            context=sum(m.level == "context" for m in used),
            exact=sum(m.level == "exact" for m in used),
            fuzzy=sum(m.level == "fuzzy" for m in used),
            translated=len(matches) - len(used),
            stored=stored,
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "reused": self.reused, "hit_rate": self.hit_rate}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> MemoryReport:
        known = {k: d[k] for k in (f.name for f in fields(cls))}
        return cls(**{**known, "reused_segments": tuple(known["reused_segments"])})


@dataclass(frozen=True)
class SimilarReport:
    """The spec's similarity decision for a job: which stored cut, how alike, what it allows."""

    source: str
    source_file: str
    similarity: float
    shared_ratio: float
    speed: float  # old seconds per new second: 1.0427 for a PAL release of a film cut
    band: str
    reuses: str
    language: str | None = None  # reuse-language and up: the cut's language, not detected
    film: str | None = None  # reuse-config and up: this audio now uses that film's glossary
    suggested_glossary: str | None = None  # reuse-language: a film whose glossary may fit
    adopted_asr: str | None = None  # reuse-config and up: the cut's ASR settings, taken
    search_seconds: float = 0.0  # finding and aligning it (the other release speeds included)
    speeds_searched: bool = True  # False: the film-speed match was steady, no other speed tried


@dataclass(frozen=True)
class AsrReport:
    """What the ASR stage did beyond its cache lookup."""

    reused_seconds: float = 0.0  # audio whose transcript came from a similar cut
    transcribed_seconds: float = 0.0  # audio transcribed fresh beside it
    source_job: str | None = None  # the audio hash of that cut
    resumed_seconds: float = 0.0  # audio a killed earlier run had already transcribed
    similar: SimilarReport | None = None  # the most similar stored cut and the band
    recommendation: Recommendation | None = None  # settings the optimizer chose

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AsrReport:
        similar, advice = d.get("similar"), d.get("recommendation")
        return cls(
            reused_seconds=d["reused_seconds"],
            transcribed_seconds=d["transcribed_seconds"],
            source_job=d["source_job"],
            resumed_seconds=d["resumed_seconds"],
            similar=SimilarReport(**similar) if similar is not None else None,
            recommendation=(
                Recommendation(**{**advice, "candidate": Candidate(**advice["candidate"])})
                if advice is not None
                else None
            ),
        )


@dataclass(frozen=True)
class StageReport:
    cache: CacheState
    seconds: float
    reason: str = ""
    saved_seconds: float = 0.0
    detail: AsrReport | MemoryReport | None = None

    @classmethod
    def of(cls, lookup: Lookup, started: float) -> StageReport:
        cache: CacheState = (
            "hit" if lookup.hit else "off" if lookup.outcome is Outcome.BYPASSED else "miss"
        )
        return cls(
            cache, round(time.perf_counter() - started, 3), lookup.reason, lookup.saved_seconds
        )

    @classmethod
    def of_memory(
        cls, memory: MemoryReport, started: float, off: str | None, saved: float = 0.0
    ) -> StageReport:
        seconds = round(time.perf_counter() - started, 3)
        if off:
            return cls("off", seconds, off, detail=memory)
        cache: CacheState = "hit" if memory.translated == 0 else "miss"
        reason = (
            f"translation memory: {memory.reused}/{memory.segments} segments reused "
            f"({memory.context} context, {memory.exact} exact, {memory.fuzzy} fuzzy)"
        )
        return cls(cache, seconds, reason, round(saved, 3), detail=memory)

    @classmethod
    def skipped(cls, started: float, reason: str) -> StageReport:
        """A stage whose work was not needed because everything downstream is cached."""
        return cls("hit", round(time.perf_counter() - started, 3), reason)

    @property
    def asr(self) -> AsrReport:
        """The ASR detail (empty for another stage's report)."""
        return self.detail if isinstance(self.detail, AsrReport) else AsrReport()

    @property
    def memory(self) -> MemoryReport | None:
        return self.detail if isinstance(self.detail, MemoryReport) else None

    def to_json(self) -> dict[str, Any]:
        """The ASR's detail beside the common fields, the memory's under ``memory``."""
        out = {k: v for k, v in asdict(self).items() if k != "detail"}
        if isinstance(self.detail, AsrReport):
            out |= asdict(self.detail)
        elif isinstance(self.detail, MemoryReport):
            out["memory"] = self.detail.to_json()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StageReport:
        detail: AsrReport | MemoryReport | None = None
        if d.get("memory") is not None:
            detail = MemoryReport.from_json(d["memory"])
        elif "reused_seconds" in d:
            detail = AsrReport.from_json(d)
        return cls(d["cache"], d["seconds"], d["reason"], d["saved_seconds"], detail)
