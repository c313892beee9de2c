from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import pytest

from engines.fingerprint import frame_energies, noise_profile
from engines.media import MediaError, demux, denoise, probe
from testkit import faststart_copy, ffmpeg


def test_demux_video_to_16k_mono_wav(speech_mp4: Path, tmp_path: Path) -> None:
    info = probe(speech_mp4)
    assert info.has_video and info.audio_codec == "aac"
    wav = demux(speech_mp4, tmp_path / "a.wav")
    with wave.open(str(wav)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert abs(w.getnframes() / 16000 - info.duration) < 0.5  # type: ignore[operator]


def test_demux_audio_only(tmp_path: Path) -> None:
    src = tmp_path / "tone.flac"
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2:r=44100", "-ac", "2", str(src))
    with wave.open(str(demux(src, tmp_path / "t.wav"))) as w:
        assert w.getnchannels() == 1 and abs(w.getnframes() - 32000) < 400


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "is a directory"),
        (lambda p: (p.write_bytes(b""), p)[1], "file is empty"),
        (lambda p: (p.write_text("just some text\n" * 20), p)[1], "not readable media"),
    ],
)
def test_bad_sources_get_one_line_errors(tmp_path: Path, make, message: str) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path / "bad.mp4")
    with pytest.raises(MediaError, match=message) as exc:
        demux(path, tmp_path / "out.wav")
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "out.wav").exists()


def test_truncated_mp4_is_refused(speech_mp4: Path, tmp_path: Path) -> None:
    faststart = tmp_path / "fs.mp4"
    faststart_copy(speech_mp4, faststart)
    data = faststart.read_bytes()
    for cut in (len(data) // 3, len(data) // 2):
        bad = tmp_path / f"cut{cut}.mp4"
        bad.write_bytes(data[:cut])
        with pytest.raises(MediaError, match=r"truncated|cannot decode|not readable"):
            demux(bad, tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_video_without_audio(tmp_path: Path) -> None:
    src = tmp_path / "silent.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=s=64x64:d=1", "-c:v", "libx264", str(src))
    with pytest.raises(MediaError, match="no audio stream"):
        demux(src, tmp_path / "out.wav")


def test_denoise_raises_the_snr_of_noisy_speech(tmp_path: Path) -> None:
    speech = tmp_path / "speech.wav"
    subprocess.run(
        ["espeak-ng", "-w", str(speech), "The train to the city leaves at seven every morning."],
        check=True,
    )
    noisy = tmp_path / "noisy.wav"
    ffmpeg(
        "-i", str(speech),
        "-filter_complex",
        "anoisesrc=color=white:amplitude=0.05:r=22050[n];[0][n]amix=inputs=2:duration=first:normalize=0",
        "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(noisy),
    )  # fmt: skip
    before = noise_profile(frame_energies(noisy))
    after = noise_profile(
        frame_energies(denoise(noisy, tmp_path / "clean.wav", before.noise_floor_dbfs))
    )
    assert after.snr_db > before.snr_db + 6, (before, after)
    assert after.noise_floor_dbfs < before.noise_floor_dbfs - 6
