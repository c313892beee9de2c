"""A film with several audio tracks through the real CLI: the track the language asks for is
heard, the choice is reported, and a track the file does not have is one line."""

from __future__ import annotations

from pathlib import Path

from testkit import ffmpeg, run_cli, tree_state


def _film(speech: Path, tmp_path: Path) -> Path:
    """0: a Hindi tone track (default), 1: the English speech, 2: English commentary (tone)."""
    tone = tmp_path / "tone.m4a"
    ffmpeg("-f", "lavfi", "-i", "sine=f=300:d=20", "-c:a", "aac", str(tone))
    out = tmp_path / "film.mkv"
    ffmpeg(
        "-i", str(tone), "-i", str(speech), "-i", str(tone),
        "-map", "0:a", "-map", "1:a", "-map", "2:a", "-c", "copy",
        "-metadata:s:a:0", "language=hin", "-metadata:s:a:1", "language=eng",
        "-metadata:s:a:2", "language=eng", "-metadata:s:a:2", "title=Commentary",
        "-disposition:a:0", "default", "-disposition:a:1", "0", "-disposition:a:2", "0",
        str(out),
    )  # fmt: skip
    return out


def test_the_language_picks_the_track(
    cli_env: dict[str, str], speech_mp4: Path, tmp_path: Path
) -> None:
    film = _film(speech_mp4, tmp_path)
    result = run_cli("run", str(film), "--source-language", "en", "--json", env=cli_env)
    assert result.code == 0, result.stderr
    job = result.json
    assert "track 1: tagged en" in job["stages"]["demux"]["reason"]
    text = Path(job["outputs"]["srt"]).read_text(encoding="utf-8").lower()
    assert "village" in text and "river" in text
    again = run_cli("run", str(film), "--source-language", "en", "--json", env=cli_env).json
    assert again["orchestration"] == "store-fast-path"
    assert again["audio_hash"] == job["audio_hash"]

    store = Path(cli_env["CACHE_DIR"])
    before = tree_state(store)
    for args, expected in (
        (("--audio-track", "7"), "no audio track 7"),
        (("--source-language", "cs"), "no audio track is tagged 'cs'"),
    ):
        bad = run_cli("run", str(film), *args, env=cli_env)
        lines = bad.stderr.strip().splitlines()
        assert bad.code == 1 and len(lines) == 1, bad
        assert expected in lines[0] and "1: eng mono" in lines[0]
    assert tree_state(store) == before
