"""A corpus of bad media, made here: each gets one line on stderr and a non-zero exit, and
leaves the store as it was and no temp files behind."""

from __future__ import annotations

import os
import random
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from cache_manager import CacheManager
from testkit import CPWX, REPO, CliResult, faststart_copy, ffmpeg, run_cli, tree_state

from .conftest import Record

Make = Callable[[Path, Path], Path]  # (good speech mp4, folder) -> the bad file


def _bytes(name: str, data: bytes) -> Make:
    def make(_good: Path, folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    return make


def _truncated(share: float, faststart: bool) -> Make:
    def make(good: Path, folder: Path) -> Path:
        full = faststart_copy(good, folder / "full.mp4") if faststart else good
        out = folder / f"cut-{share:.2f}.mp4"
        data = full.read_bytes()
        out.write_bytes(data[: int(len(data) * share)])
        return out

    return make


def _ffmpeg(name: str, *args: str) -> Make:
    def make(good: Path, folder: Path) -> Path:
        ffmpeg(*[a.replace("{good}", str(good)) for a in args], str(folder / name))
        return folder / name

    return make


def _wav_claiming(seconds: float, data_seconds: float) -> Make:
    """A WAV whose header claims ``seconds`` but holds ``data_seconds`` of samples."""

    def make(_good: Path, folder: Path) -> Path:
        rate = 16000
        claimed = int(seconds * rate) * 2
        header = b"RIFF" + struct.pack("<I", 36 + claimed) + b"WAVEfmt "
        header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
        header += b"data" + struct.pack("<I", claimed)
        rng = random.Random(3)
        samples = bytes(rng.randrange(256) for _ in range(int(data_seconds * rate) * 2))
        out = folder / f"claims-{seconds:g}s.wav"
        out.write_bytes(header + samples)
        return out

    return make


def _unknown_codec(good: Path, folder: Path) -> Path:
    """A Matroska file whose audio track names a codec no decoder knows."""
    ffmpeg("-i", str(good), "-vn", "-c:a", "pcm_s16le", str(folder / "pcm.mkv"))
    out = folder / "unknown-codec.mkv"
    out.write_bytes((folder / "pcm.mkv").read_bytes().replace(b"A_PCM/INT/LIT", b"A_NOPE/XY/ZZZ"))
    return out


def _claims_ten_hours(good: Path, folder: Path) -> Path:
    """An MP4 whose movie header claims ten hours; its samples last 20 s."""
    data = bytearray(faststart_copy(good, folder / "full.mp4").read_bytes())
    at = data.find(b"mvhd")  # version 0: flags, created, modified, timescale, duration
    scale = struct.unpack(">I", data[at + 16 : at + 20])[0]
    data[at + 20 : at + 24] = struct.pack(">I", scale * 36000)
    out = folder / "ten-hours.mp4"
    out.write_bytes(bytes(data))
    return out


def _named(name: str) -> Make:
    return _bytes(name, b"this is a subtitle file, not a film\n" * 40)


def _directory(_good: Path, folder: Path) -> Path:
    (folder / "a-folder.mp4").mkdir()
    return folder / "a-folder.mp4"


def _broken_symlink(_good: Path, folder: Path) -> Path:
    (folder / "gone.mp4").symlink_to(folder / "no-such-target.mp4")
    return folder / "gone.mp4"


def _fifo(_good: Path, folder: Path) -> Path:
    os.mkfifo(folder / "pipe.mp4")
    return folder / "pipe.mp4"


def _unreadable(good: Path, folder: Path) -> Path:
    out = folder / "locked.mp4"
    out.write_bytes(good.read_bytes())
    out.chmod(0)
    return out


# Each case: how to make it, and what its error line says (alternatives separated by "|").
CASES: dict[str, tuple[Make, str]] = {
    "empty file": (_bytes("empty.mp4", b""), "file is empty"),
    "text": (_bytes("notes.mp4", b"scene 1: the village at dawn\n" * 50), "not readable media"),
    "random bytes": (
        _bytes("noise.mp4", random.Random(1).randbytes(200_000)),
        "not readable media",
    ),
    "random bytes after an ftyp box": (
        _bytes("fake.mp4", b"\x00\x00\x00\x18ftypisom" + random.Random(2).randbytes(50_000)),
        "media",
    ),
    "gzip data": (_bytes("packed.mp4", b"\x1f\x8b\x08\x00" + bytes(4000)), "not readable media"),
    "truncated at 10% (faststart)": (_truncated(0.10, True), "truncated"),
    "truncated at 50% (faststart)": (_truncated(0.50, True), "truncated"),
    "truncated at 90% (faststart)": (_truncated(0.90, True), "truncated"),
    "truncated at 30% (index at the end)": (_truncated(0.30, False), "media"),
    "truncated at 99% (index at the end)": (_truncated(0.99, False), "media"),
    "truncated WAV header": (_bytes("header.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "), "media"),
    "video with no audio stream": (
        _ffmpeg("silent-film.mp4", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=5", "-t", "2"),
        "no audio stream",
    ),
    "still image": (
        _ffmpeg("poster.png", "-f", "lavfi", "-i", "testsrc=size=64x48", "-frames:v", "1"),
        "no audio stream",
    ),
    "zero-length audio": (_wav_claiming(0, 0), "decodes to nothing|not readable media"),
    "container claiming a huge duration": (_claims_ten_hours, "damaged container"),
    "unsupported codec": (_unknown_codec, "audio codec not supported"),
    "unicode name": (_named("फ़िल्म का नाम.mp4"), "फ़िल्म का नाम.mp4"),
    "spaces in the name": (_named("my  film (final) [v2].mp4"), "my  film (final) [v2].mp4"),
    "newline in the name": (_named("two\nlines.mp4"), "two\\nlines.mp4"),
    "a directory": (_directory, "is a directory"),
    "a broken symlink": (_broken_symlink, "no such file"),
    "no such file": (lambda _good, folder: folder / "never-made.mp4", "no such file"),
    "a named pipe": (_fifo, "not a regular file"),
    "a device": (lambda _good, _folder: Path("/dev/zero"), "not a regular file"),
    "an unreadable file": (_unreadable, "cannot read"),
}


def _as_nobody(path: Path) -> CliResult:
    """`cpwx run` as the user nobody, on a cache of its own, for a file only root may read."""
    for folder in (REPO, *REPO.parents, *path.parents):  # nobody must reach the code and file
        folder.chmod(folder.stat().st_mode | 0o005)
    home = Path(tempfile.mkdtemp(prefix="cpwx-nobody-"))
    home.chmod(0o777)
    env = {
        **os.environ,
        "HOME": str(home),
        "CACHE_DIR": str(home / "cache"),
        "CPWX_CONFIG": str(home / "none.env"),
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": "",
        "LOCAL_PREFECT_SERVER": "",
        "TMPDIR": str(home),
    }
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    proc = subprocess.run(
        [*nobody, CPWX, "run", str(path)],
        env=env,
        cwd=home,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    left = sorted(p.name for p in home.iterdir() if p.name not in ("cache", "prefect"))
    shutil.rmtree(home, ignore_errors=True)
    assert left == [], f"left behind by the job: {left}"
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def store(cli_env: dict[str, str]) -> Path:
    cache = Path(cli_env["CACHE_DIR"])
    CacheManager(cache).set_asr_result("c" * 64, {"model": "m"}, {"segments": []})
    return cache


def test_each_bad_input_is_one_line_and_changes_nothing(
    speech_mp4: Path,
    store: Path,
    cli_env: dict[str, str],
    prefect_server: str,
    tmp_path: Path,
    record: Record,
) -> None:
    assert len(CASES) >= 25
    before = tree_state(store)
    scratch = tmp_path / "tmp"  # the jobs' TMPDIR: no decode folder may outlive a job
    scratch.mkdir()
    env = {**cli_env, "TMPDIR": str(scratch), "PREFECT_API_URL": prefect_server}
    wrong = {}
    for n, (name, (make, expected)) in enumerate(CASES.items()):
        folder = tmp_path / f"case{n}"
        folder.mkdir()
        path = make(speech_mp4, folder)
        if name == "an unreadable file" and os.geteuid() == 0:
            out = _as_nobody(path)  # root reads anything
        else:
            out = run_cli("run", str(path), env=env, timeout=120)
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        if (
            out.code == 0
            or len(lines) != 1
            or not any(phrase in lines[0] for phrase in expected.split("|"))
            or "Traceback" in out.stderr
            or out.stdout
        ):
            wrong[name] = f"exit {out.code}: {out.stderr.strip()[-400:]}"
    changed = tree_state(store) != before
    leftovers = sorted(p.name for p in scratch.iterdir())
    record("bad media", cases=len(CASES), faults=len(CASES), corrupt_served=0, lost=int(changed))
    assert wrong == {}, "\n".join(f"{k}: {v}" for k, v in wrong.items())
    assert not changed and leftovers == []
