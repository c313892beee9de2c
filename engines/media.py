"""ffmpeg behind one narrow interface: probe a source, decode it to 16 kHz mono PCM WAV."""

from __future__ import annotations

import json
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SAMPLE_RATE",
    "MediaError",
    "MediaInfo",
    "check_source",
    "demux",
    "denoise",
    "probe",
]

SAMPLE_RATE = 16000
# A decode that yields less than this share of the container's claimed audio is truncated media.
_MIN_DECODED_SHARE = 0.9


class MediaError(Exception):
    """The input is not usable media; the message is one line meant for the user."""


@dataclass(frozen=True)
class MediaInfo:
    path: Path
    duration: float | None
    audio_codec: str
    has_video: bool


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
    )


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


def demux(path: Path, wav_path: Path) -> Path:
    """Decode the first audio stream of anything ffmpeg reads to 16 kHz mono s16 WAV."""
    info = probe(path)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    complaints = _ffmpeg(
        path,
        wav_path,
        *("-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE)),
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
