from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import SPOKEN, running_prefect_server, speak


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
