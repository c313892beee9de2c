"""A job for the workers of a running server: `cpwx submit`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

from pipeline import Progress, Settings

from ._prefect import running_server, trigger
from ._prepare import prepare
from ._request import JobError, JobRequest
from ._result import JobResult

__all__ = ["submit_job"]


def submit_job(
    request: JobRequest,
    settings: Settings,
    deployment: str,
    progress: Progress | None,
    submitted: Callable[[str], None],
) -> JobResult:
    """Trigger ``deployment`` with the request as its parameters and wait for the run (its UI
    address goes to ``submitted``); the request is checked here first, so a bad one fails
    before anything is queued."""
    prepare(request, settings).audio.choose()  # bad media or track fails before anything queues
    api = running_server(settings)
    if api is None:
        raise JobError(
            "no Prefect server to submit to: start one with `cpwx serve` (or set "
            "PREFECT_API_URL), or run the job here with `cpwx run`"
        )
    os.environ["PREFECT_API_URL"] = api
    result = JobResult.from_json(trigger(request, api, deployment, progress, submitted))
    return dataclasses.replace(result, orchestration=f"deployment {deployment}")
