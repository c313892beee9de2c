"""Term protection around the model: placeholders when the model copies them, the segment
translated around its terms when it does not (a real tiny transformers model)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from engines.models import ResolvedModel
from engines.translate import Translation, TranslationSettings, Translator
from glossary import Glossary, GlossaryEntry
from pipeline import translation
from testkit import SPOKEN, tiny_marian

GLOSSARY = Glossary(
    "film",
    (
        GlossaryEntry("Jai", "character_name", source="user"),
        GlossaryEntry("ji", "cultural_term", source="user", preserve=True),
        GlossaryEntry("king", "technical_term", source="user", translations=(("hi", "राजा"),)),
    ),
)
LINES = ["Jai ji, the king is here.", "Nobody knows the king.", "No terms here."]


def _settings(folder: Path) -> TranslationSettings:
    model = ResolvedModel("tiny", folder, "v1")
    return TranslationSettings(model, "en", "hi", 2, 32, 1, "cpu")


def test_terms_survive_a_model_that_loses_placeholders(tmp_path: Path) -> None:
    folder = tiny_marian(tmp_path / "marian", [*SPOKEN.split("."), *LINES])
    out = translation.translate(_settings(folder), LINES, GLOSSARY)
    first, second, third = (t.text for t, _ in out)
    assert "Jai" in first and "ji" in first and "राजा" in first
    assert "राजा" in second
    assert [terms for _, terms in out] == [("Jai", "ji", "king"), ("king",), ()]
    assert all(0 < t.confidence <= 1 for t, _ in out)
    assert third  # untouched by protection


def test_placeholders_restored_when_the_model_copies_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []

    def echo(_self: Translator, texts: Sequence[str]) -> Iterator[Translation]:
        sent.extend(texts)
        return iter(Translation(t.upper(), 0.9) for t in texts)

    monkeypatch.setattr(Translator, "translate", echo)
    monkeypatch.setattr(Translator, "__init__", lambda _self, _settings: None)
    out = translation.translate(_settings(tmp_path), LINES[:1], GLOSSARY)
    assert "Jai" not in sent[0] and "king" not in sent[0]
    assert out[0][0].text == "Jai ji, THE राजा IS HERE."
