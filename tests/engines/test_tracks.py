"""The right audio track of a multi-track film, and surround heard with its dialogue first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.media import MediaError, choose_track, demux, probe
from testkit import SPOKEN, ffmpeg, read_pcm, speak


def _tone(path: Path, freq: int) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"sine=f={freq}:d=3", "-ac", "2", "-c:a", "aac", str(path))
    return path


@pytest.fixture(scope="module")
def film(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A release as they come: 0 English director's commentary, 1 Hindi (default), 2 English
    dub, 3 English audio description. Each track has its own tone, so the decode tells which
    was taken."""
    work = tmp_path_factory.mktemp("tracks")
    tones = [_tone(work / f"{k}.m4a", f) for k, f in enumerate((300, 500, 700, 900))]
    out = work / "film.mkv"
    ffmpeg(
        *(arg for t in tones for arg in ("-i", str(t))),
        *(arg for k in range(4) for arg in ("-map", f"{k}:a")),
        "-c", "copy",
        *("-metadata:s:a:0", "language=eng", "-metadata:s:a:0", "title=Director's Commentary"),
        *("-metadata:s:a:1", "language=hin", "-metadata:s:a:2", "language=eng"),
        *("-metadata:s:a:3", "language=eng", "-disposition:a:3", "visual_impaired"),
        *("-disposition:a:0", "0", "-disposition:a:1", "default", "-disposition:a:2", "0"),
        str(out),
    )  # fmt: skip
    return out


def _pitch(wav: Path) -> float:
    pcm = read_pcm(wav).astype(np.float64)
    spectrum = np.abs(np.fft.rfft(pcm))
    return float(np.argmax(spectrum) * 16000 / len(pcm))


def test_the_right_track_every_time(film: Path, tmp_path: Path) -> None:
    info = probe(film)
    assert [t.language for t in info.tracks] == ["eng", "hin", "eng", "eng"]
    assert [t.aside for t in info.tracks] == [True, False, False, True]
    cases = {
        (None, None): (1, "the default track"),
        (None, "hi"): (1, "tagged hi"),
        (None, "en"): (2, "tagged en"),  # the dub, not the commentary or the description
        (0, None): (0, "as asked"),
        (3, "hi"): (3, "as asked"),
    }
    for (number, language), (expected, why) in cases.items():
        choice = choose_track(info, number, language)
        assert choice.track.number == expected and why in choice.reason, (number, language)
    for k, freq in enumerate((300, 500, 700, 900)):
        assert abs(_pitch(demux(film, tmp_path / f"{k}.wav", k)) - freq) < 5


def test_a_track_that_is_not_there_is_one_line_listing_them(film: Path) -> None:
    info = probe(film)
    for number, language, message in ((7, None, "no audio track 7"), (None, "cs", "'cs'")):
        with pytest.raises(MediaError) as exc:
            choose_track(info, number, language)
        text = str(exc.value)
        assert message in text and "\n" not in text
        assert '0: eng stereo commentary/AD "Director\'s Commentary"' in text
        assert "1: hin stereo default" in text


def test_czech_tags_in_either_iso_639_2_form(tmp_path: Path) -> None:
    tone = _tone(tmp_path / "t.m4a", 400)
    for tag in ("cze", "ces", "cs"):
        out = tmp_path / f"{tag}.mkv"
        ffmpeg("-i", str(tone), "-i", str(tone), "-map", "0:a", "-map", "1:a", "-c", "copy",
               "-metadata:s:a:1", f"language={tag}", str(out))  # fmt: skip
        assert choose_track(probe(out), None, "cs").track.number == 1


def _speech_to_rest_db(mix: np.ndarray, speech: np.ndarray) -> float:
    """How far the speech stands above everything else in ``mix``, in dB: the mix projected
    on the clean speech (lined up first: the encoder delays it), against what is left."""
    n = min(len(mix), len(speech))
    corr = np.fft.irfft(np.fft.rfft(mix[:n], 2 * n) * np.conj(np.fft.rfft(speech[:n], 2 * n)))
    lag = int(np.argmax(np.abs(corr[:1600])))  # up to 0.1 s late
    n = min(len(mix) - lag, len(speech))
    mix, speech = mix[lag : lag + n], speech[:n]
    gain = float(mix @ speech / (speech @ speech))
    rest = mix - gain * speech
    return float(10 * np.log10((gain**2 * (speech @ speech)) / (rest @ rest)))


def test_surround_keeps_the_dialogue_in_front(tmp_path: Path) -> None:
    """5.1 with speech in the centre and real music (a different stretch in each of the five
    other channels) as loud: the dialogue-first downmix keeps the speech well above the
    music; ffmpeg's default downmix buries it."""
    speech = speak(SPOKEN, tmp_path / "speech.m4a", video=False)
    music = "/usr/share/pushover/themes/space.ogg"  # Debian pushover-data
    surround = tmp_path / "film.ac3"
    ffmpeg(
        "-i", str(speech), *(a for k in range(5) for a in ("-ss", str(3 * k), "-i", music)),
        "-filter_complex",
        "[0:a]aresample=48000,apad,atrim=0:15[c];"
        + "".join(f"[{k + 1}:a]aresample=48000,pan=mono|c0=c0,atrim=0:15[m{k}];" for k in range(5))
        + "[m0][m1][c][m2][m3][m4]join=inputs=6:channel_layout=5.1(side):"
        "map=0.0-FL|1.0-FR|2.0-FC|3.0-LFE|4.0-SL|5.0-SR[out]",
        "-map", "[out]", "-c:a", "ac3", "-b:a", "448k", str(surround),
    )  # fmt: skip
    assert probe(surround).tracks[0].layout.startswith("5.1")
    clean = read_pcm(demux(speech, tmp_path / "clean.wav")).astype(np.float64)
    ours = read_pcm(demux(surround, tmp_path / "ours.wav")).astype(np.float64)
    plain = tmp_path / "plain.wav"
    ffmpeg("-i", str(surround), "-ac", "1", "-ar", "16000", str(plain))  # ffmpeg's default
    theirs = read_pcm(plain).astype(np.float64)
    ours_db, theirs_db = _speech_to_rest_db(ours, clean), _speech_to_rest_db(theirs, clean)
    print(f"speech over the rest: ours {ours_db:.1f} dB, ffmpeg default {theirs_db:.1f} dB")
    assert ours_db >= theirs_db + 6, (ours_db, theirs_db)
