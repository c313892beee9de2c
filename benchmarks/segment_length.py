"""How long a WhisperX segment should be: first-run cost and accuracy at each ASR_SEGMENT_SECONDS.

    .venv/bin/python benchmarks/segment_length.py [--minutes 10] [--seconds 10,20,30]

Each length is a ``cpwx run`` of the same clip (``rerun.py``'s) on an empty cache, as its own
process; WhisperX called directly (its own default, 30 s) runs beside them. Rows: wall, the
ASR and word-timing stages' seconds, segments, WER against the clip's script, and the cues:
how many, and the share breaking no rule of the style profile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit import bench_env, make_clip, script, timed, wer

VENV = Path(sys.executable).parent


def job(clip: Path, work: Path, seconds: int, base: dict[str, str]) -> dict[str, Any]:
    cache, out = work / f"cache-{seconds}", work / f"out-{seconds}"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**base, "CACHE_DIR": str(cache), "ASR_SEGMENT_SECONDS": str(seconds)}
    cmd = [str(VENV / "cpwx"), "run", str(clip), "--json", "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-3000:]}")
    report = json.loads(proc.stdout)
    heard = json.loads(Path(report["outputs"]["json"]).read_text())
    qc = report["subtitles"]["qc"]
    return {
        "row": f"cpwx first run, ASR_SEGMENT_SECONDS={seconds}",
        "wall": wall,
        "asr": report["stages"]["asr"]["seconds"],
        "words": report["stages"]["words"]["seconds"],
        "segments": len(heard["segments"]),
        "text": " ".join(s["text"] for s in heard["segments"]),
        "cues": qc["cues"],
        "passing": qc["passing_share"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seconds", default="10,20,30", help="segment lengths to compare")
    args = ap.parse_args()
    clip = make_clip(Path("out/bench") / f"speech-{args.minutes:g}min.mp4", args.minutes)
    spoken = script(args.minutes)
    work = Path(tempfile.mkdtemp(prefix="cpwx-segments-"))
    base = bench_env(work)
    try:
        direct = [str(VENV / "python"), str(Path(__file__).with_name("_whisperx_direct.py"))]
        direct_wall, _ = timed([*direct, str(clip)], base)
        rows = []
        for seconds in (int(s) for s in args.seconds.split(",")):
            rows.append(job(clip, work, seconds, base))
            print(f"  {rows[-1]['row']}: {rows[-1]['wall']:.1f} s", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nSegment length, {args.minutes:g} min clip ({clip.name}), {platform.machine()}, "
        f"{os.cpu_count()} cores, tiny.en int8 CPU, "
        f"ENABLE_DIARIZATION={os.environ.get('ENABLE_DIARIZATION', '(default)')}\n"
    )
    print(
        "| run | wall s | vs whisperx direct | asr s | words s | segments | WER | cues "
        "| cues breaking no rule |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| whisperx direct (load + transcribe, 30 s) | {direct_wall:.1f} | 1.00x "
        "| - | - | - | - | - | - |"
    )
    for r in rows:
        print(
            f"| {r['row']} | {r['wall']:.1f} | {r['wall'] / direct_wall:.2f}x | {r['asr']:.1f} "
            f"| {r['words']:.1f} | {r['segments']} | {wer(spoken, r['text']):.3f} | {r['cues']} "
            f"| {r['passing']:.1%} |"
        )


if __name__ == "__main__":
    main()
