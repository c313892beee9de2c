"""Thin Prefect tasks, one per stage: each wraps the pure stage in ``cpwx.stages``."""

from .asr import asr_task
from .demux import demux_task
from .fingerprint import fingerprint_task
from .glossary import glossary_task
from .subtitles import subtitles_task
from .translation import translation_task

__all__ = [
    "asr_task",
    "demux_task",
    "fingerprint_task",
    "glossary_task",
    "subtitles_task",
    "translation_task",
]
