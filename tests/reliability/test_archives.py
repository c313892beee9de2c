"""Hostile archives through `cpwx cache import`, as a colleague's file would arrive: each is
refused in one line, nothing is written outside the cache, and nothing is half imported."""

from __future__ import annotations

from pathlib import Path

from cache_manager import CacheManager
from testkit import run_cli, tree_state

from ..cache_manager.test_archive import CONFIG, HOSTILE, RESULT, _exported, _zeros_archive
from .conftest import Record

BOMBS = {
    "decompression bomb (one huge member)": [600 << 20],
    "decompression bomb (ratio)": [300 << 20, 300 << 20],
}


def test_every_hostile_archive_is_refused_in_one_line(
    tmp_path: Path, cli_env: dict[str, str], record: Record
) -> None:
    good, _ = _exported(tmp_path)
    cases = {}
    for name, make in HOSTILE.items():
        folder = tmp_path / name.replace(" ", "-")
        folder.mkdir()
        cases[name] = make(good, folder)
    for name, sizes in BOMBS.items():
        cases[name] = _zeros_archive(tmp_path / f"{len(cases)}.tar.gz", sizes)
    cache = Path(cli_env["CACHE_DIR"])
    CacheManager(cache).set_asr_result("c" * 64, CONFIG, RESULT)
    before, outside = tree_state(cache), tree_state(tmp_path)
    accepted = {}
    for name, archive in cases.items():
        out = run_cli("cache", "import", str(archive), env=cli_env)
        lines = out.stderr.strip().splitlines()
        if out.code == 0 or len(lines) != 1 or "Traceback" in out.stderr:
            accepted[name] = f"exit {out.code}: {out.stderr.strip()[-300:]}"
    assert accepted == {}
    assert tree_state(cache) == before  # nothing imported, not even the good half
    assert {k: v for k, v in tree_state(tmp_path).items() if not k.startswith("cache")} == {
        k: v for k, v in outside.items() if not k.startswith("cache")
    }  # and nothing written beside it
    assert not Path("/etc/cpwx-owned").exists()
    record("hostile archives", cases=len(cases), faults=len(cases))
