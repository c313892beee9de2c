"""A full job with every non-loopback connection refused at the socket level and no
HF_HUB_OFFLINE: proof that nothing reaches for the network (models load from local paths)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from testkit import CPWX, CliResult, marian_env

from .conftest import Record

# Loaded by every Python process of the job (sitecustomize): an audit hook sees each socket
# connection and name lookup, logs it, and refuses any that leaves the machine.
GUARD = """
import os, sys

_LOG = os.environ["CPWX_NETWORK_LOG"]
_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


def _refuse(what):
    with open(_LOG, "a") as fh:
        fh.write(f"{os.getpid()} {what}\\n")
    raise PermissionError(f"network blocked by the offline test: {what}")


def _hook(event, args):
    if event in ("socket.connect", "socket.sendto"):
        address = args[1] if event == "socket.connect" else args[-1]
        if isinstance(address, tuple) and not str(address[0]).startswith(_LOCAL):
            _refuse(f"{event} {address}")
    elif event == "socket.getaddrinfo":
        if args[0] is not None and not str(args[0]).startswith(_LOCAL):
            _refuse(f"getaddrinfo {args[0]}")


sys.addaudithook(_hook)
"""


def test_a_full_job_needs_no_network(
    media_copy: Path, tmp_path: Path, cli_env: dict[str, str], record: Record
) -> None:
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(GUARD)
    log = tmp_path / "network.log"
    env = {
        **cli_env,
        **marian_env(tmp_path / "marian-en-hi"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(guard), os.environ.get("PYTHONPATH")])),
        "CPWX_NETWORK_LOG": str(log),
    }
    env = {**os.environ, **env}
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        env.pop(variable, None)
    env.pop("PREFECT_API_URL")  # the ephemeral server: loopback only
    env["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"] = "300"  # strace slows its start
    trace = tmp_path / "connect.trace"
    # strace sees what the audit hook cannot: connections made from C (telemetry clients).
    job = subprocess.run(
        [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=connect",
            "-o",
            str(trace),
            CPWX,
            "run",
            str(media_copy),
            "--workflow",
            "subtitle",
            "--target-language",
            "hi",
            "--out",
            str(tmp_path / "subs"),
            "--json",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = CliResult(job.returncode, job.stdout, job.stderr)
    outside = [
        line
        for line in trace.read_text().splitlines()
        if "sa_family=AF_INET" in line and not re.search(r'"(127\.|::1|::ffff:127\.)', line)
    ]
    attempts = log.read_text().splitlines() if log.exists() else []
    # The guard itself works: a lookup of an outside name is logged and refused.
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.getaddrinfo('example.org', 443)"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    record("offline", cases=1, faults=1)  # the fault: no network; any attempt fails below
    assert out.code == 0, out.stderr[-2000:]
    assert attempts == [] and outside == []
    assert Path(out.json["outputs"]["srt"]).read_text().strip()
    assert probe.returncode != 0 and "network blocked" in probe.stderr
    assert log.read_text().split()[1:] == ["getaddrinfo", "example.org"]
