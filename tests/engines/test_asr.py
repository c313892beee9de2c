"""Real WhisperX with the bundled tiny.en weights on espeak-ng speech."""

from __future__ import annotations

from pathlib import Path

from engines.asr import WhisperxEngine
from engines.media import demux
from jobs import JobRequest, prepare
from pipeline import load_settings
from testkit import SPOKEN, wer


def test_whisperx_tiny_en_transcribes_speech(speech_mp4: Path, tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "none.env", cache_dir=tmp_path / "cache")
    plan = prepare(JobRequest(media=speech_mp4, source_language="en"), settings)
    progress: list[float] = []
    transcript = WhisperxEngine(plan.asr).transcribe(
        demux(speech_mp4, tmp_path / "a.wav"), progress=progress.append
    )
    assert transcript.language == "en"
    assert wer(SPOKEN, transcript.text) <= 0.35, transcript.text
    assert progress and progress[-1] == 100
    for seg in transcript.segments:
        assert 0 <= seg.start < seg.end
        assert seg.confidence is not None and 0 < seg.confidence <= 1
