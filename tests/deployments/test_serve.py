"""`cpwx serve` end to end: jobs triggered from the CLI run on the cpu pool's worker, hand ASR
to the gpu pool's worker as a subflow, and hit the cache the second time."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from testkit import REPO, bazarr_pcm, run_cli, speak

from .conftest import Served


def _task_states(served: Served, flow_run_id: str) -> dict[str, str]:
    runs = served.post("/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}})
    return {run["name"].rsplit("-", 1)[0]: run["state"]["name"] for run in runs}


def _gpu_runs_of(served: Served, job_id: str) -> list[dict[str, Any]]:
    """The gpu-stages flow runs started by this job's flow run, as subflows."""
    children = served.post("/flow_runs/filter", {"flows": {"name": {"any_": ["gpu-stages"]}}})
    mine = []
    for child in children:
        parent_task = child.get("parent_task_run_id")
        if parent_task and served.get(f"/task_runs/{parent_task}")["flow_run_id"] == job_id:
            mine.append(child)
    return mine


def _logs(served: Served, flow_run_id: str) -> str:
    logs = served.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run_id]}}})
    return "\n".join(entry["message"] for entry in logs)


def test_a_cli_trigger_runs_asr_on_the_gpu_pool_then_hits(
    served: Served, speech_mp4: Path, tmp_path: Path
) -> None:
    first = run_cli(
        "submit", str(speech_mp4), "--out", str(tmp_path / "a"), "--json", env=served.env
    )
    assert first.code == 0, first.stderr
    job = first.json
    assert job["orchestration"] == "deployment subtitle-job/cpu"
    assert job["stages"]["asr"]["cache"] == "miss"
    assert Path(job["outputs"]["srt"]).read_text().strip()

    # Through the API: the job ran on the cpu pool; its ASR and its word timing each ran as a
    # subflow on the gpu pool, and with no GPU here the same flow chose the CPU by itself.
    run = served.get(f"/flow_runs/{job['job_id']}")
    assert run["work_pool_name"] == "cpu" and run["state"]["type"] == "COMPLETED"
    gpu = {r["parameters"]["stage"]: r for r in _gpu_runs_of(served, job["job_id"])}
    assert sorted(gpu) == ["asr", "words"]
    for stage, sub in gpu.items():
        assert sub["work_pool_name"] == "gpu" and sub["state"]["type"] == "COMPLETED"
        assert f"{stage} on cpu" in _logs(served, sub["id"])

    second = run_cli(
        "submit", str(speech_mp4), "--out", str(tmp_path / "b"), "--json", env=served.env
    )
    assert second.code == 0, second.stderr
    again = second.json
    assert again["stages"]["asr"]["cache"] == "hit"
    states = _task_states(served, again["job_id"])
    assert {states[s] for s in ("demux", "fingerprint", "asr", "words")} == {"Cached"}, states
    assert _gpu_runs_of(served, again["job_id"]) == []  # cached stages need no GPU
    artifacts = served.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [again["job_id"]]}}}
    )
    assert {"cache-report", "outputs"} <= {a["key"] for a in artifacts}
    table = next(a for a in artifacts if a["key"] == "outputs")
    assert again["outputs"]["srt"] in table["data"]


def test_prefect_deployment_run_as_documented(
    served: Served, speech_mp4: Path, tmp_path: Path
) -> None:
    prefect = str(Path(sys.executable).with_name("prefect"))
    done = subprocess.run(
        [
            prefect,
            "deployment",
            "run",
            "subtitle-job/cpu",
            "--param",
            f"media={speech_mp4}",
            "--param",
            f"out={tmp_path}",
            "--watch",
        ],
        env=served.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / f"{speech_mp4.stem}.en.srt").read_text().strip()


def test_two_concurrent_jobs_compute_asr_once(served: Served, tmp_path: Path) -> None:
    media = speak(
        "Two workers asked for the same film at once, and only one listened.",
        tmp_path / "twice.mp4",
    )

    def submit(name: str) -> dict[str, Any]:
        out = run_cli("submit", str(media), "--out", str(tmp_path / name), "--json", env=served.env)
        assert out.code == 0, out.stderr
        return out.json

    with ThreadPoolExecutor(2) as pool:
        jobs = list(pool.map(submit, ("one", "two")))
    assert sorted(job["stages"]["asr"]["cache"] for job in jobs) == ["hit", "miss"]


def test_cleanup_retraining_and_the_library_are_scheduled(served: Served) -> None:
    for name, when in (
        ("cache-cleanup/daily", {"cron": "30 3 * * *"}),
        ("optimizer-train/weekly", {"cron": "0 4 * * 0"}),
        ("library-watch/every-15-minutes", {"interval": 900.0}),
    ):
        deployment = served.get(f"/deployments/name/{name}")
        [key] = when
        assert [{key: s["schedule"][key]} for s in deployment["schedules"]] == [when]
        assert all(s["active"] for s in deployment["schedules"])
        assert deployment["work_pool_name"] == "cpu"


def test_a_bazarr_request_is_a_flow_run_in_the_ui(served: Served, tmp_path: Path) -> None:
    """`cpwx serve --api-port`: Bazarr's request runs as a subtitle-job flow run on the
    server (ASR on the gpu pool), named after the film Bazarr names; asked again, a hit."""
    film = speak("The lighthouse keeper counts the ships every night.", tmp_path / "keeper.mp4")
    ask = {"task": "transcribe", "language": "en", "output": "srt", "encode": "false"}
    ask["video_file"] = "/library/Keeper (1999)/Keeper (1999).mkv"
    pcm = bazarr_pcm(film)
    with httpx.Client(base_url=served.http_api, timeout=600) as http:
        first = http.post("/asr", params=ask, files={"audio_file": pcm})
        assert first.status_code == 200, first.text
        assert "lighthouse" in first.text.lower()
        again = http.post("/asr", params=ask, files={"audio_file": pcm})
    assert again.text == first.text
    named = {"name": {"like_": "Keeper (1999)"}}
    jobs = {"flows": {"name": {"any_": ["subtitle-job"]}}, "flow_runs": named}
    runs = served.post("/flow_runs/filter", jobs)
    assert len(runs) == 2 and {r["state"]["type"] for r in runs} == {"COMPLETED"}
    first_run, repeat = sorted(runs, key=lambda r: str(r["created"]))
    gpu = {r["parameters"]["stage"] for r in _gpu_runs_of(served, first_run["id"])}
    assert gpu == {"asr", "words"}  # heard on the gpu pool, as `cpwx submit`'s jobs are
    states = _task_states(served, repeat["id"])
    assert {states[s] for s in ("fingerprint", "asr", "words")} == {"Cached"}, states
    assert _gpu_runs_of(served, repeat["id"]) == []
