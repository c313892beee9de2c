from __future__ import annotations

from pathlib import Path

import pytest

from engines.models import ModelNotFoundError, folder_version, resolve_model


def _model(folder: Path, payload: bytes = b"weights") -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.bin").write_bytes(payload)
    return folder


def test_catalog_then_models_dir_then_bundled(tmp_path: Path) -> None:
    models = tmp_path / "cache" / "models"
    in_layer2 = _model(models / "whisperx" / "large-v3")
    in_catalog = _model(tmp_path / "elsewhere" / "large-v3")
    found = resolve_model("whisperx", "large-v3", {}, models, "WHISPER_MODEL_CATALOG")
    assert found.path == in_layer2.resolve()
    found = resolve_model(
        "whisperx", "large-v3", {"large-v3": in_catalog}, models, "WHISPER_MODEL_CATALOG"
    )
    assert found.path == in_catalog.resolve()
    bundled = resolve_model("whisperx", "tiny.en", {}, models, "WHISPER_MODEL_CATALOG")
    assert (bundled.path / "model.bin").is_file()


def test_missing_model_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as exc:
        resolve_model("whisperx", "large-v2", {}, tmp_path / "models", "WHISPER_MODEL_CATALOG")
    message = str(exc.value)
    assert "nothing is downloaded" in message
    assert str(tmp_path / "models" / "whisperx" / "large-v2") in message
    assert "WHISPER_MODEL_CATALOG" in message


def test_version_follows_the_weights(tmp_path: Path) -> None:
    a = folder_version(_model(tmp_path / "a", b"x" * (5 << 20)))
    assert a == folder_version(_model(tmp_path / "b", b"x" * (5 << 20)))
    assert a != folder_version(_model(tmp_path / "c", b"x" * ((5 << 20) - 1) + b"y"))
