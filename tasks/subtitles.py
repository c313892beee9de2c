"""Prefect task: Write SRT, VTT and JSON files."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from cache_store import Transcript
from cpwx.job import JobPlan
from cpwx.stages import subtitles

from ._state import as_task_result


@task(name="subtitles", cache_policy=NO_CACHE)
def subtitles_task(plan: JobPlan, transcript: Transcript, final: Transcript) -> Any:
    return as_task_result(subtitles.run(plan, transcript, final))
