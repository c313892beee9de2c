"""Prefect task: Layer 1: audio hash, noise profile, raw Chromaprint."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from cpwx.job import JobPlan
from cpwx.stages import fingerprint

from ._state import as_task_result


@task(name="fingerprint", cache_policy=NO_CACHE)
def fingerprint_task(plan: JobPlan, known: str | None) -> Any:
    return as_task_result(fingerprint.run(plan, known))
