"""Prefect task: Seq2seq translation of the transcript. A GPU stage."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from cache_store import Transcript
from cpwx.job import JobPlan
from cpwx.stages import translation

from ._state import as_task_result


@task(name="translation", cache_policy=NO_CACHE)
def translation_task(plan: JobPlan, audio_hash: str, transcript: Transcript) -> Any:
    return as_task_result(translation.run(plan, audio_hash, transcript))
