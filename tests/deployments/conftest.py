"""One `cpwx serve` for the package's tests: a real Prefect server on PostgreSQL (what the
README's multi-machine guide runs), both pools, the deployments and a worker per pool, all on
loopback with temporary homes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from testkit import CPWX, REPO, MotoS3, Postgres, free_port


@dataclass(frozen=True)
class Served:
    ui: str
    api: str
    http_api: str  # whisper-asr-webservice's API (--api-port), for Bazarr
    env: dict[str, str]  # what a CLI call needs to use this server and its cache

    def post(self, path: str, body: dict[str, Any]) -> Any:
        request = urllib.request.Request(
            f"{self.api}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.api}{path}", timeout=30) as response:
            return json.load(response)


@pytest.fixture(scope="package")
def served(
    tmp_path_factory: pytest.TempPathFactory, team_services: tuple[Postgres, MotoS3]
) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("served")
    pg = team_services[0]
    with psycopg.connect(pg.url, autocommit=True) as con:
        con.execute("CREATE DATABASE prefect_served")
    base = pg.url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0]
    database = ("--database-url", f"{base}/prefect_served")
    env = {
        **os.environ,
        "PREFECT_HOME": str(home / "prefect"),
        "CACHE_DIR": str(home / "cache"),
        "CPWX_CONFIG": str(home / "no-such.env"),
        "PREFECT_API_URL": "",
    }
    port = free_port()
    api = ("--api-port", str(free_port()))
    serve = subprocess.Popen(
        [
            CPWX,
            "serve",
            "--port",
            str(port),
            "--logs",
            str(home / "logs"),
            "--json",
            *api,
            *database,
        ],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=(home / "serve.err").open("w"),
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert serve.stdout is not None
    line = serve.stdout.readline()  # printed once everything is up
    if not line:
        serve.wait(timeout=60)
        pytest.fail(f"cpwx serve did not start: {(home / 'serve.err').read_text()}")
    ready = json.loads(line)
    yield Served(
        ready["ui"], ready["api"], ready["http_api"], {**env, "PREFECT_API_URL": ready["api"]}
    )
    # Ctrl-C stops everything it started: the workers, then the server.
    os.killpg(serve.pid, signal.SIGINT)
    assert serve.wait(timeout=90) == 0, (home / "serve.err").read_text()
    left = subprocess.run(
        ["pgrep", "-f", f"cpwx-(cpu|gpu)-{serve.pid}|prefect server start .*--port {port}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert left.stdout == "", f"still running after Ctrl-C: {left.stdout}"
