"""Jobs through a running Prefect server: find it, trigger the subtitle-job deployment, and
follow the flow run to its end."""

from __future__ import annotations

import dataclasses
import os
import time
import urllib.request
from typing import Any, cast
from uuid import UUID

from engines.media import probe

from .console import err
from .job import JobError, JobRequest, JobResult, prepare, report_progress
from .settings import Settings

__all__ = ["running_server", "submit_job"]

_FINAL_POLL_SECONDS = 1.0


def running_server(settings: Settings) -> str | None:
    """PREFECT_API_URL, else a Prefect server already listening at LOCAL_PREFECT_SERVER (where
    `cpwx serve` and `prefect server start` listen), so jobs skip the ephemeral server's
    start-up and show in its UI."""
    if os.environ.get("PREFECT_API_URL"):
        return os.environ["PREFECT_API_URL"]
    url = settings.local_prefect_server.rstrip("/")
    if not url:
        return None
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=0.5) as response:
            return url if response.status == 200 else None
    except (OSError, ValueError):
        return None


def submit_job(request: JobRequest, settings: Settings, deployment: str) -> JobResult:
    """Trigger ``deployment`` with the request as its parameters and wait for the run; the
    request is checked here first, so a bad one fails before anything is queued."""
    prepare(request, settings)
    probe(request.media)  # bad media fails here, before a run is queued
    api = running_server(settings)
    if api is None:
        raise JobError(
            "no Prefect server to submit to: start one with `cpwx serve` (or set "
            "PREFECT_API_URL), or run the job here with `cpwx run`"
        )
    os.environ["PREFECT_API_URL"] = api
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import FlowRun
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api}):
        try:
            run = cast(
                FlowRun,
                run_deployment(
                    deployment, parameters=request.to_parameters(), timeout=0, as_subflow=False
                ),
            )
        except ObjectNotFound:
            raise JobError(
                f"no deployment {deployment!r} on {api}: start `cpwx serve`, or run "
                "`prefect deploy --all` in the repository"
            ) from None
        ui = api.removesuffix("/api")
        err.print(f"submitted: {ui}/runs/flow-run/{run.id}", highlight=False)
        state = _follow(get_client(sync_client=True), run.id)
    if not state.is_completed():
        raise JobError(f"flow run {run.name} ended {state.name}: {state.message or 'no message'}")
    result = JobResult.from_json(cast(dict[str, Any], state.result()))
    return dataclasses.replace(result, orchestration=f"deployment {deployment}")


def _follow(client: Any, run_id: UUID) -> Any:
    """Poll the run until it is final, reporting its state to the progress display."""
    with client:
        while True:
            state = client.read_flow_run(run_id).state
            if state is not None and state.is_final():
                return state
            report_progress(f"run {state.name.lower() if state else 'queued'}", 0.0)
            time.sleep(_FINAL_POLL_SECONDS)
