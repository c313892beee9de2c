"""Pre-populate the fingerprint and ASR layers for every media file in a folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from engines.media import MediaError, probe

from .job import JobRequest, prepare
from .settings import Settings
from .stages import asr, demux, fingerprint

__all__ = ["WarmupItem", "media_files", "warm"]


@dataclass(frozen=True)
class WarmupItem:
    path: str
    status: str  # hit | miss | off | skipped
    detail: str = ""


def media_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))


def warm(
    files: list[Path],
    settings: Settings,
    model: str | None = None,
    on_done: Callable[[WarmupItem], None] | None = None,
) -> Iterator[WarmupItem]:
    """Run demux, fingerprint and ASR through the cache for each file, one at a time."""
    for path in files:
        try:
            probe(path)
        except MediaError as exc:
            item = WarmupItem(str(path), "skipped", str(exc))
        else:
            plan = prepare(JobRequest(media=path, model=model), settings)
            try:
                known, _ = demux.run(plan)
                fp, _ = fingerprint.run(plan, known)
                _, report = asr.run(plan, fp)
                item = WarmupItem(str(path), report.cache, report.reason)
            except MediaError as exc:
                item = WarmupItem(str(path), "skipped", str(exc))
            finally:
                plan.close()
        if on_done is not None:
            on_done(item)
        yield item
