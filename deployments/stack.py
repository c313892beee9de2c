"""The whole local deployment, as ``cpwx serve`` runs it: a Prefect server on loopback, the
pools, ``prefect deploy --all`` of prefect.yaml, and a worker per pool."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from prefect.settings import PREFECT_API_URL, temporary_settings

from ._service import PREFECT, Service, healthy, spawn
from .pools import create_pools
from .workers import start_workers

__all__ = ["REPO", "Stack", "deploy", "running_stack", "start_api", "start_server"]

REPO = Path(__file__).resolve().parents[1]
CPWX = str(Path(sys.executable).with_name("cpwx"))


def start_server(
    port: int,
    logs: Path,
    database_url: str | None = None,
    env: Mapping[str, str] | None = None,
    host: str = "127.0.0.1",
) -> tuple[Service, str]:
    """``prefect server start`` on ``host`` (SQLite under PREFECT_HOME, or ``database_url``,
    e.g. postgresql+asyncpg://...), with ``env`` over ours; returns it once healthy, with its
    API URL on loopback."""
    url = f"http://127.0.0.1:{port}/api"
    # The UI's own calls (its default is port 4200 on loopback): other machines' browsers
    # reach a server listening on every interface by this host's name.
    public = socket.getfqdn() if host in ("0.0.0.0", "::") else host
    server_env = {
        **os.environ,
        **(env or {}),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
        "PREFECT_UI_API_URL": f"http://{public}:{port}/api",
    }
    if database_url:
        server_env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    server = spawn(
        "Prefect server",
        [PREFECT, "server", "start", "--host", host, "--port", str(port)],
        server_env,
        logs / "server.log",
    )
    try:
        server.wait_until(lambda: healthy(url), timeout=120)
    except BaseException:
        server.stop()
        raise
    return server, url


def start_api(
    api_url: str, port: int, host: str, logs: Path, gpu_stages: str, timeout: float = 120
) -> Service:
    """``cpwx api`` on ``host:port`` for Bazarr and the like, its jobs flow runs on the server
    at ``api_url`` (GPU stages where the cpu pool's jobs run them); returned once it answers."""
    env = {**os.environ, "PREFECT_API_URL": api_url, "GPU_STAGES": gpu_stages}
    args = [CPWX, "api", "--host", host, "--port", str(port), "--debug"]
    api = spawn("HTTP API", args, env, logs / "api.log")
    try:
        api.wait_until(lambda: healthy(f"http://127.0.0.1:{port}"), timeout)
    except BaseException:
        api.stop()
        raise
    return api


def deploy(api_url: str, logs: Path) -> None:
    """``prefect deploy --all`` from the repository root: every deployment in prefect.yaml,
    schedules included, runs from this checkout."""
    with (logs / "deploy.log").open("ab") as out:
        done = subprocess.run(
            [PREFECT, "--no-prompt", "deploy", "--all"],
            cwd=REPO,
            env={**os.environ, "PREFECT_API_URL": api_url},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if done.returncode != 0:
        tail = (logs / "deploy.log").read_text(errors="replace")[-2000:]
        raise RuntimeError(f"prefect deploy failed:\n{tail}")


@dataclass
class Stack:
    api_url: str
    services: list[Service] = field(default_factory=list)

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")


@contextmanager
def running_stack(
    port: int,
    logs: Path,
    gpu_slots: int,
    gpu_stages: str = "gpu-pool",
    database_url: str | None = None,
    host: str = "127.0.0.1",
) -> Iterator[Stack]:
    """Everything up, then torn down (workers first) when the block ends. A server already
    answering on ``port`` is used as it is and left running."""
    logs.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}/api"
    stack = Stack(url)
    try:
        if not healthy(url):
            server, url = start_server(port, logs, database_url, host=host)
            stack.services.append(server)
        os.environ["PREFECT_API_URL"] = url  # for what this process starts or imports later
        with temporary_settings({PREFECT_API_URL: url}):  # and for Prefect, already loaded
            create_pools(gpu_slots)
            deploy(url, logs)
            stack.services.extend(start_workers(url, logs, gpu_stages))
            yield stack
    finally:
        for service in reversed(stack.services):
            service.stop()
