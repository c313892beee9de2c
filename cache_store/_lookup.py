"""What a lookup found, and why: the outcome every cache decision is logged and counted by."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ._keys import CacheKey

__all__ = ["MISS_KINDS", "Lookup", "Outcome"]


class Outcome(StrEnum):
    HIT = "hit"
    MISS = "miss"
    EXPIRED = "expired"
    CORRUPTED = "corrupted"
    BYPASSED = "bypassed"


MISS_KINDS = ("new content", "config changed", "model changed", "expired", "corrupted", "bypassed")


@dataclass(frozen=True)
class Lookup:
    key: CacheKey
    outcome: Outcome
    data: dict[str, Any] | None = None
    reason: str = ""
    saved_seconds: float = 0.0

    @property
    def hit(self) -> bool:
        return self.outcome is Outcome.HIT

    @property
    def reason_kind(self) -> str | None:
        """One of MISS_KINDS for a miss; None for a hit."""
        if self.outcome is Outcome.HIT:
            return None
        if self.outcome is not Outcome.MISS:
            return self.outcome.value
        if self.reason.startswith("model changed"):
            return "model changed"
        if self.reason.startswith(("config changed", "code version changed")):
            return "config changed"
        return "new content"
