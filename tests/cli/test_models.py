"""``cpwx models`` through the real CLI: every model a job could name, bundled ones verified."""

from __future__ import annotations

import json
from pathlib import Path

from testkit import run_cli
from tests.engines.test_models import _model


def test_lists_bundled_catalog_and_cache_models(cli_env: dict[str, str], tmp_path: Path) -> None:
    catalog = _model(tmp_path / "elsewhere" / "large-v3")
    _model(Path(cli_env["CACHE_DIR"]) / "models" / "whisperx" / "medium")
    env = {**cli_env, "WHISPER_MODEL_CATALOG": json.dumps({"large-v3": str(catalog)})}
    result = run_cli("models", "--json", env=env)
    assert result.code == 0, result
    listed = {(m["name"], m["source"]): m for m in result.json["models"]}
    assert listed["tiny.en", "bundled"]["languages"] == "English only"
    assert listed["base", "bundled"]["languages"] == "multilingual"
    assert listed["base", "bundled"]["checksum"] == "verified"
    assert listed["large-v3", "catalog"]["checksum"].startswith("files complete")
    assert listed["medium", "cache"]["path"].endswith("models/whisperx/medium")
    table = run_cli("models", env=env)
    assert table.code == 0 and "multilingual" in table.stdout and "verified" in table.stdout


def test_a_damaged_model_fails_the_listing_and_the_job(
    cli_env: dict[str, str], tmp_path: Path, speech_mp4: Path
) -> None:
    folder = _model(tmp_path / "large-v3")
    (folder / "model.bin").unlink()
    env = {**cli_env, "WHISPER_MODEL_CATALOG": json.dumps({"large-v3": str(folder)})}
    listing = run_cli("models", "--json", env=env)
    assert listing.code == 1
    damaged = {m["name"]: m for m in listing.json["models"]}["large-v3"]
    assert damaged["checksum"] == "damaged: model.bin missing"
    job = run_cli("run", str(speech_mp4), "--model", "large-v3", env=env)
    assert job.code == 1
    lines = job.stderr.strip().splitlines()
    assert len(lines) == 1 and str(folder / "model.bin") in lines[0], lines
    assert not (Path(cli_env["CACHE_DIR"]) / "asr").exists()
