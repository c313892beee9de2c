"""Identical re-run vs first run vs WhisperX alone, measured side by side in one run.

    .venv/bin/python benchmarks/rerun.py [--minutes 10]

Each row is a separate process timed from start to exit, with its peak RSS (wait4).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from deployments import start_server
from testkit import bench_env, free_port, make_clip, timed

VENV = Path(sys.executable).parent
DIRECT = "whisperx direct (load + transcribe)"
DIARIZED = "whisperx + pyannote direct (load, transcribe, diarize)"
FIRST_EMBEDDED = "cpwx first run, embedded (ephemeral Prefect)"
FIRST_SERVER = "cpwx first run, local Prefect server"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3, help="rounds; each row reports its median")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-bench-"))
    clip = make_clip(Path("out/bench") / f"speech-{args.minutes:g}min.mp4", args.minutes)
    cpwx = [str(VENV / "cpwx"), "run", str(clip), "--json", "--out", str(work / "out")]
    direct = [str(VENV / "python"), str(Path(__file__).with_name("_whisperx_direct.py")), str(clip)]
    base = bench_env(work)
    (work / "server-home").mkdir(parents=True)
    server, url = start_server(
        free_port(), work / "server-home", env={"PREFECT_HOME": str(work / "server-home")}
    )
    embedded = {"CACHE_DIR": str(work / "cache-embedded")}
    served = {"CACHE_DIR": str(work / "cache-server"), "PREFECT_API_URL": url}
    # (row name, command, environment, start from an empty cache?) in the order they run.
    # The same work as a first run's called directly, where the first run diarizes too.
    diarizes = os.environ.get("ENABLE_DIARIZATION", "").lower() not in ("false", "0", "no")
    plan = [
        (DIRECT, direct, {}, False),
        *([(DIARIZED, [*direct, "--diarize"], {}, False)] if diarizes else []),
        (FIRST_EMBEDDED, cpwx, embedded, True),
        ("cpwx re-run, embedded (store fast path)", cpwx, embedded, False),
        (
            "cpwx re-run, embedded, STORE_FAST_PATH=false",
            cpwx,
            {**embedded, "STORE_FAST_PATH": "false"},
            False,
        ),
        (FIRST_SERVER, cpwx, served, True),
        ("cpwx re-run, local Prefect server (Cached tasks)", cpwx, served, False),
    ]
    walls: dict[str, list[float]] = {name: [] for name, *_ in plan}
    peaks: dict[str, float] = dict.fromkeys(walls, 0.0)
    try:
        for round_ in range(args.repeat):  # rounds interleave the rows, so drift hits all alike
            for name, cmd, env, cold in plan:
                if cold:
                    shutil.rmtree(env["CACHE_DIR"], ignore_errors=True)
                wall, rss = timed(cmd, {**base, **env})
                walls[name].append(wall)
                peaks[name] = max(peaks[name], rss)
                print(f"  round {round_ + 1}: {name}: {wall:.2f} s", file=sys.stderr)
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    median = {name: statistics.median(w) for name, w in walls.items()}
    print(
        f"\nIdentical re-run, {args.minutes:g} min clip ({clip.name}), median of {args.repeat}, "
        f"{platform.machine()}, {os.cpu_count()} cores, tiny.en int8 CPU\n"
    )
    print("| run | wall s (median) | vs first run, same mode | vs whisperx direct | peak RSS MB |")
    print("|---|---:|---:|---:|---:|")
    for name, wall in median.items():
        first = median[FIRST_SERVER if "server" in name else FIRST_EMBEDDED]
        firsts = (DIRECT, DIARIZED, FIRST_EMBEDDED, FIRST_SERVER)
        vs_first = "-" if name in firsts else f"{wall / first:.1%}"
        print(
            f"| {name} | {wall:.2f} | {vs_first} | {wall / median[DIRECT]:.2f}x "
            f"| {peaks[name]:.0f} |"
        )
    if DIARIZED in median:
        print(
            "\nA first run against WhisperX + pyannote called directly (the same ASR and "
            "diarization, no word times, no cues): "
            f"{median[FIRST_EMBEDDED] / median[DIARIZED]:.2f}x embedded, "
            f"{median[FIRST_SERVER] / median[DIARIZED]:.2f}x on a server"
        )


if __name__ == "__main__":
    main()
