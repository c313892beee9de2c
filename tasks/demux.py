"""Prefect task: Decode the source to WAV (skipped when every consumer is cached)."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from cpwx.job import JobPlan
from cpwx.stages import demux

from ._state import as_task_result


@task(name="demux", cache_policy=NO_CACHE)
def demux_task(plan: JobPlan) -> Any:
    return as_task_result(demux.run(plan))
