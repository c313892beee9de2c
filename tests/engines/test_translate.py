from __future__ import annotations

from pathlib import Path

import pytest

from engines.models import resolve_model
from engines.translate import TranslationError, TranslationSettings, Translator

from ..helpers import SPOKEN, tiny_marian


def _settings(folder: Path, batch_size: int = 2) -> TranslationSettings:
    model = resolve_model("translation", str(folder), {}, folder.parent / "models", "X")
    return TranslationSettings(model, "en", "hi", batch_size, 32, 1, "cpu")


def test_tiny_marian_translates_in_batches(tmp_path: Path) -> None:
    folder = tiny_marian(tmp_path / "marian", SPOKEN.split("."))
    texts = ["the film begins", "every morning", "nobody knows", "a box full of letters", "x"]
    out = list(Translator(_settings(folder)).translate(texts))
    assert len(out) == len(texts) and all(isinstance(t, str) for t in out)


def test_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "weights.bin").write_bytes(b"0")
    with pytest.raises(TranslationError, match=r"config\.json"):
        Translator(_settings(tmp_path / "broken"))
