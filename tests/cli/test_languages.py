"""A Hindi film through the real CLI with nothing said about it: the language is detected,
the multilingual model is chosen, and the subtitles come out in Devanagari."""

from __future__ import annotations

from pathlib import Path

from records import spoken_words
from testkit import SPOKEN_ES, SPOKEN_HI, run_cli, speak, speak_hindi


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


def _cues(srt: Path) -> list[tuple[float, float, str]]:
    """(start, end, text) of each cue of an SRT file."""

    def seconds(stamp: str) -> float:
        h, m, s = stamp.replace(",", ".").split(":")
        return int(h) * 3600 + int(m) * 60 + float(s)

    out = []
    for block in srt.read_text(encoding="utf-8").strip().split("\n\n"):
        lines = block.splitlines()
        start, end = lines[1].split(" --> ")
        out.append((seconds(start), seconds(end), " ".join(lines[2:])))
    return out


def test_spanish_film_subtitled_in_english_without_a_text_model(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """No TRANSLATION_MODEL: Whisper's translate task writes the English, one line per
    Spanish sentence, the English cues on the Spanish ones' times; the memory keeps each
    English line against its Spanish sentence, and the re-run is served from it."""
    film = speak(SPOKEN_ES, tmp_path / "film.mp4", voice="es")
    env = {**cli_env, "TM_MIN_CONFIDENCE": "0"}  # keep synthetic speech's low-confidence lines
    args = ("run", str(film), "--workflow", "subtitle", "--target-language", "en", "--json")
    result = run_cli(*args, env=env)
    assert result.code == 0, result.stderr
    job = result.json
    english, spanish = Path(job["outputs"]["srt"]), Path(job["source_outputs"]["srt"])
    assert (english.name, spanish.name) == ("film.en.srt", "film.es.srt")
    ours, theirs = _cues(english), _cues(spanish)
    letters = [c for _, _, text in ours for c in text if c.isalpha()]
    assert letters and all(c.isascii() for c in letters)
    said = set(spoken_words(" ".join(text for _, _, text in ours)))
    assert not said & {"las", "llaves", "coche", "visto", "cocina", "bolsillo", "chaqueta"}
    for start, end, text in ours:  # every English cue is on screen with a Spanish one
        assert any(a < end and start < b for a, b, _ in theirs), (start, end, text)
    assert ours[0][0] == theirs[0][0] and abs(ours[-1][1] - theirs[-1][1]) < 0.5
    assert job["subtitles"]["qc"]["passing_share"] == 1.0
    memory = job["translation_memory"]
    assert memory["translated"] == memory["stored"] == memory["segments"] >= 3

    again = run_cli(*args, env=env).json
    assert again["orchestration"] == "store-fast-path"
    assert again["stages"]["translation"]["cache"] == "hit"
    assert _cues(Path(again["outputs"]["srt"])) == ours
    tmx = tmp_path / "memory.tmx"
    exported = run_cli("tm", "export", str(tmx), "--source-language", "es", env=env)
    assert exported.code == 0, exported.stderr
    kept = tmx.read_text(encoding="utf-8")
    assert "Las dejé aquí esta mañana." in kept or "Entonces las tendrás" in kept
    assert ours[-1][2].split()[-1] in kept

    french = run_cli(
        "run", str(film), "--workflow", "translate", "--target-language", "fr", env=env
    )
    assert french.code == 1 and len(french.stderr.strip().splitlines()) == 1
    assert "needs a translation model" in french.stderr
