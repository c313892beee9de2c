"""The cache dir on a small tmpfs that fills up: the job still writes its subtitles, a failed
cache write is one warning, nothing half-written stays in the store, and once there is room
again the store is valid and caches as before."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from cache_manager import CacheManager
from cache_store import validate
from testkit import run_cli

from .conftest import Record

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, leave_kib: int) -> Path:
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with contextlib.suppress(OSError):  # full before the end: so much the better
        filler.write_bytes(bytes(max(0, free - leave_kib * 1024)))
    return filler


@pytest.mark.parametrize("leave_kib", [0, 64], ids=["full from the start", "fills up mid-job"])
def test_a_full_cache_disk_costs_the_cache_not_the_job(
    leave_kib: int,
    small_disk: Path,
    media_copy: Path,
    cli_env: dict[str, str],
    prefect_server: str,
    tmp_path: Path,
    record: Record,
) -> None:
    cache = small_disk / "cache"
    env = {**cli_env, "CACHE_DIR": str(cache), "PREFECT_API_URL": prefect_server}
    filler = _fill(small_disk, leave_kib)
    out = run_cli("run", str(media_copy), "--out", str(tmp_path / "a"), "--json", env=env)
    assert out.code == 0, out.stderr[-2000:]
    assert "cpwx: warning: the cache's disk is full" in out.stderr
    first = json.loads(out.stdout)
    assert Path(first["outputs"]["srt"]).read_text().strip()
    assert not [p for p in cache.rglob("*.tmp")], "a half-written file stayed in the store"

    filler.unlink()  # room again
    report = validate(CacheManager(cache).store, fix=True)
    assert not [p for p in report.problems if p.kind == "corrupted"], report.problems
    again = run_cli("run", str(media_copy), "--out", str(tmp_path / "b"), "--json", env=env)
    assert again.code == 0 and "disk is full" not in again.stderr, again.stderr[-2000:]
    third = run_cli("run", str(media_copy), "--out", str(tmp_path / "c"), "--json", env=env)
    assert json.loads(third.stdout)["stages"]["asr"]["cache"] == "hit"
    texts = {
        Path(json.loads(run.stdout)["outputs"]["srt"]).read_text() for run in (out, again, third)
    }
    record(
        f"disk full ({'from the start' if leave_kib == 0 else 'mid-job'})",
        cases=3,
        faults=1,
        corrupt_served=len(texts) - 1,
    )
    assert len(texts) == 1  # the cached transcript is the one the full-disk run made
