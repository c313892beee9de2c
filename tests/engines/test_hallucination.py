"""The hallucination filter on hand-made segments, and tiny.en over real music and silence."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import numpy as np
import pytest

from engines.asr import WhisperxEngine
from engines.hallucination import collapse_loops, compression_ratio, drop_hallucinations
from engines.media import demux
from jobs import JobRequest, prepare
from pipeline import load_settings
from records import Segment, Word
from testkit import SPOKEN, ffmpeg, speak, wer

RATE = 16000
MUSIC = Path("/usr/share/pushover/themes/space.ogg")  # Debian's pushover-data


def line(text: str, start: float = 0.0, confidence: float | None = 0.9) -> Segment:
    return Segment(start=start, end=start + 2.0, text=text, confidence=confidence)


def texts(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


def test_a_line_looped_over_segments_is_kept_twice() -> None:
    drink = "We're going to have a drink with you."
    segments = [line("Hello there."), *(line(drink, 2.0 * n) for n in range(1, 6))]
    kept, dropped = drop_hallucinations(segments)
    assert texts(kept) == ["Hello there.", drink, drink]
    assert [d.segment.start for d in dropped] == [6.0, 8.0, 10.0]
    assert all("same line" in d.reason for d in dropped)


def test_the_same_line_is_matched_fuzzily_and_a_different_line_ends_the_run() -> None:
    segments = [line(t) for t in ("Thank you.", "thank you!", "Thank you", "Thank you very much.")]
    assert texts(drop_hallucinations(segments)[0]) == ["Thank you.", "thank you!", segments[3].text]
    other = [line(t) for t in ("No.", "No.", "Go away.", "No.", "No.")]
    assert texts(drop_hallucinations(other)[0]) == texts(other)


def test_a_phrase_looped_inside_a_line_is_said_once() -> None:
    looped = "I said it. " + "We're going to have a drink with you. " * 5
    segment = Segment(0.0, 9.0, looped, 0.8, words=(Word("I", 0.0, 0.2, 0.9),))
    kept, dropped = drop_hallucinations([segment])
    assert texts(kept) == ["I said it. We're going to have a drink with you."]
    assert kept[0].words == ()  # the word times were of the looped text
    assert dropped[0].segment == segment and dropped[0].kept == kept[0]
    assert collapse_loops("you you you you you") == "you"
    assert collapse_loops("No, no, no, get out!") == "No, no, no, get out!"  # speech
    assert collapse_loops("a drink, a drink, a drink") == "a drink,"


def test_text_that_compresses_like_a_loop_is_dropped() -> None:
    assert compression_ratio("The film begins in a small village near the river.") < 2.4
    scream = "A" + "h" * 120 + "!"
    kept, dropped = drop_hallucinations([line("Run!"), line(scream, 2.0), line("...", 4.0)])
    assert texts(kept) == ["Run!"]
    assert "compression ratio" in dropped[0].reason and dropped[1].reason == "no words"


def test_plain_speech_with_a_small_vocabulary_is_kept_when_whisper_was_sure() -> None:
    """A 21 s segment of real sentences over a small vocabulary (what 30 s segments hear of
    benchmarks/optimizer_bench.py's speech) gzips like a loop; only an unsure one is dropped."""
    said = (
        "The evening carries the school near the doctor. The mother carries the doctor near "
        "the friend. The market hears the evening near the school. The door brings the road "
        "near the morning. The brother brings the window near the rice. The rice finds the "
        "temple near the evening. The father sells the clock near the garden. The bridge "
        "remembers the temple near the brother. The rain sells the evening near the morning. "
        "The brother remembers evening near the song. The doctor sells the bridge near the rain."
    )
    assert 2.4 < compression_ratio(said) < 3.0
    kept, dropped = drop_hallucinations([line(said, confidence=0.85), line(said, 30.0, 0.4)])
    assert texts(kept) == [said] and "compression ratio" in dropped[0].reason


def test_no_speech_with_low_confidence_is_dropped() -> None:
    segments = [
        line("Thank you.", 0.0, confidence=0.3),  # over music: Whisper says no speech
        line("Oh, yeah.", 2.0, confidence=0.9),  # sure of its words: kept
        line("Ten of clubs.", 4.0, confidence=0.3),  # unsure, but speech
        line("you", 6.0, confidence=0.3),  # no evidence
    ]
    kept, dropped = drop_hallucinations(segments, no_speech=[0.85, 0.85, 0.02, None])
    assert texts(kept) == ["Oh, yeah.", "Ten of clubs.", "you"]
    assert dropped[0].reason.startswith("no speech")


def test_segments_over_silent_audio_are_dropped() -> None:
    t = np.arange(6 * RATE) / RATE
    audio = np.zeros(6 * RATE, np.float32)
    audio[4 * RATE : int(4.3 * RATE)] = 0.1 * np.sin(2 * np.pi * 220 * t[: int(0.3 * RATE)])
    audio += np.random.default_rng(0).normal(0, 10 ** (-70 / 20), len(audio)).astype(np.float32)
    segments = [line("Thank you.", 0.0), line("Hey!", 3.0)]  # silence; a short word in a hush
    kept, dropped = drop_hallucinations(segments, audio, RATE)
    assert texts(kept) == ["Hey!"]
    assert dropped[0].reason.startswith("silent audio")


def _pcm(path: Path) -> np.ndarray:
    out = subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-i",
            str(path),
            "-f",
            "s16le",
            "-ac",
            "1",
            "-ar",
            str(RATE),
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, "<i2").astype(np.float32) / 32768


def _level(audio: np.ndarray, dbfs: float) -> np.ndarray:
    return audio / np.sqrt(np.mean(audio**2)) * 10 ** (dbfs / 20)


@pytest.mark.slow
@pytest.mark.skipif(not MUSIC.exists(), reason=f"{MUSIC} missing: apt-get install pushover-data")
def test_tiny_en_writes_nothing_over_music_or_silence(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Unfiltered, tiny.en writes "Thank you." about every 8 s of this music."""
    speech = _level(_pcm(speak(SPOKEN, tmp_path / "speech.m4a", video=False)), -20)
    music = _level(_pcm(MUSIC)[: 60 * RATE], -20)
    hush = np.random.default_rng(0).normal(0, 10 ** (-65 / 20), 30 * RATE)
    clip = np.concatenate([speech, music, hush, speech]).astype(np.float32)
    raw = tmp_path / "clip.s16"
    raw.write_bytes((clip * 32767).astype("<i2").tobytes())
    media = tmp_path / "clip.wav"
    ffmpeg("-f", "s16le", "-ar", str(RATE), "-ac", "1", "-i", str(raw), str(media))
    music_at = len(speech) / RATE
    speech_again = music_at + 90

    settings = load_settings(env_file=tmp_path / "none.env", cache_dir=tmp_path / "cache")
    plan = prepare(JobRequest(media=media, source_language="en"), settings)
    with caplog.at_level(logging.INFO, logger="engines.asr"):
        transcript = WhisperxEngine(plan.asr).transcribe(demux(media, tmp_path / "a.wav"))

    inside = [s for s in transcript.segments if s.start > music_at and s.end < speech_again]
    assert not inside, inside
    first = " ".join(s.text for s in transcript.segments if s.start < music_at)
    second = " ".join(s.text for s in transcript.segments if s.end > speech_again)
    assert wer(SPOKEN, first) <= 0.35, first
    assert wer(SPOKEN, second) <= 0.35, second
    assert any("dropped" in r.message for r in caplog.records)  # not only VAD's work
