from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from testkit import (
    SPOKEN,
    MotoS3,
    Postgres,
    moto_s3,
    postgres,
    running_prefect_server,
    speak,
    team_env,
)

# Diarization costs ~1 CPU minute per minute of audio on 2 cores: off for every test but those
# about speakers, which turn it on (tests/engines/test_diarize.py, tests/cli/test_speakers.py).
os.environ.setdefault("ENABLE_DIARIZATION", "false")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Debian's chromium, headless as root, and nothing that reaches out of the machine.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page() -> Iterator[Page]:
    """A page in a real browser (Debian's chromium driven by playwright, never downloaded)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


class Clock:
    """An injectable clock for TTL, eviction and stats windows."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


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


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server on loopback (SQLite), shared by the session's CLI tests."""
    with running_prefect_server(tmp_path_factory.mktemp("prefect-server")) as url:
        yield url


@pytest.fixture(scope="session")
def team_services() -> Iterator[tuple[Postgres, MotoS3]]:
    """Debian PostgreSQL and moto_server on loopback, for the session's shared-cache tests."""
    with postgres() as pg, moto_s3() as s3:
        yield pg, s3


@pytest.fixture
def shared_env(team_services: tuple[Postgres, MotoS3]) -> dict[str, str]:
    """CACHE_BACKEND=shared settings for one test, on a database and prefix of its own."""
    return team_env(*team_services)
