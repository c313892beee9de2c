from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from engines.models import resolve_model
from engines.translate import TranslationError, TranslationSettings, Translator
from testkit import SPOKEN, tiny_marian


def _settings(folder: Path, batch_size: int = 2) -> TranslationSettings:
    model = resolve_model("translation", str(folder), {}, folder.parent / "models", "X")
    return TranslationSettings(model, "en", "hi", batch_size, 32, 1, "cpu")


def test_tiny_marian_translates_in_batches(tmp_path: Path) -> None:
    folder = tiny_marian(tmp_path / "marian", SPOKEN.split("."))
    texts = ["the film begins", "every morning", "nobody knows", "a box full of letters", "x"]
    out = list(Translator(_settings(folder)).translate(texts))
    assert len(out) == len(texts) and all(isinstance(t.text, str) for t in out)
    assert all(0.0 < t.confidence <= 1.0 for t in out)


def test_beam_search_reports_confidence_too(tmp_path: Path) -> None:
    folder = tiny_marian(tmp_path / "marian", SPOKEN.split("."))
    settings = dataclasses.replace(_settings(folder), num_beams=3)
    out = list(Translator(settings).translate(["the film begins", "nobody knows"]))
    assert all(0.0 < t.confidence <= 1.0 for t in out)


def test_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "weights.bin").write_bytes(b"0")
    with pytest.raises(TranslationError, match=r"config\.json"):
        Translator(_settings(tmp_path / "broken"))
