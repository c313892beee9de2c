"""ffmpeg behind one narrow interface: probe a source, choose its audio track, decode that to
16 kHz mono PCM WAV (surround downmixed with the dialogue channel to the fore)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "SAMPLE_RATE",
    "AudioTrack",
    "MediaError",
    "MediaInfo",
    "SubtitleTrack",
    "TrackChoice",
    "check_source",
    "choose_track",
    "demux",
    "denoise",
    "probe",
    "same_language",
]

SAMPLE_RATE = 16000
# A decode that yields less than this share of the container's claimed audio is truncated media.
_MIN_DECODED_SHARE = 0.9


class MediaError(Exception):
    """The input is not usable media; the message is one line meant for the user."""


@dataclass(frozen=True)
class AudioTrack:
    """One audio stream, numbered as ffmpeg's ``0:a:N`` counts them."""

    number: int
    codec: str
    channels: int
    layout: str
    language: str | None  # the container's tag (ISO 639-2, sometimes 639-1), None when unset
    title: str
    default: bool
    # commentary, audio description or a hearing-impaired mix: never chosen unless asked for
    aside: bool

    def describe(self) -> str:
        tags = [self.language or "und", self.layout or f"{self.channels} ch"]
        tags += [t for t, on in (("default", self.default), ("commentary/AD", self.aside)) if on]
        return f"{self.number}: " + " ".join(tags) + (f' "{self.title}"' if self.title else "")


@dataclass(frozen=True)
class SubtitleTrack:
    """One subtitle stream, numbered as ffmpeg's ``0:s:N`` counts them: a media server shows
    it, so a language it covers needs no sidecar."""

    number: int
    codec: str
    language: str | None  # the container's tag, None when unset


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float | None
    audio_codec: str
    has_video: bool
    tracks: tuple[AudioTrack, ...] = ()
    subtitles: tuple[SubtitleTrack, ...] = ()


@dataclass(frozen=True)
class TrackChoice:
    track: AudioTrack
    reason: str  # why this one, for the demux stage's report


def check_source(path: Path) -> Path:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a directory, not a media file")
    if not path.is_file():
        raise MediaError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror})") from exc
    return path


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MediaError(f"{name} not found on PATH: run scripts/setup.sh (installs ffmpeg)")
    return found


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "unknown error"


def _seconds(value: object) -> float | None:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def probe(path: Path) -> MediaInfo:
    check_source(path)
    proc = subprocess.run(
        [
            _tool("ffprobe"),
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise MediaError(f"{path}: not readable media ({_last_line(proc.stderr)})")
    info = json.loads(proc.stdout or "{}")
    streams = info.get("streams", [])
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not audio:
        raise MediaError(f"{path}: no audio stream")
    codec = audio[0].get("codec_name")
    if codec in (None, "unknown", "none"):
        tag = audio[0].get("codec_tag_string") or "no codec id"
        raise MediaError(f"{path}: audio codec not supported by this ffmpeg ({tag})")
    # The audio stream's own duration: a video track can outlast it by a frame or two.
    duration = audio[0].get("duration") or info.get("format", {}).get("duration")
    claimed = _seconds(info.get("format", {}).get("duration"))
    longest = max((_seconds(st.get("duration")) or 0.0 for st in streams), default=0.0)
    if claimed and longest and claimed > longest * 1.1 + 60:
        raise MediaError(
            f"{path}: damaged container (it claims {claimed:.0f} s, its streams last "
            f"{longest:.1f} s)"
        )
    return MediaInfo(
        path=path,
        duration=_seconds(duration),
        audio_codec=str(codec),
        has_video=any(s.get("codec_type") == "video" for s in streams),
        tracks=tuple(_track(n, s) for n, s in enumerate(audio)),
        subtitles=tuple(
            SubtitleTrack(n, str(s.get("codec_name")), _language(_tags(s)))
            for n, s in enumerate(st for st in streams if st.get("codec_type") == "subtitle")
        ),
    )


_ASIDE = re.compile(r"commentar|descri|\bAD\b|narrat|director", re.IGNORECASE)


def _tags(stream: dict[str, Any]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (stream.get("tags") or {}).items()}


def _language(tags: dict[str, str]) -> str | None:
    language = tags.get("language", "").lower()
    return None if language in ("", "und", "unk", "zxx", "mis") else language


def _track(number: int, stream: dict[str, Any]) -> AudioTrack:
    tags = _tags(stream)
    marks = stream.get("disposition") or {}
    title = tags.get("title", "")
    return AudioTrack(
        number=number,
        codec=str(stream.get("codec_name")),
        channels=int(stream.get("channels") or 0),
        layout=str(stream.get("channel_layout") or ""),
        language=_language(tags),
        title=title,
        default=bool(marks.get("default")),
        aside=bool(
            marks.get("comment")
            or marks.get("visual_impaired")
            or marks.get("hearing_impaired")
            or marks.get("descriptions")
            or _ASIDE.search(title)
        ),
    )


def same_language(tag: str | None, language: str) -> bool:
    """Whether ``tag`` (a track's, a sidecar file name's) names ``language``, in ISO 639-1 or
    639-2/B or /T (``hi`` is ``hin``; ``cs`` is ``cze`` and ``ces``)."""
    import langcodes

    if tag is None:
        return False
    try:
        return bool(langcodes.get(tag).language == langcodes.get(language).language)
    except (ValueError, LookupError):  # a tag that is not a language code
        return False


def choose_track(
    info: MediaInfo, number: int | None = None, language: str | None = None
) -> TrackChoice:
    """The audio track to hear: ``number`` when given; else the one tagged ``language``; else
    the default one; else the first. Commentary and audio description only when asked for by
    number. Raises MediaError, listing the tracks, for a number the file does not have or a
    language no tagged track has."""
    tracks = info.tracks
    listed = "; ".join(t.describe() for t in tracks)
    if number is not None:
        if not 0 <= number < len(tracks):
            raise MediaError(
                f"{info.path}: no audio track {number} (it has {len(tracks)}: {listed})"
            )
        return TrackChoice(tracks[number], f"track {number}, as asked (--audio-track)")
    main = [t for t in tracks if not t.aside] or list(tracks)
    if language is not None:
        speaking = [t for t in main if same_language(t.language, language)]
        if speaking:
            return TrackChoice(speaking[0], f"track {speaking[0].number}: tagged {language}")
        if any(t.language for t in tracks):
            raise MediaError(
                f"{info.path}: no audio track is tagged {language!r} (tracks: {listed}): "
                "choose one with --audio-track N"
            )
    if len(tracks) == 1:
        return TrackChoice(tracks[0], "the only audio track")
    defaults = [t for t in main if t.default]
    if defaults:
        return TrackChoice(defaults[0], f"track {defaults[0].number}: the default track")
    return TrackChoice(main[0], f"track {main[0].number}: the first main track")


# Surround to mono for speech: the centre channel carries the dialogue, so it goes in whole and
# the rest (music, effects) at a third; the LFE is left out. ffmpeg's own downmix gives the
# centre 0.71 against 1.0 for each front channel, the music's.
_DIALOGUE_DOWNMIX = "pan=mono|c0=FC+0.33*FL+0.33*FR+0.2*BL+0.2*BR+0.2*SL+0.2*SR"


def _downmix(track: AudioTrack) -> tuple[str, ...]:
    """The ffmpeg arguments that take ``track`` to mono: a dialogue-first mix for surround,
    a plain average for stereo and mono."""
    if track.channels > 2 and "FC" in _channels(track.layout):
        return ("-af", _DIALOGUE_DOWNMIX, "-ac", "1")
    return ("-ac", "1")


def _channels(layout: str) -> set[str]:
    known = {
        "5.1": "FL FR FC LFE BL BR",
        "5.1(side)": "FL FR FC LFE SL SR",
        "7.1": "FL FR FC LFE BL BR SL SR",
        "6.1": "FL FR FC LFE BC SL SR",
        "5.0": "FL FR FC BL BR",
        "5.0(side)": "FL FR FC SL SR",
        "3.0": "FL FR FC",
    }
    return set(known.get(layout, "").split())


def _ffmpeg(src: Path, dst: Path, *args: str, failure: str) -> str:
    """Run ffmpeg from ``src`` to ``dst``; on failure nothing is left at ``dst`` and the
    error reads "{src}: {failure} (ffmpeg's last line)". Returns ffmpeg's other complaints."""
    proc = subprocess.run(
        [_tool("ffmpeg"), "-nostdin", "-v", "error", "-y", "-i", str(src), *args, str(dst)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        dst.unlink(missing_ok=True)
        raise MediaError(f"{src}: {failure} ({_last_line(proc.stderr)})")
    return proc.stderr


def demux(path: Path, wav_path: Path, track: int | None = None) -> Path:
    """Decode an audio track (``track``: ffmpeg's ``0:a:N``; None: the one ``choose_track``
    picks) of anything ffmpeg reads to 16 kHz mono s16 WAV."""
    info = probe(path)
    chosen = info.tracks[track] if track is not None else choose_track(info).track
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    complaints = _ffmpeg(
        path,
        wav_path,
        *("-map", f"0:a:{chosen.number}", "-vn", *_downmix(chosen), "-ar", str(SAMPLE_RATE)),
        *("-c:a", "pcm_s16le", "-f", "wav"),
        failure="cannot decode audio",
    )
    with wave.open(str(wav_path), "rb") as w:
        decoded = w.getnframes() / w.getframerate()
    problem = None
    if decoded <= 0:
        problem = "audio stream decodes to nothing"
    elif "partial file" in complaints:  # the container's index points past the file's end
        problem = f"truncated media (the file ends {decoded:.1f} s into its audio)"
    elif info.duration and decoded < info.duration * _MIN_DECODED_SHARE - 1.0:
        problem = f"truncated media (decoded {decoded:.1f} s of a claimed {info.duration:.1f} s)"
    if problem:
        wav_path.unlink(missing_ok=True)
        raise MediaError(f"{path}: {problem}")
    return wav_path


def denoise(wav_path: Path, out_path: Path, noise_floor_dbfs: float) -> Path:
    """Spectral denoising (ffmpeg's ``afftdn``, 30 dB of reduction) of a decoded WAV. Its
    noise floor is set just above the one the fingerprint measured: below it, afftdn leaves
    the noise alone. Whisper copes with much noise by itself, so whether this helps a source
    is for the optimizer to learn."""
    floor = min(-20.0, max(-80.0, noise_floor_dbfs + 2.0))  # afftdn's range for ``nf``
    _ffmpeg(
        wav_path,
        out_path,
        *("-af", f"afftdn=nr=30:nf={floor:.1f}", "-c:a", "pcm_s16le"),
        failure="denoising failed",
    )
    return out_path
