"""Pre-populate the fingerprint and ASR layers for every media file in a folder."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engines.media import MediaError
from pipeline import Settings, asr, demux, fingerprint

from ._prepare import prepare
from ._request import JobRequest
from ._runner import initial_state

__all__ = ["WarmupItem", "media_files", "warm"]


@dataclass(frozen=True)
class WarmupItem:
    path: str
    status: str  # hit | miss | off | skipped
    detail: str = ""


def media_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))


def warm(files: list[Path], settings: Settings, model: str | None = None) -> Iterator[WarmupItem]:
    """Run demux, fingerprint and ASR through the cache for each file, one at a time;
    files that are not usable media are skipped with the reason."""
    for path in files:
        plan = None
        try:
            plan = prepare(JobRequest(media=path, model=model), settings)
            state = initial_state(plan)
            for stage in (demux.STAGE, fingerprint.STAGE, asr.STAGE):
                state = stage.run(plan, state)
            report = state.reports["asr"]
            yield WarmupItem(str(path), report.cache, report.reason)
        except MediaError as exc:
            yield WarmupItem(str(path), "skipped", str(exc))
        finally:
            if plan is not None:
                plan.audio.close()
