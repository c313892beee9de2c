"""The application's one door to a Prefect server: find a running one, trigger the subtitle-job
deployment and follow the flow run to its end, and read a Secret block. Prefect is imported here
only when one of these is asked for, so a job served from the store never loads it."""

from __future__ import annotations

import os
import time
import urllib.request
from collections.abc import Callable
from typing import Any, cast
from uuid import UUID

from pipeline import ConfigError, Progress, Settings

from ._request import JobError, JobRequest

__all__ = ["running_server", "secret_credentials", "trigger"]

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


def trigger(
    request: JobRequest,
    api: str,
    deployment: str,
    progress: Progress | None,
    submitted: Callable[[str], None],
) -> dict[str, Any]:
    """Trigger ``deployment`` on the server at ``api`` with the request as its parameters,
    and wait for the run (its UI address goes to ``submitted``); returns its result."""
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
        submitted(f"{api.removesuffix('/api')}/runs/flow-run/{run.id}")
        state = _follow(get_client(sync_client=True), run.id, progress)
    if not state.is_completed():
        raise JobError(f"flow run {run.name} ended {state.name}: {state.message or 'no message'}")
    return cast(dict[str, Any], state.result())


def _follow(client: Any, run_id: UUID, progress: Progress | None) -> Any:
    """Poll the run until it is final, reporting its state to the progress display."""
    with client:
        while True:
            state = client.read_flow_run(run_id).state
            if state is not None and state.is_final():
                return state
            if progress is not None:
                progress(f"run {state.name.lower() if state else 'queued'}", 0.0)
            time.sleep(_FINAL_POLL_SECONDS)


def secret_credentials(name: str) -> tuple[str, str]:
    """S3 keys from a Prefect Secret block on the configured server (made in the UI, or with
    ``Secret(value={"access_key_id": ..., "secret_access_key": ...}).save(name)``)."""
    from prefect.blocks.system import Secret

    where = f"CACHE_S3_CREDENTIALS_BLOCK: the Secret block {name!r}"
    try:
        value = cast("Secret[Any]", Secret.load(name)).get()  # the sync side of Prefect's dispatch
    except Exception as exc:  # a missing block, or no server to ask
        raise ConfigError(f"{where} cannot be read: {str(exc).splitlines()[0]}") from exc
    if not isinstance(value, dict) or not {"access_key_id", "secret_access_key"} <= set(value):
        raise ConfigError(f"{where} must hold access_key_id and secret_access_key")
    return str(value["access_key_id"]), str(value["secret_access_key"])
