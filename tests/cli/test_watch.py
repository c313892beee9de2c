"""``cpwx watch`` on a media library, end to end: real ffmpeg, WhisperX tiny.en and the CLI as a
user runs it (sidecars beside the films, a bad file one line, a re-cut reusing its sibling)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit import ffmpeg, run_cli, speak


def test_films_get_sidecars_once_and_a_bad_file_is_one_line(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    library = tmp_path / "library"
    (library / "Film (2008)").mkdir(parents=True)
    film = speak(
        "The station master waits near the morning train.",
        library / "Film (2008)" / "Film (2008).mp4",
    )
    (library / "Broken (2010).mkv").write_text("not a film at all")
    (library / "poster.jpg").write_text("not media: never looked at")
    original = film.read_bytes()

    first = run_cli(
        "watch", str(library), "--once", "--json", "--source-language", "en", env=cli_env
    )
    assert first.code == 1, first.stderr  # one film failed
    sidecar = film.with_name("Film (2008).en.srt")
    [done] = first.json["done"]
    assert done["sidecars"] == [str(sidecar)] and done["job"]["stages"]["asr"]["cache"] == "miss"
    assert "station" in sidecar.read_text().lower()
    [failed] = first.json["failed"]
    assert failed["media"] == str(library / "Broken (2010).mkv")
    assert "not readable media" in failed["error"] and "\n" not in failed["error"]
    assert film.read_bytes() == original
    assert sorted(p.name for p in film.parent.iterdir()) == sorted([film.name, sidecar.name])

    (library / "Broken (2010).mkv").unlink()
    second = run_cli("watch", str(library), "--once", "--source-language", "en", env=cli_env)
    assert second.code == 0, second.stderr
    assert "skipped Film (2008).mp4: has Film (2008).en.srt" in second.stderr


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_library_that_is_not_a_folder_is_one_line(
    tmp_path: Path, cli_env: dict[str, str], what: str
) -> None:
    library = tmp_path / "library"
    if what == "file":
        library.write_text("")
    out = run_cli("watch", str(library), "--once", env=cli_env)
    assert out.code != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [
        f"cpwx: error: {library}: {'no such folder' if what == 'missing' else 'not a folder'}"
    ]


def test_a_recut_in_the_library_reuses_its_siblings_transcript(
    speech_mp4: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    library = tmp_path / "library"
    library.mkdir()
    film = library / "A Film (2008).mp4"
    film.write_bytes(speech_mp4.read_bytes())
    # A re-cut: its first 5 s dropped, the rest re-encoded to MP3.
    recut = library / "B Film (2008) TV edit.mp3"
    ffmpeg("-ss", "5", "-i", str(film), "-vn", "-c:a", "libmp3lame", "-b:a", "96k", str(recut))

    out = run_cli("watch", str(library), "--once", "--json", "--source-language", "en", env=cli_env)
    assert out.code == 0, out.stderr
    first, second = out.json["done"]
    assert second["media"] == str(recut) and Path(second["sidecars"][0]).exists()
    asr = second["job"]["stages"]["asr"]
    assert asr["source_job"] == first["job"]["audio_hash"], asr
    assert asr["reused_seconds"] > 5, asr
