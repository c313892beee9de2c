"""Prefect flows: each only composes tasks."""

from .subtitle_job import subtitle_job

__all__ = ["subtitle_job"]
