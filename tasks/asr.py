"""Prefect task: Layer 3: WhisperX transcript. A GPU stage."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from cache_store import AudioFingerprint
from cpwx.job import JobPlan
from cpwx.stages import asr

from ._state import as_task_result


@task(name="asr", cache_policy=NO_CACHE)
def asr_task(plan: JobPlan, fingerprint: AudioFingerprint) -> Any:
    return as_task_result(asr.run(plan, fingerprint))
