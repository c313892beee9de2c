"""The requests Bazarr's Whisper provider makes, exactly: raw PCM posted to /detect-language
and /asr with ``encode=false``, answered from the same store as the CLI's."""

from __future__ import annotations

import json
from pathlib import Path

from testkit import SPOKEN_ES, bazarr_pcm, pyannote_sample, run_cli, speak, wer

from .conftest import Api

CUE_TIME = r"\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d"


def _detect(api: Api, pcm: bytes, name: str) -> dict[str, object]:
    with api.client() as http:
        answer = http.post(
            "/detect-language",
            params={"encode": "false", "video_file": f"/media/films/{name}"},
            files={"audio_file": pcm},
        )
    assert answer.status_code == 200, answer.text
    found: dict[str, object] = answer.json()
    return found


def _asr(api: Api, pcm: bytes, **params: str) -> tuple[str, dict[str, str]]:
    query = {"task": "transcribe", "output": "srt", "encode": "false", **params}
    with api.client() as http:
        answer = http.post("/asr", params=query, files={"audio_file": pcm})
    assert answer.status_code == 200, answer.text
    return answer.text, dict(answer.headers)


def test_a_film_the_cli_subtitled_is_served_from_the_store(
    api: Api, speech_mp4: Path, tmp_path: Path
) -> None:
    done = run_cli("run", str(speech_mp4), "--out", str(tmp_path), "--json", env=api.env)
    assert done.code == 0, done.stderr
    cli_srt = Path(done.json["outputs"]["srt"]).read_text(encoding="utf-8")
    pcm = bazarr_pcm(speech_mp4)

    found = _detect(api, pcm, "Village (2008).mkv")
    assert found["language_code"] == "en" and found["detected_language"] == "english"
    assert found["cached"] is True  # the fingerprint the CLI stored answers

    srt, headers = _asr(api, pcm, language="en", video_file="/media/films/Village (2008).mkv")
    assert srt == cli_srt  # the very cues the CLI wrote
    assert headers["asr-engine"] == "cp-whisperx"
    assert "Village%20%282008%29.srt" in headers["content-disposition"]
    assert float(headers["x-job-seconds"]) < 1.0
    hits, stages = headers["x-cache-stages"].split("/")
    assert int(hits) >= int(stages) - 1  # only the cues are built again


def test_real_speech_cold_then_repeated_then_as_media(api: Api) -> None:
    """pyannote's phone call (two real people): detected, transcribed, then every later ask a
    hit, raw PCM or the file itself."""
    sample = pyannote_sample() / "sample.wav"
    pcm = bazarr_pcm(sample)
    found = _detect(api, pcm, "call.wav")
    assert found["language_code"] == "en" and found["cached"] is False
    assert isinstance(found["confidence"], float) and found["confidence"] > 0.5

    first, headers = _asr(api, pcm)  # no language: as Bazarr asks for untagged audio
    assert first.count(" --> ") >= 5
    assert wer(Path(sample.with_name("sample.stm")).read_text(), first) < 1.0
    assert float(headers["x-job-seconds"]) > 1.0  # heard

    again, headers = _asr(api, pcm)
    assert again == first and float(headers["x-job-seconds"]) < 1.0
    with api.client() as http:
        as_media = http.post(
            "/asr",
            params={"output": "srt"},
            files={"audio_file": ("call.wav", sample.read_bytes())},
        )
    assert as_media.status_code == 200 and as_media.text == first
    assert float(as_media.headers["x-job-seconds"]) < 1.0  # same decoded audio, same hash


def test_each_output_in_whisper_asr_webservices_shape(api: Api) -> None:
    pcm = bazarr_pcm(pyannote_sample() / "sample.wav")  # heard by the test before
    vtt, headers = _asr(api, pcm, output="vtt")
    assert vtt.startswith("WEBVTT") and headers["content-type"].startswith("text/vtt")
    txt, _ = _asr(api, pcm, output="txt")
    tsv, _ = _asr(api, pcm, output="tsv")
    whisper, headers = _asr(api, pcm, output="json", word_timestamps="true")
    assert headers["content-type"] == "application/json"
    result = json.loads(whisper)
    assert result["language"] == "en" and result["text"]
    segments = result["segments"]
    assert [s["id"] for s in segments] == list(range(len(segments)))
    assert all(w["start"] is not None and w["end"] >= w["start"] for w in segments[0]["words"])
    assert txt.splitlines() == [s["text"].strip() for s in segments]
    rows = tsv.splitlines()
    assert rows[0] == "start\tend\ttext" and len(rows) == len(segments) + 1
    start, end, text = rows[1].split("\t")
    assert (int(start), int(end)) == (
        round(segments[0]["start"] * 1000),
        round(segments[0]["end"] * 1000),
    )
    assert text == segments[0]["text"].strip()
    plain, _ = _asr(api, pcm, output="json")
    assert "words" not in json.loads(plain)["segments"][0]


def test_translate_task_gives_english(api: Api, tmp_path: Path) -> None:
    """Bazarr asks for translate where the audio is not in the subtitle's language."""
    spanish = speak(SPOKEN_ES, tmp_path / "pueblo.mp4", voice="es")
    srt, _ = _asr(api, bazarr_pcm(spanish), task="translate", language="es")
    assert srt.count(" --> ") >= 2
    text = srt.lower()
    assert any(word in text for word in ("the ", " and ", " is ", " you ")), srt
