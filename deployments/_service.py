"""A Prefect CLI process we started: its log, a health wait, and a clean stop."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PREFECT", "Service", "healthy", "run_until_stopped", "spawn", "stop_on_signals"]

PREFECT = str(Path(sys.executable).with_name("prefect"))


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def wait_until(self, ready: Callable[[], bool], timeout: float) -> None:
        """Block until ``ready()``; a process that dies or a timeout raises with its log."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} did not start:\n{tail}")
            time.sleep(0.5)

    def stop(self, timeout: float = 30) -> None:
        """SIGINT to its process group (Prefect workers ignore SIGTERM), then SIGKILL."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass


def spawn(name: str, args: list[str], env: dict[str, str], log: Path) -> Service:
    """Start ``args`` in its own process group (so Ctrl-C at a terminal reaches us, and we
    stop it), its output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    return Service(name, process, log)


def healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):
        return False


def run_until_stopped(services: list[Service]) -> str:
    """Hold the services until Ctrl-C or SIGTERM (see ``stop_on_signals``), or until one of
    them exits; then stop them all, last started first. Returns why it stopped."""
    why = "stopped"
    try:
        while why == "stopped":
            dead = [s for s in services if s.process.poll() is not None]
            if dead:
                why = f"{dead[0].name} exited ({dead[0].process.returncode}); see {dead[0].log}"
            else:
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for service in reversed(services):
            service.stop()
    return why


def stop_on_signals() -> None:
    """SIGINT and SIGTERM raise KeyboardInterrupt here, even where a shell started us with
    SIGINT ignored; call before spawning, so the children get the default handling too (an
    exec resets handled signals, but keeps ignored ones ignored)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
