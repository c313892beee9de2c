"""The ASR stage beyond the cache key: a new cut of a transcribed film reuses the shared audio's
transcript, and a job killed mid-way resumes from its finished chunks."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import time
import wave
from pathlib import Path

import pytest

from cache_store import Lookup, Outcome, asr_key
from cuts import Alignment, CutLink, SimilarJob, Span
from jobs import JobRequest, prepare
from pipeline import JobPlan, adopt, asr, load_settings
from testkit import CPWX, PAL, ffmpeg, run_cli, wer

SCENES = [
    "The film begins in a small village near the river, where the fishermen mend their nets. "
    "The water is low this year and the boats wait on the sand.",
    "Every morning the children walk to school along the dusty road past the temple. "
    "The oldest girl carries her little brother on her back.",
    "Their teacher tells them stories about the old king and his clever minister. "
    "The minister always finds a way to save the kingdom.",
    "One day a stranger arrives at the station with a box full of letters. "
    "He asks the porter for the house of the postmaster.",
    "Nobody knows where he came from, or why he has come to the village. "
    "The shopkeeper says he saw him once, many years ago.",
    "At night the whole village gathers by the fire to hear the stranger sing. "
    "His song is about a river that never reaches the sea.",
]


OTHER = (
    "The market opens before sunrise and the traders argue about the price of rice. "
    "By noon the square is empty and the dogs sleep in the shade of the banyan tree."
)


def _cut(folder: Path, name: str, order: list[int]) -> Path:
    """Scenes in this order, a second of silence after each (a scene change)."""
    parts = [p for i in order for p in (folder / f"scene{i}.wav", folder / "pause.wav")]
    listing = folder / f"{name}.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    out = folder / f"{name}.wav"
    ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(out))
    return out


def _scenes(folder: Path) -> None:
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "1", str(folder / "pause.wav"))
    for i, text in enumerate(SCENES):
        subprocess.run(["espeak-ng", "-w", str(folder / f"scene{i}.wav"), text], check=True)


def test_a_recut_reuses_the_shared_transcript(tmp_path: Path, cli_env: dict[str, str]) -> None:
    _scenes(tmp_path)
    full = _cut(tmp_path, "theatrical", list(range(6)))
    recut = _cut(tmp_path, "tv_edit", [0, 1, 3, 4, 5])  # scene 2 removed
    first = run_cli("run", str(full), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    second = run_cli("run", str(recut), "--json", env=cli_env)
    assert second.code == 0, second.stderr
    asr = second.json["stages"]["asr"]
    assert asr["source_job"] == first.json["audio_hash"]
    decision = asr["similar"]
    assert decision["source"] == first.json["audio_hash"] and decision["shared_ratio"] > 0.8
    assert decision["band"] in ("reuse-all", "reuse-config") and "ASR" in decision["reuses"]
    # Steady at the film's own speed: no other release speed was fingerprinted.
    assert decision["speeds_searched"] is False and decision["search_seconds"] < 5
    # The reused segments kept the words' times the first job's word stage gave them.
    log = Path(second.json["outputs"]["log"]).read_text()
    assert "segments timed already (reused)" in log
    # The same film: the TV edit now learns into, and corrects from, the theatrical glossary.
    assert decision["film"] == "theatrical"
    assert "theatrical" in second.json["stages"]["glossary"]["reason"]
    # WhisperX segments run up to 30 s: those wholly inside the shared audio are reused.
    assert asr["reused_seconds"] > 10, asr
    duration = float(subprocess.check_output(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(recut)]
    ))  # fmt: skip
    assert asr["transcribed_seconds"] < duration - 10, (asr, duration)
    heard = json.loads(Path(second.json["outputs"]["json"]).read_text())
    text = " ".join(s["text"] for s in heard["segments"])
    spoken = " ".join(SCENES[i] for i in (0, 1, 3, 4, 5))
    assert wer(spoken, text) <= 0.35
    # One job before it was enough for an estimate; refined once the search had found the
    # theatrical cut, it counts the audio that cut lends.
    assert first.json["estimate_seconds"] is None and second.json["estimate_seconds"] > 0
    refined = re.search(
        r"estimate: refined to [\d.]+ s \([\d.]+ s so far; (\d+) s of the audio", log
    )
    assert second.json["refined_estimate_seconds"] > 0 and refined and int(refined[1]) > 0, log
    report = run_cli("optimizer", "report", "--json", env=cli_env)  # kept in the job history
    kept = report.json["history"][-1]
    assert kept["refined_estimate_seconds"] == second.json["refined_estimate_seconds"], kept


def test_a_recut_adopts_the_settings_its_film_was_transcribed_with(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    _scenes(tmp_path)
    full = _cut(tmp_path, "theatrical", list(range(6)))
    recut = _cut(tmp_path, "tv_edit", [0, 1, 3, 4, 5])
    first = run_cli("run", str(full), "--json", env={**cli_env, "WHISPER_BEAM_SIZE": "2"})
    assert first.code == 0, first.stderr
    second = run_cli("run", str(recut), "--json", env=cli_env)  # ASR settings left alone
    assert second.code == 0, second.stderr
    asr = second.json["stages"]["asr"]
    assert "beam_size 5 -> 2" in asr["similar"]["adopted_asr"], asr
    assert asr["source_job"] == first.json["audio_hash"] and asr["reused_seconds"] > 10
    again = run_cli("run", str(recut), "--json", env=cli_env)  # the same choice, unsearched
    assert again.code == 0, again.stderr
    assert again.json["stages"]["asr"]["cache"] == "hit"
    assert again.json["orchestration"] == "store-fast-path"
    pinned = run_cli("run", str(recut), "--json", env={**cli_env, "WHISPER_BEAM_SIZE": "5"})
    assert pinned.code == 0, pinned.stderr  # chosen by the user: nothing adopted
    assert pinned.json["stages"]["asr"]["cache"] == "miss"


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (f"asetrate={round(22050 * PAL)},aresample=22050", "pal"),  # pitch up with the tempo
        (f"atempo={PAL}", "tempo"),  # pitch kept
    ],
)
def test_a_sped_up_release_reuses_the_film_speed_transcript(
    tmp_path: Path, cli_env: dict[str, str], change: str, name: str
) -> None:
    _scenes(tmp_path)
    film = _cut(tmp_path, "film", list(range(6)))
    fast = tmp_path / f"{name}.wav"
    ffmpeg("-i", str(film), "-af", change, "-c:a", "pcm_s16le", str(fast))
    first = run_cli("run", str(film), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    second = run_cli("run", str(fast), "--json", env=cli_env)
    assert second.code == 0, second.stderr
    asr = second.json["stages"]["asr"]
    assert asr["source_job"] == first.json["audio_hash"], asr
    assert asr["similar"]["speed"] == pytest.approx(PAL, abs=0.002)
    assert asr["similar"]["speeds_searched"] is True
    assert asr["reused_seconds"] > 30, asr
    heard = json.loads(Path(second.json["outputs"]["json"]).read_text())
    text = " ".join(s["text"] for s in heard["segments"])
    assert wer(" ".join(SCENES), text) <= 0.35
    # Reused segments sit on the new, faster timeline: the last ends within the new audio.
    duration = float(subprocess.check_output(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(fast)]
    ))  # fmt: skip
    assert heard["segments"][-1]["end"] <= duration + 0.5


def test_an_edit_inside_a_segment_is_heard_again_only_around_it(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """Sentences a quarter second apart run into one WhisperX segment; a cut dropping one
    sentence from inside it reuses the timed words either side, and hears only the edit's
    neighbourhood again (at most 3 s), as accurately as a fresh run."""
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=22050:cl=mono", "-t", "0.25", str(tmp_path / "gap.wav"))
    sentences = [f"{t.strip('.')}." for scene in SCENES[:3] for t in scene.split(". ")]
    for n, text in enumerate(sentences):
        subprocess.run(["espeak-ng", "-w", str(tmp_path / f"s{n}.wav"), text], check=True)

    def joined(name: str, keep: list[int]) -> Path:
        listing = tmp_path / f"{name}.txt"
        parts = [p for n in keep for p in (tmp_path / f"s{n}.wav", tmp_path / "gap.wav")]
        listing.write_text("".join(f"file '{p}'\n" for p in parts))
        out = tmp_path / f"{name}.wav"
        ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c:a", "pcm_s16le", str(out))
        return out

    kept = [n for n in range(len(sentences)) if n != 2]
    full, cut = joined("full", list(range(len(sentences)))), joined("cut", kept)
    first = run_cli("run", str(full), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    second = run_cli("run", str(cut), "--json", env=cli_env)
    assert second.code == 0, second.stderr
    asr = second.json["stages"]["asr"]
    assert asr["source_job"] == first.json["audio_hash"]
    assert asr["transcribed_seconds"] <= 3.0, asr  # one edit, no new audio
    fresh = run_cli(
        "run", str(cut), "--no-cache", "--out", str(tmp_path / "fresh"), "--json", env=cli_env
    )
    assert fresh.code == 0, fresh.stderr
    spoken = " ".join(sentences[n] for n in kept)

    def said(job: dict[str, object]) -> str:
        outputs = job["outputs"]
        assert isinstance(outputs, dict)
        heard = json.loads(Path(outputs["json"]).read_text())
        return " ".join(s["text"] for s in heard["segments"])

    assert wer(spoken, said(second.json)) <= wer(spoken, said(fresh.json)) + 0.02


def test_a_cut_edited_every_few_seconds_is_heard_whole(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    """Reuse is never dearer than hearing the cut afresh: with an edit every few seconds, each
    range to hear again would pay an encoder window of its own, so the job transcribes the cut
    whole and its log says why."""
    _scenes(tmp_path)
    full = _cut(tmp_path, "theatrical", list(range(6)))
    subprocess.run(["espeak-ng", "-w", str(tmp_path / "other.wav"), OTHER], check=True)
    with wave.open(str(full)) as w:
        layout, film = w.getparams(), w.readframes(w.getnframes())
    with wave.open(str(tmp_path / "other.wav")) as w:
        other = w.readframes(w.getnframes())
    second = layout.sampwidth * layout.framerate  # bytes
    kept, new = 6 * second, 3 * second // 2
    pieces = [
        piece
        for n, at in enumerate(range(0, len(film), kept))
        for piece in (film[at : at + kept], other[n * new : (n + 1) * new])
    ]
    choppy = tmp_path / "choppy.wav"
    with wave.open(str(choppy), "wb") as w:
        w.setparams(layout)
        w.writeframes(b"".join(pieces))
    first = run_cli("run", str(full), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    cut = run_cli("run", str(choppy), "--json", env=cli_env)
    assert cut.code == 0, cut.stderr
    log = Path(cut.json["outputs"]["log"]).read_text()
    assert re.search(r"not reused: \d+ ranges to hear again .* transcribed whole", log), log
    asr = cut.json["stages"]["asr"]
    assert asr["reused_seconds"] == 0 and asr["source_job"] is None, asr


def test_different_content_is_not_reused(tmp_path: Path, cli_env: dict[str, str]) -> None:
    for name, text in (("film", SCENES[0] + " " + SCENES[1]), ("other", OTHER)):
        subprocess.run(["espeak-ng", "-w", str(tmp_path / f"{name}.wav"), text], check=True)
    assert run_cli("run", str(tmp_path / "film.wav"), "--json", env=cli_env).code == 0
    other = run_cli("run", str(tmp_path / "other.wav"), "--json", env=cli_env)
    assert other.code == 0, other.stderr
    asr = other.json["stages"]["asr"]
    assert asr["reused_seconds"] == 0 and asr["source_job"] is None
    assert asr["similar"] is None or asr["similar"]["band"] == "none"


def test_a_killed_job_resumes_from_its_finished_chunks(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    _scenes(tmp_path)
    film = _cut(tmp_path, "film", list(range(6)))
    env = {**os.environ, **cli_env, "ASR_CHUNK_SECONDS": "20"}
    asr = Path(cli_env["CACHE_DIR"]) / "asr"
    job = subprocess.Popen(  # its own group: the kill reaches Prefect's server child too
        [CPWX, "run", str(film)],
        env=env,
        cwd=tmp_path,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while not list(asr.glob("*/*.json")) and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(job.pid, signal.SIGKILL)  # after the first chunk is stored: no cleanup runs
    job.wait()
    assert list(asr.glob("*/*.json")), "no chunk was stored before the kill"
    again = run_cli("run", str(film), "--json", env={**cli_env, "ASR_CHUNK_SECONDS": "20"})
    assert again.code == 0, again.stderr
    stage = again.json["stages"]["asr"]
    assert stage["resumed_seconds"] >= 10, stage
    heard = json.loads(Path(again.json["outputs"]["json"]).read_text())
    assert wer(" ".join(SCENES), " ".join(s["text"] for s in heard["segments"])) <= 0.35
    assert len(list(asr.glob("*/*.json"))) == 1  # the chunks gave way to the whole transcript


def _job(band: str, source: str = "b" * 64) -> SimilarJob:
    alignment = Alignment((Span(0.0, 60.0, 0.0, 60.0),), 60.0, 60.0, 1.0)
    return SimilarJob(source, "/films/Sholay.1975.mkv", 0.9, band, alignment, 100, "hi")  # type: ignore[arg-type]


def _plan(tmp_path: Path, media: str, movie_id: str | None = None) -> JobPlan:
    settings = load_settings(env_file=tmp_path / "none.env", cache_dir=tmp_path / "cache")
    (tmp_path / media).write_bytes(b"x")  # named only: nothing is decoded
    return prepare(JobRequest(tmp_path / media, movie_id=movie_id), settings)


@pytest.mark.parametrize(
    ("band", "film", "suggested", "language"),
    [
        ("reuse-all", "sholay", None, "hi"),
        ("reuse-config", "sholay", None, "hi"),
        ("reuse-language", None, "sholay", "hi"),
        ("none", None, None, None),
    ],
)
def test_the_bands_decide_glossary_and_language(
    tmp_path: Path, band: str, film: str | None, suggested: str | None, language: str | None
) -> None:
    plan = _plan(tmp_path, "tv_rip_04.mkv")
    new = "a" * 64
    decision = asr._decide(plan, new, _job(band))
    assert (decision.band, decision.film, decision.suggested_glossary) == (band, film, suggested)
    assert decision.language == language
    # A linked cut uses the film's glossary in every later job, found without a search.
    assert plan.film(new) == (film or "tv_rip_04")


def test_a_cut_links_to_the_film_its_source_was_filed_under(tmp_path: Path) -> None:
    source, new = "b" * 64, "a" * 64
    named = _plan(tmp_path, "Sholay.1975.mkv", movie_id="sholay_restored")
    named.cache.cuts.links.put(CutLink(source, named.film(source)))
    assert asr._decide(_plan(tmp_path, "rip.mkv"), new, _job("reuse-config")).film == (
        "sholay_restored"
    )
    given = _plan(tmp_path, "rip.mkv", movie_id="mine")  # --movie-id wins over a link
    assert asr._decide(given, new, _job("reuse-config")).film is None
    assert given.film(new) == "mine"


def test_the_decision_says_why_no_asr_was_reused(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "rip.mkv")
    key = asr_key("b" * 64, plan.asr.key_parts())
    other = Lookup(key, Outcome.MISS, reason="config changed: beam_size 5 -> 2")
    decision = asr._decide(plan, "a" * 64, _job("reuse-config"), other)
    assert "no ASR" in decision.reuses and "beam_size 5 -> 2" in decision.reuses


def test_settings_this_machine_cannot_reproduce_are_not_adopted(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "rip.mkv")
    parts = plan.asr.key_parts()
    assert adopt(plan, parts) == plan.asr
    assert adopt(plan, {**parts, "beam_size": 2}) == dataclasses.replace(plan.asr, beam_size=2)
    assert adopt(plan, {**parts, "model_version": "0" * 16}) is None  # other weights
    assert adopt(plan, {**parts, "model": "large-v3"}) is None  # not in the catalog here
    assert adopt(plan, {"beam_size": 2}) is None
    if plan.asr.device == "cpu":
        assert adopt(plan, {**parts, "compute_type": "float16"}) is None


def test_two_concurrent_jobs_on_the_same_audio_transcribe_it_once(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    _scenes(tmp_path)
    film = _cut(tmp_path, "film", list(range(6)))
    env = {**os.environ, **cli_env}
    jobs = [
        subprocess.Popen(
            [CPWX, "run", str(film), "--json", "--out", str(tmp_path / f"out{i}")],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for i in range(2)
    ]
    reports = [json.loads(job.communicate(timeout=600)[0]) for job in jobs]
    stages = sorted((r["stages"]["asr"] for r in reports), key=lambda s: s["cache"])
    assert [s["cache"] for s in stages] == ["hit", "miss"], stages
    assert len(list((Path(cli_env["CACHE_DIR"]) / "asr").glob("*/*.json"))) == 1
    texts = {
        " ".join(s["text"] for s in json.loads(Path(r["outputs"]["json"]).read_text())["segments"])
        for r in reports
    }
    assert len(texts) == 1  # both jobs give the one transcript
