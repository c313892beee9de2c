"""An invalid value for every setting: a clear error that names the setting, when the settings
are read or, for names resolved against the disk, when a job is checked before any work."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest

from jobs import JobRequest, prepare
from pipeline import ConfigError, Settings, load_settings
from testkit import REPO

from .conftest import Record

# Values no setting of that type accepts; per-setting ones where the type takes any text.
BY_TYPE: dict[object, str] = {bool: "maybe", int: "many", float: "lots"}
BY_NAME = {
    "cache_dir": str(REPO / "README.md"),  # a file, not a folder
    "whisper_model": "no-such-model",
    "whisper_model_catalog": '{"big": ',  # not JSON
    "whisper_compute_type": "int3",
    "align_model_dir": "/no/such/alignment-model",
    "diarization_model_dir": "/no/such/pyannote-pipeline",
    "translation_model": "no-such-translation-model",
    "local_prefect_server": "localhost 4200",
    "gpu_deployment": "gpu-stages",  # not flow/deployment
    "cache_s3_endpoint": "minio 9000",
    "cache_s3_bucket": "Team_Cache",
    "cache_s3_prefix": "studio/../other",
    "cache_index_url": "mysql://db/cpwx",
    "cache_s3_credentials_block": "My S3 Keys",
    "subtitle_profile": "cinema",
    "subtitle_formats": "srt,docx",
    "library_dirs": str(REPO / "README.md"),
    "library_source_language": "xq",
    "library_target_language": "klingon",
}


def _invalid(name: str, annotation: object) -> str:
    if name in BY_NAME:
        return BY_NAME[name]
    if typing.get_origin(annotation) is typing.Literal:
        return "none-of-these"
    inner = [a for a in typing.get_args(annotation) if a is not type(None)]
    return BY_TYPE[inner[0] if inner else annotation]


def _error(env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    if env != "CACHE_DIR":
        monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    if env != "TRANSLATION_MODEL":
        monkeypatch.setenv("TRANSLATION_MODEL", "")
    try:
        settings = load_settings(env_file=tmp_path / "none.env")
        workflow = "subtitle" if env == "TRANSLATION_MODEL" else "transcribe"
        request = JobRequest(
            media=REPO / "samples" / "demo.mp4", workflow=workflow, target_language="hi"
        )
        prepare(request, settings)
    except Exception as exc:  # the suite checks the message of whatever refuses it
        return f"{type(exc).__name__}: {exc}"
    return "accepted"


def test_every_setting_refuses_an_invalid_value_by_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, record: Record
) -> None:
    unnamed = {}
    fields = Settings.model_fields
    for name, field in fields.items():
        env = name.upper()
        with monkeypatch.context() as m:
            m.setenv(env, _invalid(name, field.annotation))
            message = _error(env, m, tmp_path)
        if env not in message or "\n" in message.strip():
            unnamed[env] = message
    record("config", cases=len(fields), faults=len(fields), lost=0)
    assert unnamed == {}, "\n".join(f"{k}: {v}" for k, v in unnamed.items())


def test_load_settings_errors_are_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHISPER_BEAM_SIZE", "0")
    with pytest.raises(ConfigError, match="WHISPER_BEAM_SIZE"):
        load_settings(env_file=Path("/no/such.env"))
