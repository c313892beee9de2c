"""Prefect task: Layer 5: name correction from the film's glossary, then learning."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from cache_store import Transcript
from cpwx.job import JobPlan
from cpwx.stages import glossary

from ._state import as_task_result


@task(name="glossary", cache_policy=NO_CACHE)
def glossary_task(plan: JobPlan, audio_hash: str, transcript: Transcript) -> Any:
    return as_task_result(glossary.run(plan, audio_hash, transcript))
