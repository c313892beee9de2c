from __future__ import annotations

import dataclasses
import wave
from pathlib import Path

import numpy as np
import pytest

from engines.asr import read_wav
from engines.hallucination import collapse_loops, compression_ratio
from engines.media import demux
from engines.models import resolve_model
from engines.translate import SpeechTranslator, TranslationError, TranslationSettings, Translator
from records import spoken_words
from testkit import SPOKEN, SPOKEN_ES, SPOKEN_HI, base_settings, speak, speak_hindi, tiny_marian


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


def _lines(
    tmp_path: Path, language: str, lines: list[str]
) -> tuple[Path, list[tuple[float, float]]]:
    """The lines spoken one after another with 0.7 s between: a 16 kHz WAV and each one's span."""
    pcm, spans, at = [], [], 0.0
    for n, line in enumerate(lines):
        clip = tmp_path / f"{language}{n}.m4a"
        spoken = speak_hindi(line, clip) if language == "hi" else speak(line, clip, voice=language)
        audio = read_wav(demux(spoken, tmp_path / f"{language}{n}.wav"))
        spans.append((round(at, 3), round(at + len(audio) / 16000, 3)))
        pcm += [audio, np.zeros(11200, np.float32)]
        at += len(audio) / 16000 + 0.7
    wav = tmp_path / f"{language}.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes((np.concatenate(pcm) * 32767).astype("<i2").tobytes())
    return wav, spans


@pytest.mark.slow
@pytest.mark.parametrize("language", ["es", "hi"])
def test_whisper_translates_each_span_of_speech_into_english(tmp_path: Path, language: str) -> None:
    lines = {
        "es": ["Hola, Marta. ¿Has visto las llaves del coche?", SPOKEN_ES.split("?")[-1]],
        "hi": SPOKEN_HI.split("।")[:2],
    }[language]
    wav, spans = _lines(tmp_path, language, lines)
    seen: list[float] = []
    out = list(
        SpeechTranslator(base_settings(language, batch_size=4)).translate(wav, spans, seen.append)
    )
    assert len(out) == len(spans) and seen[-1] == 100
    for t in out:
        letters = [c for c in t.text if c.isalpha()]
        assert len(letters) > 5 and all(c.isascii() for c in letters), t.text
        assert compression_ratio(t.text) < 2.4 and collapse_loops(t.text) == t.text, t.text
        assert 0 < t.confidence <= 1
    said = set(spoken_words(" ".join(t.text for t in out)))
    assert said & {"the", "you", "i", "it", "is", "to", "a", "in", "of", "was", "what", "where"}
    assert not said & {"las", "llaves", "del", "coche", "visto", "tendrás", "chaqueta"}
