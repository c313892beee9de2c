"""Running the CLI as a user does, a process per job, and a real Prefect server on loopback."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
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
    wall, rss, _ = timed_output(cmd, env)
    return wall, rss


# Runs argv[2:] and writes "wall-seconds peak-RSS-KiB" to argv[1]. The peak is read here, in
# a small process: one forked from a large benchmark process starts with that process's peak
# as its own (Linux carries ``maxrss`` over the fork), so reading it there overstates it.
_MEASURE = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawnp(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{time.perf_counter() - start} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed_output(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of one process run to completion (its output
    goes through files: a pipe it fills would stall it while we wait)."""
    with (
        tempfile.TemporaryDirectory() as folder,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        measured = Path(folder) / "measured"
        measure = [sys.executable, "-c", _MEASURE, str(measured), *cmd]
        if subprocess.run(measure, env=env, stdout=out, stderr=err, check=False).returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed: {err.read().decode()[-2000:]}")
        wall, rss = measured.read_text().split()
        out.seek(0)
        return float(wall), int(rss) / 1024, out.read().decode()
