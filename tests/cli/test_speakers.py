"""Speakers through the real CLI, on a real two-person call: a speaker on every word and
segment, a speaker setting diarizes again while the transcript stays a hit, and a speaker named
once is named in the film's next job (a re-cut)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from pyannote.database.util import load_rttm

from testkit import pyannote_sample, run_cli


def _reference_time(rttm: Path, shift: float) -> dict[str, list[tuple[float, float]]]:
    """Each reference speaker's speech where no one else speaks (a backchannel over someone's
    words belongs to both), moved by ``shift`` seconds (a re-cut's timeline)."""
    reference = load_rttm(str(rttm))["sample"]
    alone = reference.extrude(reference.get_overlap())
    return {
        str(who): [(s.start + shift, s.end + shift) for s in alone.label_timeline(who)]
        for who in alone.labels()
    }


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> float:
    return max(0.0, min(a[1], b[1]) - max(a[0], b[0]))


def test_speakers_on_every_word_named_once_per_film(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**cli_env, "ENABLE_DIARIZATION": "true"}
    sample = pyannote_sample()
    call = str(sample / "sample.wav")
    first = run_cli("run", call, "--movie-id", "call", "--json", env=env)
    assert first.code == 0, first.stderr
    assert first.json["stages"]["diarization"]["cache"] == "miss"
    said = json.loads(Path(first.json["outputs"]["json"]).read_text(encoding="utf-8"))
    segments = said["segments"]
    assert segments and all(s.get("speaker") for s in segments)
    assert all(w.get("speaker") for s in segments for w in s["words"])
    assert len({w["speaker"] for s in segments for w in s["words"]}) == 2

    given = run_cli("run", call, "--movie-id", "call", "--speakers", "2", "--json", env=env).json
    stages = {name: s["cache"] for name, s in given["stages"].items()}
    assert stages["asr"] == stages["words"] == "hit" and stages["diarization"] == "miss"
    again = run_cli("run", call, "--movie-id", "call", "--speakers", "2", "--json", env=env).json
    assert again["orchestration"] == "store-fast-path"

    cast = run_cli("glossary", "speakers", "call", "--json", env=env).json["speakers"]
    assert len(cast) == 2 and all(s["seconds"] > 3 and s["name"] is None for s in cast)
    # Name the voice of the reference speaker who talks most, as someone listening would.
    words = [w for s in said["segments"] for w in s["words"] if "start" in w]
    reference = _reference_time(sample / "sample.rttm", 0.0)
    who = max(reference, key=lambda k: sum(b - a for a, b in reference[k]))
    talk: dict[str, float] = {}
    for w in words:
        for turn in reference[who]:
            talk[w["speaker"]] = talk.get(w["speaker"], 0.0) + _overlap(
                (w["start"], w["end"]), turn
            )
    label = max(talk, key=talk.__getitem__)
    named = run_cli("glossary", "speaker", "call", label, "--name", "Jai", env=env)
    assert named.code == 0 and f"{label} is now Jai" in named.stdout, named.stderr
    missing = run_cli("glossary", "speaker", "call", "SPEAKER_09", "--name", "Ravi", env=env)
    assert missing.code == 1 and len(missing.stderr.strip().splitlines()) == 1
    assert "no speaker 'SPEAKER_09'" in missing.stderr

    # A re-cut: the first 4 s gone, as MP3. Its job shows the same voice as Jai.
    recut = tmp_path / "recut.mp3"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-ss", "4", "-i", str(sample / "sample.wav"), str(recut)],
        check=True,
    )
    out = tmp_path / "recut-out"
    second = run_cli(
        "run",
        str(recut),
        "--movie-id",
        "call",
        "--speaker-labels",
        "--formats",
        "srt,ass,json",
        "--out",
        str(out),
        "--json",
        env=env,
    )
    assert second.code == 0, second.stderr
    said = json.loads(Path(second.json["outputs"]["json"]).read_text(encoding="utf-8"))
    words = [w for s in said["segments"] for w in s["words"] if "start" in w]
    shifted = _reference_time(sample / "sample.rttm", -4.0)[who]
    heard = sum(_overlap((w["start"], w["end"]), t) for w in words for t in shifted)
    as_jai = sum(
        _overlap((w["start"], w["end"]), t) for w in words if w["speaker"] == "Jai" for t in shifted
    )
    assert heard > 3 and as_jai / heard >= 0.9, (as_jai, heard)
    srt = Path(second.json["outputs"]["srt"]).read_text(encoding="utf-8")
    assert "[Jai] " in srt
    ass = Path(second.json["outputs"]["ass"]).read_text(encoding="utf-8")
    assert ",Jai," in ass  # the Name field of its events
    cast = run_cli("glossary", "speakers", "call", "--json", env=env).json["speakers"]
    assert [s["name"] for s in cast].count("Jai") == 1 and len(cast) == 2

    missing = {**env, "DIARIZATION_MODEL_DIR": str(tmp_path / "nothing")}
    bad = run_cli("run", call, env=missing)
    assert bad.code == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "DIARIZATION_MODEL_DIR" in bad.stderr


def test_a_cut_keeps_its_films_speaker_turns_and_diarizes_only_new_audio(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Real voices: pyannote's call and codec2's VE9QRP make the film; its cut has 8 s of the
    LibriVox reader between them. The cut's words in the shared audio keep their speakers, and
    only the reader's 8 s are diarized."""
    env = {**cli_env, "ENABLE_DIARIZATION": "true"}
    call = pyannote_sample() / "sample.wav"
    radio = Path("/usr/share/codec2/wav/ve9qrp.wav")
    reader = sorted(Path("/usr/share/pocketsphinx/test/data/librivox").glob("*.wav"))[:2]

    def joined(name: str, parts: list[tuple[Path, float]]) -> Path:
        """Each part's first so many seconds, end to end, as 16 kHz mono."""
        inputs = [a for path, seconds in parts for a in ("-t", str(seconds), "-i", str(path))]
        chain = "".join(
            f"[{n}:a]aresample=16000,aformat=channel_layouts=mono[a{n}];" for n in range(len(parts))
        )
        streams = "".join(f"[a{n}]" for n in range(len(parts)))
        out = tmp_path / f"{name}.wav"
        subprocess.run(
            ["ffmpeg", "-v", "error", *inputs, "-filter_complex",
             f"{chain}{streams}concat=n={len(parts)}:v=0:a=1", str(out)],
            check=True,
        )  # fmt: skip
        return out

    film = joined("film", [(call, 30), (radio, 30)])
    cut = joined("cut", [(call, 30), (reader[0], 5), (reader[1], 3), (radio, 30)])
    first = run_cli("run", str(film), "--movie-id", "radio", "--json", env=env)
    assert first.code == 0, first.stderr
    second = run_cli("run", str(cut), "--movie-id", "radio", "--json", env=env)
    assert second.code == 0, second.stderr
    diarized = second.json["stages"]["diarization"]
    assert diarized["cache"] == "miss"
    found = re.search(r"reused (\d+) s of speaker turns .* diarized (\d+) s in 1 ranges",
                      diarized["reason"])  # fmt: skip
    assert found and int(found[1]) >= 40 and 6 <= int(found[2]) <= 10, diarized["reason"]
    assert diarized["seconds"] < first.json["stages"]["diarization"]["seconds"] / 2

    def words(job: dict[str, object]) -> list[tuple[float, float, str]]:
        outputs = job["outputs"]
        assert isinstance(outputs, dict)
        said = json.loads(Path(outputs["json"]).read_text(encoding="utf-8"))
        segments = said["segments"]
        return [(w["start"], w["end"], w.get("speaker")) for s in segments for w in s["words"]]

    # The call and the radio (8 s later in the cut): each word's speaker is the one the film's
    # job gave the word it overlaps most there.
    before, after = words(first.json), words(second.json)
    assert all(who for *_, who in after)  # the reader's words too
    agree = matched = 0
    for start, end, who in after:
        shift = 8.0 if start >= 38.0 else 0.0 if end <= 30.0 else None
        if shift is None:
            continue
        a, b = start - shift, end - shift
        best = max(before, key=lambda w: _overlap((a, b), (w[0], w[1])))
        if _overlap((a, b), (best[0], best[1])) > 0:
            matched += 1
            agree += best[2] == who
    assert matched > 0.8 * sum(1 for w in after if w[1] <= 30.0 or w[0] >= 38.0), matched
    assert agree / matched >= 0.9, (agree, matched)
