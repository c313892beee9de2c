"""Running the CLI as a user does, a process per job, and a real Prefect server on loopback."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CPWX = str(Path(sys.executable).with_name("cpwx"))


def run_in_processes(*jobs: tuple[Callable[..., object], tuple[object, ...]]) -> None:
    """Run each (function, args) in its own spawned process at once; all must exit 0."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=fn, args=args) for fn, args in jobs]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0, f"{p.name} exited {p.exitcode}"


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


def run_cli(*args: str, env: dict[str, str], timeout: float = 600) -> CliResult:
    proc = subprocess.run(
        [CPWX, *args],
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=env.get("CPWX_TEST_CWD", str(REPO)),
        stdin=subprocess.DEVNULL,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and mtime: equal states mean nothing changed."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def bench_env(work: Path) -> dict[str, str]:
    """A benchmark's jobs' environment: no config file and no Prefect server (each ``cpwx run``
    starts its own), under a PREFECT_HOME in ``work`` whose database is migrated here, since a
    user pays that once and not per job."""
    env = {
        **os.environ,
        "CPWX_CONFIG": str(work / "none.env"),
        "LOCAL_PREFECT_SERVER": "",
        "PREFECT_HOME": str(work / "prefect-home"),
    }
    env.pop("PREFECT_API_URL", None)
    prefect = str(Path(sys.executable).with_name("prefect"))
    subprocess.run(
        [prefect, "server", "database", "upgrade", "-y"], env=env, check=True, capture_output=True
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running_prefect_server(home: Path) -> Iterator[str]:
    """A real Prefect server on loopback (SQLite under ``home``); yields its API URL."""
    from deployments import start_server

    server, url = start_server(free_port(), home, env={"PREFECT_HOME": str(home)})
    try:
        yield url
    finally:
        server.stop()


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one process run to completion."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        assert proc.stderr is not None
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_maxrss / 1024
