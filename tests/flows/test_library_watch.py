"""The library-watch flow, run for real on Prefect's ephemeral server: one pass over
LIBRARY_DIRS, a film already subtitled skipped, a bad file logged and the pass completed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from testkit import REPO, ffmpeg


def test_a_pass_over_library_dirs(tmp_path: Path, cli_env: dict[str, str]) -> None:
    library = tmp_path / "library"
    library.mkdir()
    film = library / "Film (2008).mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=f=300:d=2", "-c:a", "aac", str(film))
    (library / "Film (2008).eng.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nHi.\n")
    (library / "Broken.mkv").write_text("not a film")
    env = {**cli_env, "LIBRARY_DIRS": str(library), "LIBRARY_SOURCE_LANGUAGE": "en"}
    code = "import json; from flows import library_watch; print(json.dumps(library_watch()))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    swept = json.loads(out.stdout.strip().splitlines()[-1])
    assert swept["skipped"] == [{"media": str(film), "reason": "has Film (2008).eng.srt"}]
    [failed] = swept["failed"]
    assert failed["media"] == str(library / "Broken.mkv") and "not readable" in failed["error"]
    assert swept["done"] == []
    assert sorted(p.name for p in library.iterdir()) == [
        "Broken.mkv",
        "Film (2008).eng.srt",
        "Film (2008).mp4",
    ]
