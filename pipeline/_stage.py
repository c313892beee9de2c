"""A stage: one object naming what it is, where it runs, the entry it is cached under, and how
it turns a job's state into the next. The Prefect tasks, the hand-off to the gpu pool, the
store's fast path, the reports and the optimizer's per-stage models all follow from the list of
them (``pipeline.STAGES``): adding a stage is one module and one line there."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cache_store import CacheKey, Layer

if TYPE_CHECKING:
    from ._plan import JobPlan
    from ._state import JobState

__all__ = ["Pool", "Stage", "layers_of"]

Pool = Literal["cpu", "gpu"]


def _always(plan: JobPlan) -> bool:  # noqa: ARG001
    return True


def _no_key(plan: JobPlan, state: JobState) -> CacheKey | None:  # noqa: ARG001
    return None


@dataclass(frozen=True)
class Stage:
    name: str
    pool: Pool  # the work pool its computing runs on (a served stage runs where the job does)
    run: Callable[[JobPlan, JobState], JobState]
    # The payload it is served from, once the state says enough to name it (None: none).
    key: Callable[[JobPlan, JobState], CacheKey | None] = _no_key
    # Whether ``run`` would compute, not only read: by default, when its key is not stored.
    # Asked before the gpu hand-off and by the store's fast path; cheap (a stat, no read).
    needs: Callable[[JobPlan, JobState], bool] | None = None
    applies: Callable[[JobPlan], bool] = _always  # whether this job runs it at all
    layer: str | None = None  # the payload layer its entries go in, when it keeps any

    def needs_compute(self, plan: JobPlan, state: JobState) -> bool:
        if self.needs is not None:
            return self.needs(plan, state)
        key = self.key(plan, state)
        return key is not None and not plan.cache.store.contains(key)


def layers_of(stages: Sequence[Stage]) -> tuple[str, ...]:
    """The payload layers the cache keeps for these stages: the spec's, then any of their own."""
    return tuple(dict.fromkeys((*Layer.ALL, *(s.layer for s in stages if s.layer))))
