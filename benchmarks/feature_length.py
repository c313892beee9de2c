"""A feature-length program end to end: first run, identical re-run, and a cut sharing 90%.

    .venv/bin/python benchmarks/feature_length.py [--minutes 60]

The program is ``cuts_bench.py``'s (espeak-ng scenes over pink noise), ``--minutes`` long. Its
cut drops every tenth scene and puts new scenes of the same length in their place (about 90% of
its audio shared), through AAC. Each row is its own ``cpwx run`` process on one cache (an
ephemeral Prefect server per job, as ``cpwx run`` does), timed from start to exit, with its peak
RSS, and where its seconds went: start (interpreter, imports, Prefect starting: the process's
wall less its job's) and each stage.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
from pathlib import Path

from cuts_bench import assemble, program, render, scenes, sentences

from testkit import SR, bench_env, timed_output, write_pcm

VENV = Path(sys.executable).parent
STAGES = ("demux", "fingerprint", "asr", "words", "diarization")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=60.0, help="length of the program")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-feature-"))
    base = bench_env(work)
    base["CACHE_DIR"] = str(work / "cache")
    try:
        rng = random.Random(11)
        seen: set[str] = set()
        n = max(10, round(args.minutes * 60 / 13))  # a scene runs ~13 s
        film = program([sentences(rng, 2 + (i % 3 != 0), seen) for i in range(n)], work / "f", 1)
        fresh = program(
            [sentences(rng, 2 + (i % 3 != 0), seen) for i in range(n // 10)], work / "n", 2
        )
        pieces = scenes(film, range(n))
        for k, i in enumerate(range(5, n, 10)[: n // 10]):  # every tenth scene replaced
            pieces[i] = scenes(fresh, [k])[0]
        cut = assemble("cut", film, pieces, filters=("aac",))
        film_wav, cut_wav = write_pcm(work / "film.wav", film.pcm), render(cut, work)
        cpwx = [str(VENV / "cpwx"), "run", "--json", "--out", str(work / "out")]
        rows = []
        for name, wav in (
            ("first run", film_wav),
            ("identical re-run", film_wav),
            ("cut sharing 90% (reuse)", cut_wav),
        ):
            wall, rss, out = timed_output([*cpwx, str(wav)], base)
            report = json.loads(out)
            stages = {s: report["stages"].get(s, {}).get("seconds") for s in STAGES}
            rows.append((name, wall, rss, wall - report["wall_seconds"], stages))
            print(f"  {name}: {wall:.1f} s, {rss:.0f} MB, {stages}", file=sys.stderr)
        shared = sum(b - a for a, b, old in cut.truth if old is not None) / cut.truth[-1][1]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nA {len(film.pcm) / SR / 60:.1f} min program ({n} espeak-ng scenes over pink noise); "
        f"its cut shares {shared:.0%}; {platform.machine()}, {os.cpu_count()} cores, tiny.en "
        f"int8 CPU, ENABLE_DIARIZATION={os.environ.get('ENABLE_DIARIZATION', '(default)')}\n"
    )
    print(f"| run | wall s | of the first run | peak RSS MB | start | {' | '.join(STAGES)} |")
    print("|---|" + "---:|" * (4 + len(STAGES)))
    for name, wall, rss, start, stages in rows:
        cells = " | ".join("-" if v is None else f"{v:.1f}" for v in stages.values())
        print(
            f"| {name} | {wall:.1f} | {wall / rows[0][1]:.1%} | {rss:.0f} | {start:.1f} | {cells} |"
        )


if __name__ == "__main__":
    main()
