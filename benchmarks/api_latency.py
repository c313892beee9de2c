"""Bazarr's requests against `cpwx api`: a film never heard, a film the CLI already subtitled,
and the same request again, side by side in one run.

    .venv/bin/python benchmarks/api_latency.py [--minutes 2] [--repeat 2]

Every request is what Bazarr's Whisper provider sends: the film's raw PCM (its own ffmpeg
command) posted multipart to ``/asr?task=transcribe&language=en&output=srt&encode=false``, or
to ``/detect-language?encode=false``, timed by a real HTTP client from the first byte sent to
the last received. One `cpwx api` started here on an empty cache serves every row (the
environment's settings otherwise: diarization on where its weights are). Each repetition has
its own two films (espeak-ng English, different lines), so "never heard" is never a hit.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from testkit import CPWX, REPO, bazarr_pcm, free_port, run_cli, script, speak

ASR = {"task": "transcribe", "language": "en", "output": "srt", "encode": "false"}


def _post(http: httpx.Client, path: str, pcm: bytes, params: dict[str, str]) -> tuple[float, float]:
    """(seconds the request took, seconds of work the server reports: the job's)."""
    started = time.perf_counter()
    answer = http.post(path, params=params, files={"audio_file": pcm})
    took = time.perf_counter() - started
    answer.raise_for_status()
    return took, float(answer.headers.get("x-job-seconds", "nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="length of each film")
    parser.add_argument("--repeat", type=int, default=2, help="films of each kind (medians)")
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float]]] = {}

    def note(row: str, measured: tuple[float, float]) -> None:
        rows.setdefault(row, []).append(measured)

    with tempfile.TemporaryDirectory(prefix="cpwx-bench-api-") as temp:
        home = Path(temp)
        env = {
            **os.environ,
            "CACHE_DIR": str(home / "cache"),
            "PREFECT_HOME": str(home / "prefect"),
            "PREFECT_API_URL": "",
            "LOCAL_PREFECT_SERVER": "",
        }
        port = free_port()
        server = subprocess.Popen(
            [CPWX, "api", "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=(home / "api.log").open("w"),
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(120):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            with httpx.Client(base_url=url, timeout=3600) as http:
                for n in range(args.repeat):
                    cold = speak(script(args.minutes, seed=100 + n), home / f"cold{n}.mp4")
                    known = speak(script(args.minutes, seed=200 + n), home / f"known{n}.mp4")
                    cold_pcm, known_pcm = bazarr_pcm(cold), bazarr_pcm(known)
                    note("asr, never heard", _post(http, "/asr", cold_pcm, ASR))
                    note("asr, the same request again", _post(http, "/asr", cold_pcm, ASR))
                    detect = {"encode": "false"}
                    heard = _post(http, "/detect-language", known_pcm, detect)
                    note("detect-language, never heard", heard)
                    started = time.perf_counter()
                    done = run_cli("run", str(known), "--out", str(home / f"out{n}"), env=env)
                    assert done.code == 0, done.stderr
                    cli = (time.perf_counter() - started, math.nan)
                    note("(`cpwx run` of that film: the CLI's first run)", cli)
                    note("asr, film known from the CLI", _post(http, "/asr", known_pcm, ASR))
                    known_again = _post(http, "/detect-language", known_pcm, detect)
                    note("detect-language, known film", known_again)
        finally:
            server.terminate()
            server.wait(timeout=60)

    first = statistics.median(t for t, _ in rows["asr, never heard"])
    print(
        f"\n`cpwx api`, {args.minutes:g}-minute films, median of {args.repeat}; "
        f"{platform.node()} ({os.cpu_count()} cores, {platform.machine()}), Python "
        f"{sys.version.split()[0]}\n"
    )
    print("| request | seconds | server's job seconds | of the never-heard /asr |")
    print("|---|---|---|---|")
    for row, measured in rows.items():
        took = statistics.median(t for t, _ in measured)
        work = statistics.median(w for _, w in measured)
        shown = "-" if math.isnan(work) else f"{work:.3f}"
        print(f"| {row} | {took:.3f} | {shown} | {took / first:.3f}x |")


if __name__ == "__main__":
    main()
