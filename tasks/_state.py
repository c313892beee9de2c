"""Turn a stage's (value, report) into what a Prefect task returns: a hit shows as ``Cached``."""

from __future__ import annotations

from typing import Any

from prefect.states import Completed

from cpwx.job import StageReport

__all__ = ["as_task_result"]


def as_task_result(out: tuple[Any, StageReport | None]) -> Any:
    _value, report = out
    if report is not None and report.cache == "hit":
        return Completed(name="Cached", data=out, message=report.reason or "served from cache")
    return out
