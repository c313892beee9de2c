"""Prefect flows: each only composes tasks."""

from .cache_cleanup import cache_cleanup
from .subtitle_job import subtitle_job

__all__ = ["cache_cleanup", "subtitle_job"]
