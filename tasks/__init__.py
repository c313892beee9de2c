"""Thin Prefect tasks, one per stage: each wraps the pure stage in ``cpwx.stages``."""

from __future__ import annotations

from typing import Any

from cpwx.job import StageReport

from .asr import asr_task
from .demux import demux_task
from .fingerprint import fingerprint_task
from .glossary import glossary_task
from .subtitles import subtitles_task
from .translation import translation_task

__all__ = [
    "TASKS",
    "asr_task",
    "demux_task",
    "fingerprint_task",
    "glossary_task",
    "run_task",
    "subtitles_task",
    "translation_task",
]

TASKS: dict[str, Any] = {
    "demux": demux_task,
    "fingerprint": fingerprint_task,
    "asr": asr_task,
    "glossary": glossary_task,
    "translation": translation_task,
    "subtitles": subtitles_task,
}


def run_task(name: str, *args: Any) -> tuple[Any, StageReport | None]:
    """Run a stage as its Prefect task and return its (value, report)."""
    # A task that returns a state (our Cached hits) hands back that state object, not its data:
    # asking for the state makes hits and misses unwrap the same way.
    out: tuple[Any, StageReport | None] = TASKS[name](*args, return_state=True).result()
    return out
