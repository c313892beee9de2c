"""Who speaks when, on the real weights: pyannote's own two-person call, and a bad folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from pyannote.core import Annotation, Segment
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate

from engines.diarize import EMBEDDING, SEGMENTATION, DiarizationSettings, Diarizer
from engines.media import demux
from engines.models import ModelDamagedError, ResolvedModel, diarization_model
from testkit import SPOKEN, ffmpeg, pyannote_sample, speak


def _settings() -> DiarizationSettings:
    model = diarization_model()
    assert model is not None, "the setup installs the diarization weights"
    return DiarizationSettings(model, "cpu")


@pytest.mark.slow
def test_the_two_people_of_a_real_call_are_told_apart(tmp_path: Path) -> None:
    sample = pyannote_sample()
    wav = demux(sample / "sample.wav", tmp_path / "call.wav")
    seen: list[float] = []
    found = Diarizer(_settings()).diarize(wav, seen.append)
    assert len(found.speakers) == 2 and seen[-1] == 100
    assert all(a.end <= b.start for a, b in zip(found.turns, found.turns[1:], strict=False))
    hyp = Annotation()
    for t in found.turns:
        hyp[Segment(t.start, t.end)] = t.speaker
    reference = load_rttm(str(sample / "sample.rttm"))["sample"]
    assert DiarizationErrorRate()(reference, hyp, uem=Segment(0, 30)) <= 0.20
    voices = {k: np.asarray(v) for k, v in found.voices.items()}
    assert set(voices) == set(found.speakers)
    assert all(abs(np.linalg.norm(v) - 1) < 1e-3 for v in voices.values())
    a, b = voices.values()
    assert float(a @ b) < 0.9  # two voices, not one


def test_a_weights_folder_without_the_embedding_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "weights"
    (folder / "models").mkdir(parents=True)
    settings = dataclasses.replace(_settings(), model=ResolvedModel("x", folder, "1"))
    wav = demux(pyannote_sample() / "sample.wav", tmp_path / "call.wav")
    with pytest.raises(ModelDamagedError, match="is missing") as err:
        Diarizer(settings).diarize(wav)
    assert "\n" not in str(err.value) and "pytorch_model.bin" in str(err.value)
    assert EMBEDDING.endswith(".pt")


def test_a_damaged_weights_file_is_one_line(tmp_path: Path) -> None:
    real = _settings().model.path
    folder = tmp_path / "weights"
    for name in (SEGMENTATION, EMBEDDING, "camplusplus.py"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        data = (real / name).read_bytes()
        (folder / name).write_bytes(data[: len(data) // 2] if name == EMBEDDING else data)
    settings = dataclasses.replace(_settings(), model=ResolvedModel("x", folder, "1"))
    wav = demux(pyannote_sample() / "sample.wav", tmp_path / "call.wav")
    with pytest.raises(ModelDamagedError, match="does not load") as err:
        Diarizer(settings).diarize(wav)
    assert "\n" not in str(err.value) and "scripts/setup.sh" in str(err.value)


@pytest.mark.slow
def test_silence_music_and_one_voice(tmp_path: Path) -> None:
    diarizer = Diarizer(_settings())
    silence = tmp_path / "silence.wav"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono", "-t", "8", str(silence))
    assert diarizer.diarize(silence).turns == ()
    chords = tmp_path / "chords.wav"  # a chord a second, no voice
    tune = "0.2*sin(2*PI*(220+110*floor(t))*t)+0.2*sin(2*PI*(330+165*floor(t))*t)"
    ffmpeg("-f", "lavfi", "-i", f"aevalsrc={tune}:s=16000", "-t", "8", str(chords))
    assert len(diarizer.diarize(chords).speakers) <= 1
    voice = speak(SPOKEN, tmp_path / "one.m4a", video=False)
    one = diarizer.diarize(demux(voice, tmp_path / "one.16k.wav"))
    assert len(one.speakers) == 1 and set(one.voices) == set(one.speakers)
