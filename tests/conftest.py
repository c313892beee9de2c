from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import SPOKEN, speak


@pytest.fixture(scope="session")
def speech_mp4(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~20 s of espeak-ng English in an MP4 with a video track."""
    return speak(SPOKEN, tmp_path_factory.mktemp("media") / "village.mp4")


@pytest.fixture
def media_copy(speech_mp4: Path, tmp_path: Path) -> Path:
    """A private copy, so a test may touch or change its source file."""
    target = tmp_path / "film.mp4"
    target.write_bytes(speech_mp4.read_bytes())
    return target


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """An isolated cache dir and config for one CLI test (embedded mode, no server)."""
    return {
        "CACHE_DIR": str(tmp_path / "cache"),
        "CPWX_CONFIG": str(tmp_path / "no-such.env"),
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": "",
        "LOCAL_PREFECT_SERVER": "",
        "CPWX_TEST_CWD": str(tmp_path),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server on loopback (SQLite), shared by the session's CLI tests."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_URL": "",
    }
    log = open(home / "server.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("prefect")),
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"Prefect server did not start: {(home / 'server.log').read_text()}")
        time.sleep(0.5)
    try:
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
