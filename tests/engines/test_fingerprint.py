from __future__ import annotations

from pathlib import Path

from engines.fingerprint import analyse, hash_pcm
from engines.media import demux
from testkit import ffmpeg


def test_fingerprint_of_real_speech(speech_mp4: Path, tmp_path: Path) -> None:
    wav = demux(speech_mp4, tmp_path / "a.wav")
    fp = analyse(wav, speech_mp4)
    assert len(fp.audio_hash) == 64 and fp.sample_rate == 16000 and fp.channels == 1
    # Chromaprint yields ~8 raw items a second, for the whole file (not pyacoustid's 120 s cap).
    assert 6 * fp.duration < len(fp.chromaprint) < 10 * fp.duration
    assert fp.noise_profile.snr_db > 20 and fp.noise_profile.background_noise_level == "low"
    assert fp.source_file == str(speech_mp4)


def test_hash_is_of_audio_content_not_container(speech_mp4: Path, tmp_path: Path) -> None:
    pcm = demux(speech_mp4, tmp_path / "a.wav")
    flac, mkv = tmp_path / "same.flac", tmp_path / "same.mkv"
    for target in (flac, mkv):
        ffmpeg("-i", str(pcm), "-c:a", "flac", str(target))
    assert (
        len(
            {
                hash_pcm(pcm),
                hash_pcm(demux(flac, tmp_path / "b.wav")),
                hash_pcm(demux(mkv, tmp_path / "c.wav")),
            }
        )
        == 1
    )
    assert pcm.read_bytes() != flac.read_bytes()


def test_noise_lowers_snr(speech_mp4: Path, tmp_path: Path) -> None:
    noisy = tmp_path / "noisy.wav"
    ffmpeg(
        "-i",
        str(speech_mp4),
        "-f",
        "lavfi",
        "-i",
        "anoisesrc=a=0.05:c=white",
        "-filter_complex",
        "amix=inputs=2:duration=first",
        "-ar",
        "16000",
        "-ac",
        "1",
        str(noisy),
    )
    clean = analyse(demux(speech_mp4, tmp_path / "c.wav"), speech_mp4)
    dirty = analyse(demux(noisy, tmp_path / "n.wav"), noisy)
    assert dirty.noise_profile.snr_db < clean.noise_profile.snr_db - 10
    assert dirty.noise_profile.noise_floor_dbfs > clean.noise_profile.noise_floor_dbfs
