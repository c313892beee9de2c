"""A Hindi film through the real CLI with nothing said about it: the language is detected,
the multilingual model is chosen, and the subtitles come out in Devanagari."""

from __future__ import annotations

from pathlib import Path

from testkit import SPOKEN_HI, run_cli, speak_hindi


def test_hindi_is_detected_and_written_in_devanagari(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    film = speak_hindi(SPOKEN_HI, tmp_path / "film.m4a")
    result = run_cli("run", str(film), "--json", env=cli_env)
    assert result.code == 0, result.stderr
    job = result.json
    assert (job["source_language"], job["model"]) == ("hi", "base")
    assert {"hi", "ur"} <= set(job["language_probs"])
    srt = Path(job["outputs"]["srt"])
    assert srt.name == "film.hi.srt"
    letters = [c for c in srt.read_text(encoding="utf-8") if c.isalpha()]
    assert letters and sum("\u0900" <= c <= "\u097f" for c in letters) / len(letters) > 0.95
    assert job["subtitles"]["qc"]["cues"] > 0
    again = run_cli("run", str(film), "--json", env=cli_env).json
    assert again["orchestration"] == "store-fast-path"
    assert again["language_probs"] == job["language_probs"]

    # Romanized (Hinglish) from the same cached transcript: only the cues are built again.
    latin = run_cli("run", str(film), "--script", "latin", "--json", env=cli_env).json
    assert latin["orchestration"] == "store-fast-path"
    romanized = Path(latin["outputs"]["srt"])
    assert romanized.name == "film.hi-Latn.srt"
    letters = [c for c in romanized.read_text(encoding="utf-8") if c.isalpha()]
    assert letters and all(c.isascii() for c in letters)
    bad = run_cli("run", str(film), "--script", "klingon", env=cli_env)
    assert bad.code == 1 and bad.stderr.strip().splitlines() == [
        "cpwx: error: unknown script 'klingon': use one of native, latin"
    ]
