"""Word timing with the real aligner: tiny.en's cross-attention on espeak-ng speech whose word
positions are known, and on a human recording (Debian's pocketsphinx-testdata)."""

from __future__ import annotations

import statistics
import subprocess
import sys
import types
import wave
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engines import align as align_module
from engines.align import CrossAttentionAligner, Wav2Vec2Aligner, word_aligner
from engines.asr import AsrSettings, WhisperxEngine
from engines.media import demux
from engines.models import ResolvedModel
from jobs import JobRequest, prepare
from pipeline import load_settings
from records import Segment, Transcript, Word

RATE = 16000
GOFORWARD = Path("/usr/share/pocketsphinx/test/data/goforward.raw")


def write_wav(path: Path, audio: np.ndarray[Any, Any]) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(np.clip(audio * 32768, -32768, 32767).astype("<i2").tobytes())
    return path


def spoken(word: str, folder: Path) -> np.ndarray[Any, Any]:
    """One espeak-ng word at 16 kHz, trimmed to its sound: it starts at sample 0."""
    raw, wav = folder / f"{word}.raw.wav", folder / f"{word}.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), word], check=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(raw), "-ar", "16000", str(wav)],
        check=True,
    )
    with wave.open(str(wav), "rb") as w:
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2") / 32768
    level = np.abs(audio)
    loud = np.flatnonzero(level > level.max() * 0.02)
    return audio[loud[0] : loud[-1] + 1]


def assemble(words: list[str], at: list[float], total: float, folder: Path) -> Path:
    """``words`` placed so each one's sound starts at its ``at`` second, silence (and faint
    noise) between."""
    audio = np.random.default_rng(3).normal(0, 1e-3, int(total * RATE))
    for word, start in zip(words, at, strict=True):
        sound = spoken(word, folder)
        audio[int(start * RATE) : int(start * RATE) + len(sound)] += sound
    return write_wav(folder / "words.wav", audio)


@pytest.fixture(scope="module")
def asr(tmp_path_factory: pytest.TempPathFactory) -> AsrSettings:
    """tiny.en with the project's defaults, as a job gets them."""
    home = tmp_path_factory.mktemp("asr")
    settings = load_settings(env_file=home / "none.env", cache_dir=home / "cache")
    media = write_wav(home / "probe.wav", np.zeros(RATE))
    return prepare(JobRequest(media=media, source_language="en"), settings).asr


def check_words(transcript: Transcript, slack: float = 0.6) -> None:
    for seg in transcript.segments:
        assert seg.words, seg
        assert " ".join(w.word for w in seg.words) == " ".join(seg.text.split())
        last = -1.0
        for w in seg.words:
            assert isinstance(w.start, float) and isinstance(w.end, float), w
            assert isinstance(w.score, float) and 0.0 <= w.score <= 1.0, w
            assert w.word == w.word.strip() and w.word, w
            assert last <= w.start <= w.end, w
            assert seg.start - slack <= w.start and w.end <= seg.end + slack, (seg, w)
            assert round(w.start, 3) == w.start and round(w.end, 3) == w.end
            last = w.start


def test_transcribed_speech_gets_every_word_timed(
    speech_mp4: Path, asr: AsrSettings, tmp_path: Path
) -> None:
    wav = demux(speech_mp4, tmp_path / "a.wav")
    heard = WhisperxEngine(asr).transcribe(wav)
    assert all(not s.words for s in heard.segments)  # the ASR leaves words to this stage
    progress: list[float] = []
    timed = word_aligner(asr).align(wav, heard, progress=progress.append)
    assert progress and progress[-1] == 100 and progress == sorted(progress)
    assert [s.text for s in timed.segments] == [s.text for s in heard.segments]
    check_words(timed)
    # punctuation rides on its word
    assert any(w.word.endswith(".") for s in timed.segments for w in s.words)


def test_word_starts_land_on_known_positions(asr: AsrSettings, tmp_path: Path) -> None:
    words = ["the", "old", "teacher", "walks", "to", "the", "river", "every", "morning"]
    gaps = [0.0, 0.35, 0.2, 0.6, 0.15, 0.45, 0.3, 0.25, 0.5]
    at, t = [], 0.8
    for word, gap in zip(words, gaps, strict=True):
        t += gap
        at.append(round(t, 3))
        t += len(spoken(word, tmp_path)) / RATE
    wav = assemble(words, at, t + 1.0, tmp_path)
    given = Transcript(
        "en", (Segment(0.3, t + 0.5, "The old teacher walks to the river every morning."),)
    )
    (seg,) = word_aligner(asr).align(wav, given).segments
    check_words(Transcript("en", (seg,)))
    errors = [abs((w.start or 0) - a) for w, a in zip(seg.words, at, strict=True)]
    assert statistics.median(errors) <= 0.05, errors
    assert max(errors) <= 0.2, errors
    assert abs(seg.start - at[0]) <= 0.1  # the segment is tightened to its first word


def test_a_segment_longer_than_whisper_window(asr: AsrSettings, tmp_path: Path) -> None:
    words = [
        "children",
        "walk",
        "to",
        "school",
        "along",
        "the",
        "dusty",
        "road",
        "every",
        "single",
        "morning",
    ]
    at = [1.0 + 3.4 * k for k in range(len(words))]  # 38 s: more than one 30 s window
    wav = assemble(words, at, at[-1] + 2.0, tmp_path)
    given = Transcript("en", (Segment(0.5, at[-1] + 1.5, " ".join(words)),))
    (seg,) = word_aligner(asr).align(wav, given).segments
    check_words(Transcript("en", (seg,)))
    errors = [abs((w.start or 0) - a) for w, a in zip(seg.words, at, strict=True)]
    assert statistics.median(errors) <= 0.1, errors
    assert max(errors) < 3.4, errors  # each word nearer its own place than a neighbour's


def test_human_recording(asr: AsrSettings, tmp_path: Path) -> None:
    """A man saying "go forward ten meters" (2.8 s), against pocketsphinx's forced alignment of
    it (en-us model: go 0.46, forward 0.64, ten 1.17, meters 1.53): an aligner that is not
    Whisper's."""
    audio = np.frombuffer(GOFORWARD.read_bytes(), dtype="<i2") / 32768
    wav = write_wav(tmp_path / "goforward.wav", audio)
    given = Transcript("en", (Segment(0.0, len(audio) / RATE, "Go forward ten meters."),))
    (seg,) = word_aligner(asr).align(wav, given).segments
    check_words(Transcript("en", (seg,)))
    assert [w.word for w in seg.words] == ["Go", "forward", "ten", "meters."]
    for w, truth in zip(seg.words, (0.46, 0.64, 1.17, 1.53), strict=True):
        assert abs((w.start or 0) - truth) <= 0.25, seg.words
    # without the onsets, the first word starts in the silence before it
    (plain,) = CrossAttentionAligner(asr, onset=0.0).align(wav, given).segments
    assert (plain.words[0].start or 0) < 0.2 < (seg.words[0].start or 0)


def quiet_frames(total: int, loud: list[tuple[int, int]]) -> np.ndarray[Any, Any]:
    quiet = np.ones(total, dtype=bool)
    for a, b in loud:
        quiet[a:b] = False
    return quiet


def test_a_start_in_the_last_sound_before_a_pause_moves_to_the_onset_after_it() -> None:
    """Whisper gives a word the pause before it and starts it in the tail of the word before;
    past a long pause (0.5 s here), the start goes to the onset that ends it."""
    words = [Word("first", 0.0, 0.3, 0.9), Word("second", 0.45, 1.5, 0.9)]
    quiet = quiet_frames(200, [(0, 50), (100, 160)])
    out = align_module._to_onsets(align_module._Aligned(words, 0.0, quiet), reach=0.3)
    assert [w.start for w in out] == [0.0, 1.0]
    # a short closure (80 ms) inside sound does not count: the start stays where it was
    quiet = quiet_frames(200, [(0, 80), (88, 160)])
    out = align_module._to_onsets(align_module._Aligned(words, 0.0, quiet), reach=0.3)
    assert out[1].start == 0.45


def test_unalignable_segments_fall_back_and_silent_ones_pass(
    asr: AsrSettings, tmp_path: Path
) -> None:
    wav = write_wav(tmp_path / "short.wav", np.random.default_rng(1).normal(0, 0.01, 2 * RATE))
    beyond = Segment(5.0, 7.0, "Nothing is heard here, at all.")  # past the audio's end
    rambling = Segment(0.0, 2.0, " ".join(["supercalifragilistic"] * 120))  # over 448 tokens
    silent = Segment(0.5, 1.0, "  ")
    out = word_aligner(asr).align(wav, Transcript("en", (beyond, rambling, silent)))
    assert out.segments[2] == silent
    for given, seg in zip((beyond, rambling), out.segments[:2], strict=True):
        assert (seg.start, seg.end, seg.text) == (given.start, given.end, given.text)
        assert " ".join(w.word for w in seg.words) == given.text
        assert all(w.score == 0.0 for w in seg.words)
        assert seg.words[0].start == given.start and seg.words[-1].end == given.end
    # spread by length: the longest word of the first segment lasts longest
    longest = max(out.segments[0].words, key=lambda w: (w.end or 0) - (w.start or 0))
    assert longest.word == "Nothing"


def test_key_parts_name_the_aligner_and_its_model(asr: AsrSettings, tmp_path: Path) -> None:
    wav2vec2 = ResolvedModel("wav2vec2", tmp_path, "a1b2c3")
    cross = word_aligner(asr)
    forced = word_aligner(replace(asr, align_model=wav2vec2))
    assert isinstance(cross, CrossAttentionAligner) and isinstance(forced, Wav2Vec2Aligner)
    assert cross.key_parts()["aligner"] != forced.key_parts()["aligner"]
    assert cross.key_parts()["align_model"] == asr.model.version
    assert forced.key_parts()["align_model"] == "a1b2c3"
    other = replace(asr, model=replace(asr.model, version="0123456789abcdef"))
    assert word_aligner(other).key_parts() != cross.key_parts()
    newer = replace(asr, align_model=replace(wav2vec2, version="d4e5f6"))
    assert word_aligner(newer).key_parts() != forced.key_parts()
    # the ASR's own settings are the transcript's key, not the aligner's
    assert word_aligner(replace(asr, beam_size=1)).key_parts() == cross.key_parts()


def test_wav2vec2_words_whisperx_could_not_time_are_interpolated(
    asr: AsrSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No wav2vec2 weights exist offline: a stand-in WhisperX answers as the real one does for
    digits (a word without start/end), and the post-processing is what is tested."""
    answers = {
        "He paid 40 dollars.": [
            {"word": "He", "start": 1.0, "end": 1.2, "score": 0.9},
            {"word": "paid", "start": 1.3, "end": 1.6, "score": 0.8},
            {"word": "40"},
            {"word": "dollars.", "start": 2.2, "end": 2.8, "score": 0.7},
        ],
        "Unheard": [],
    }

    def load_align_model(language: str, _device: str, **_kw: Any) -> tuple[str, dict[str, str]]:
        return "model", {"language": language}

    def align(segments: list[dict[str, Any]], *_a: Any, **_k: Any) -> dict[str, Any]:
        return {"segments": [{"words": answers[segments[0]["text"]]}]}

    fake = types.ModuleType("whisperx")
    fake.load_align_model = load_align_model  # type: ignore[attr-defined]
    fake.align = align  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "whisperx", fake)
    monkeypatch.setattr(align_module, "check_alignment_ready", lambda: None)
    align_module._wav2vec2.cache_clear()
    wav = write_wav(tmp_path / "quiet.wav", np.zeros(4 * RATE))
    aligner = word_aligner(replace(asr, align_model=ResolvedModel("w2v", tmp_path, "v1")))
    given = Transcript(
        "en",
        (
            Segment(0.9, 3.0, "He paid 40 dollars."),
            Segment(3.0, 3.5, "Unheard"),
            Segment(3.5, 4, ""),
        ),
    )
    out = aligner.align(wav, given)
    align_module._wav2vec2.cache_clear()
    first, second, third = out.segments
    assert [w.word for w in first.words] == ["He", "paid", "40", "dollars."]
    forty = first.words[2]
    assert forty.score == 0.0 and 1.6 <= (forty.start or 0) < (forty.end or 0) <= 2.2
    assert first.words[0].score == 0.9 and (first.start, first.end) == (1.0, 2.8)
    assert second.words == (Word("Unheard", 3.0, 3.5, 0.0),)  # fell back
    assert third == given.segments[2]
