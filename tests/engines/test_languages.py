"""Which language a film speaks: the multilingual model on real and synthetic speech, and the
Hindi/Urdu rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from engines.languages import LanguageError, check_language, choose_language, detect_language
from engines.media import demux
from testkit import SPOKEN_ES, SPOKEN_HI, base_settings, pyannote_sample, speak, speak_hindi


def test_hindi_and_urdu_count_as_one_and_are_written_as_hindi() -> None:
    assert choose_language({"ur": 0.5, "hi": 0.3, "en": 0.1}).language == "hi"
    note = choose_language({"ur": 0.5, "hi": 0.3}).note
    assert note is not None and "--source-language ur" in note
    # together they outweigh a third language that beats each alone
    assert choose_language({"ar": 0.4, "ur": 0.25, "hi": 0.2}).language == "hi"
    assert choose_language({"hi": 0.6, "ur": 0.3}).note is None
    assert choose_language({"es": 0.9, "pt": 0.05}).language == "es"
    assert choose_language({"en": 0.5, "ur": 0.2, "hi": 0.2}).language == "en"


@pytest.mark.slow
def test_detects_real_english_spanish_and_hindi(tmp_path: Path) -> None:
    settings = base_settings(None)
    real = demux(
        pyannote_sample() / "sample.wav", tmp_path / "real.wav"
    )  # two people on a phone line
    found = detect_language(real, settings)
    assert found.language == "en" and found.probs["en"] > 0.9
    spanish = demux(
        speak(SPOKEN_ES, tmp_path / "es.m4a", voice="es", video=False), tmp_path / "es.wav"
    )
    assert detect_language(spanish, settings).language == "es"
    hindi = demux(speak_hindi(SPOKEN_HI, tmp_path / "hi.m4a"), tmp_path / "hi.wav")
    found = detect_language(hindi, settings)
    assert found.language == "hi", found
    assert {"hi", "ur"} <= set(found.probs)


def test_language_codes() -> None:
    check_language("hi")
    check_language(None)
    check_language("as", targets=True)  # Assamese: a translation model writes it
    with pytest.raises(LanguageError, match="unknown source language code 'xx'"):
        check_language("xx", "source")
