"""A real `cpwx api` process on loopback, asked as Bazarr asks it: raw PCM from Bazarr's own
ffmpeg command, posted multipart by a real HTTP client."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from testkit import CPWX, REPO, free_port


@dataclass(frozen=True)
class Api:
    url: str
    env: dict[str, str]  # the server's: a CLI call with it shares its cache
    cache: Path
    temp: Path  # the server's TMPDIR: nothing may stay in it
    log: Path

    def client(self, timeout: float = 600) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)


@contextlib.contextmanager
def running_api(home: Path, **settings: str) -> Iterator[Api]:
    """``cpwx api`` with its own cache, config and TMPDIR under ``home``; stopped by Ctrl-C."""
    temp = home / "tmp"
    temp.mkdir(parents=True)
    env = {
        **os.environ,
        "CACHE_DIR": str(home / "cache"),
        "CPWX_CONFIG": str(home / "no-such.env"),
        "PREFECT_HOME": str(home / "prefect-home"),
        "PREFECT_API_URL": "",
        "LOCAL_PREFECT_SERVER": "",
        "TMPDIR": str(temp),
        **settings,
    }
    port = free_port()
    log = home / "api.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [CPWX, "api", "--port", str(port), "--debug"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"cpwx api did not start: {log.read_text()}")
            time.sleep(0.3)
        yield Api(url, env, home / "cache", temp, log)
    finally:
        proc.send_signal(2)  # Ctrl-C
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server for a test module, its store shared by the module's tests."""
    with running_api(tmp_path_factory.mktemp("api")) as served:
        yield served
