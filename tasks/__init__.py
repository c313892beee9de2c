"""The stages as Prefect tasks, one per entry of ``pipeline.STAGES``, made on first use: a stage
served from the cache returns a ``Cached`` state, so the UI shows the hit."""

from __future__ import annotations

import functools
from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed

from pipeline import JobPlan, JobState, Stage

__all__ = ["run_task", "task_for"]


@functools.cache
def task_for(stage: Stage) -> Task[[JobPlan, JobState], Any]:
    """The Prefect task of a stage (our own cache keys decide hits: Prefect's cache is off)."""

    def run(plan: JobPlan, state: JobState) -> Any:
        out = stage.run(plan, state)
        report = out.reports.get(stage.name)
        if report is not None and report.cache == "hit":
            return Completed(name="Cached", data=out, message=report.reason or "served from cache")
        return out

    # Prefect keys a task by its function's name and code: one key per stage.
    run.__name__ = run.__qualname__ = stage.name
    run.__doc__ = stage.run.__doc__
    return task(name=stage.name, cache_policy=NO_CACHE)(run)


def run_task(stage: Stage, plan: JobPlan, state: JobState) -> JobState:
    """Run a stage as its Prefect task and return the state it left."""
    # A task that returns a state (our Cached hits) hands back that state object, not its data:
    # asking for the state makes hits and misses unwrap the same way.
    out: JobState = task_for(stage)(plan, state, return_state=True).result()
    return out
