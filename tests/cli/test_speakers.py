"""Speakers through the real CLI: a real two-person call gets a speaker on every word and
segment, and a speaker setting diarizes again while the transcript stays a hit."""

from __future__ import annotations

import json
from pathlib import Path

from testkit import pyannote_sample, run_cli


def test_every_word_has_a_speaker_and_a_setting_redoes_only_diarization(
    cli_env: dict[str, str],
) -> None:
    env = {**cli_env, "ENABLE_DIARIZATION": "true"}
    call = str(pyannote_sample() / "sample.wav")
    first = run_cli("run", call, "--json", env=env)
    assert first.code == 0, first.stderr
    job = first.json
    assert job["stages"]["diarization"]["cache"] == "miss"
    said = json.loads(Path(job["outputs"]["json"]).read_text(encoding="utf-8"))
    segments = said["segments"]
    assert segments and all(s.get("speaker") for s in segments)
    assert all(w.get("speaker") for s in segments for w in s["words"])
    assert len({w["speaker"] for s in segments for w in s["words"]}) == 2

    given = run_cli("run", call, "--speakers", "2", "--json", env=env).json
    stages = {name: s["cache"] for name, s in given["stages"].items()}
    assert stages["asr"] == stages["words"] == "hit" and stages["diarization"] == "miss"
    again = run_cli("run", call, "--speakers", "2", "--json", env=env).json
    assert again["orchestration"] == "store-fast-path"

    missing = {**env, "DIARIZATION_MODEL_DIR": str(Path(env["CACHE_DIR"]) / "nothing")}
    bad = run_cli("run", call, env=missing)
    assert bad.code == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "DIARIZATION_MODEL_DIR" in bad.stderr
