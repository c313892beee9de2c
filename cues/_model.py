"""A cue: what one subtitle shows, and when."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cue"]


@dataclass(frozen=True)
class Cue:
    start: float  # seconds on the media's timeline
    end: float
    lines: tuple[str, ...]  # as shown: one or two lines, already broken
    speaker: str | None = None  # the speaker of its first line, when known
    # Start of the first word it shows, and end of its last one (speech, not screen, time):
    # what sync and the extension into silence are measured from. None for a cue read from a
    # file.
    speech_start: float | None = None
    speech_end: float | None = None

    @property
    def text(self) -> str:
        return " ".join(self.lines)

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def chars(self) -> int:
        """Characters a viewer reads: spaces and punctuation count, line breaks do not."""
        return sum(len(line) for line in self.lines)

    @property
    def cps(self) -> float:
        return self.chars / max(self.duration, 1e-6)
