"""Prefect flows: each only composes tasks."""

from .cache_cleanup import cache_cleanup
from .gpu_stages import gpu_stages
from .library_watch import library_watch
from .subtitle_job import subtitle_job

__all__ = ["cache_cleanup", "gpu_stages", "library_watch", "subtitle_job"]
