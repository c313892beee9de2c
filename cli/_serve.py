"""``cpwx serve``: the Prefect UI, pools, deployments and workers on this machine, until Ctrl-C."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from ._console import emit, err, fail, settings_or_fail

__all__ = ["serve"]


def serve(
    port: Annotated[int, typer.Option(help="Port of the server and its UI.")] = 4200,
    host: Annotated[
        str,
        typer.Option(help="Interface to listen on: 0.0.0.0 for workers on other machines."),
    ] = "127.0.0.1",
    database_url: Annotated[
        str | None,
        typer.Option(
            help="Prefect's database, e.g. postgresql+asyncpg://user:pw@127.0.0.1:5432/prefect "
            "(default SQLite under PREFECT_HOME; PostgreSQL for several busy workers).",
            envvar="PREFECT_SERVER_DATABASE_CONNECTION_URL",
        ),
    ] = None,
    gpu_slots: Annotated[
        int | None,
        typer.Option(help="Concurrent GPU-stage runs (default: one per GPU here, at least 1)."),
    ] = None,
    gpu_stages: Annotated[
        Literal["gpu-pool", "in-process"],
        typer.Option(help="Where the cpu pool's jobs run ASR and translation models."),
    ] = "gpu-pool",
    api_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the whisper-asr-webservice API (Bazarr) on this port, on --host; "
            "each of its jobs a flow run in the UI."
        ),
    ] = None,
    logs: Annotated[
        Path, typer.Option(help="Folder for the server's, workers' and deploy logs.")
    ] = Path("~/.cp-whisperx/serve"),
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object on stdout once ready.")
    ] = False,
) -> None:
    """Start a Prefect server (on loopback unless --host), create the cpu and gpu pools,
    deploy prefect.yaml (the subtitle job, the GPU stages, the scheduled cleanup and
    retraining) and a worker per pool; print the UI's address, and stop everything on
    Ctrl-C. While it runs, `cpwx run` and `cpwx submit` use this server."""
    settings_or_fail()
    from deployments import gpu_count, run_until_stopped, running_stack, start_api, stop_on_signals

    stop_on_signals()
    folder = logs.expanduser().absolute()
    slots = gpu_slots if gpu_slots is not None else gpu_count()
    try:
        with running_stack(port, folder, slots, gpu_stages, database_url, host) as stack:
            http_api = None
            if api_port is not None:
                stack.services.append(start_api(stack.api_url, api_port, host, folder, gpu_stages))
                http_api = f"http://{host}:{api_port}"
            ready = {
                "ui": stack.ui_url,
                "api": stack.api_url,
                "http_api": http_api,
                "pools": {"cpu": None, "gpu": max(1, slots)},
                "gpu_stages": gpu_stages,
                "logs": str(folder),
            }
            if as_json:
                emit(ready)
            err.print(
                f"Prefect UI: [bold]{stack.ui_url}[/] (pools cpu and gpu x{max(1, slots)}, "
                f"GPU stages {gpu_stages}; logs in {folder})"
                + (f"; Bazarr's API: {http_api}" if http_api else "")
                + ". Ctrl-C stops it all.",
                highlight=False,
            )
            why = run_until_stopped(stack.services)
    except KeyboardInterrupt:
        why = "stopped"
    except (RuntimeError, OSError) as exc:
        raise fail(str(exc).strip().splitlines()[0]) from None
    if why != "stopped":
        raise fail(why)
    err.print("cpwx serve: stopped")
