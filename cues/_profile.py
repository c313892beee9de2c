"""Style profiles: the numbers a broadcaster's style guide sets for a cue."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PROFILES", "Profile", "ProfileError", "profile_for"]


class ProfileError(ValueError):
    """An unknown profile or an impossible number in one."""


@dataclass(frozen=True)
class Profile:
    name: str
    max_chars_per_line: int
    max_lines: int
    max_cps: float  # characters per second, spaces and punctuation included
    min_duration: float  # seconds on screen
    max_duration: float
    fps: float  # the frame rate gaps and sync are counted in
    min_gap_frames: int  # between two cues
    chain_frames: int = 12  # a gap shorter than this is closed to min_gap_frames
    sync_frames: int = 2  # a cue starts within this many frames of its first word
    extend_seconds: float = 0.5  # how far an out-time may run past the speech into silence
    # Where a cue cannot be read in time, drop its hesitations, fillers and stammered repeats.
    condense: bool = True
    # Reading speed by language where the guide gives one (Netflix: Hindi 22).
    cps_by_language: Mapping[str, float] = field(default_factory=dict)

    @property
    def frame(self) -> float:
        return 1.0 / self.fps

    @property
    def min_gap(self) -> float:
        return self.min_gap_frames / self.fps

    @property
    def chain_gap(self) -> float:
        return self.chain_frames / self.fps

    def cps_for(self, language: str | None) -> float:
        return self.cps_by_language.get((language or "").split("-")[0], self.max_cps)

    def for_language(self, language: str | None) -> Profile:
        """This profile with the reading speed of ``language`` as its ``max_cps``."""
        return dataclasses.replace(self, max_cps=self.cps_for(language), cps_by_language={})

    def with_overrides(self, overrides: Mapping[str, Any]) -> Profile:
        """These numbers changed (None: kept), checked; raises ProfileError for one that no
        cue could meet."""
        changed = dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})
        changed.check()
        return changed

    def check(self) -> None:
        problems = [
            f"{name} must be at least {low}"
            for name, low in (
                ("max_chars_per_line", 1),
                ("max_lines", 1),
                ("max_cps", 1),
                ("fps", 1),
                ("min_gap_frames", 0),
                ("min_duration", 0),
            )
            if getattr(self, name) < low
        ]
        if self.max_duration <= self.min_duration:
            problems.append(
                f"max_duration ({self.max_duration}) must exceed min_duration ({self.min_duration})"
            )
        if problems:
            raise ProfileError(f"subtitle profile {self.name!r}: " + "; ".join(problems))


# Netflix Timed Text Style Guide (general and Hindi); BBC subtitle guidelines (37 characters is
# what 68% of a 16:9 line holds; 160-180 words a minute is about 17 characters a second; 25 fps).
PROFILES: Mapping[str, Profile] = {
    "netflix": Profile(
        "netflix",
        max_chars_per_line=42,
        max_lines=2,
        max_cps=20.0,
        min_duration=5 / 6,
        max_duration=7.0,
        fps=24.0,
        min_gap_frames=2,
        cps_by_language={"en": 20.0, "hi": 22.0},
    ),
    "bbc": Profile(
        "bbc",
        max_chars_per_line=37,
        max_lines=2,
        max_cps=17.0,
        min_duration=1.0,
        max_duration=7.0,
        fps=25.0,
        min_gap_frames=2,
    ),
}


def profile_for(name: str, language: str | None = None, **overrides: Any) -> Profile:
    """The named profile at ``language``'s reading speed, with ``overrides`` (None: the
    profile's own) applied; raises ProfileError for an unknown name or impossible number."""
    try:
        base = PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ProfileError(f"unknown subtitle profile {name!r}: use one of {known}") from None
    return base.for_language(language).with_overrides(overrides)
