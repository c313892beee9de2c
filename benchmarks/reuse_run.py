"""Where a reuse run's seconds go: a cut sharing most of a program's audio against a fresh run.

    .venv/bin/python benchmarks/reuse_run.py [--minutes 10] [--no-server]

The program is ``cuts_bench.py``'s (espeak-ng scenes over pink noise). Its cut loses two scenes
and gains one (about 95% of its audio shared) and goes through AAC. Each mode (an ephemeral
Prefect server per job, and one running Prefect server as under ``cpwx serve``) runs, each as
its own ``cpwx run`` process: the program (seeding that mode's cache), the cut on a copy of
that cache (reuse), and the cut on an empty cache (fresh). A row per run: process wall; start,
from the process's start to its flow run's (interpreter, imports, the store's fast-path check,
Prefect starting); each stage (``search``: the similarity search, inside ``asr``); and other,
the rest of the flow run (writing the subtitles, task runs, waiting for the model to load).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from cuts_bench import assemble, cpwx, program, render, scenes, sentences

from testkit import SR, bench_env, running_prefect_server, wer, write_pcm

VENV = Path(sys.executable).parent
STAGES = ("demux", "fingerprint", "asr", "words", "diarization", "glossary")


def breakdown(name: str, report: dict[str, Any], text: str) -> dict[str, Any]:
    stages = report["stages"]
    seconds = {s: stages[s]["seconds"] for s in STAGES if s in stages}
    similar = (stages.get("asr") or {}).get("similar") or {}
    return {
        "run": name,
        "wall": report["_wall"],
        "start": report["_wall"] - report["wall_seconds"],
        **seconds,
        "search": similar.get("search_seconds", 0.0),
        "other": report["wall_seconds"] - sum(seconds.values()),
        "reused_s": (stages.get("asr") or {}).get("reused_seconds") or 0.0,
        "job": report["wall_seconds"],
        "estimate": report.get("estimate_seconds"),
        "refined": report.get("refined_estimate_seconds"),
        "wer": wer(text, report["_text"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the program")
    ap.add_argument("--no-server", action="store_true", help="only the ephemeral-server mode")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cpwx-reuse-"))
    base = bench_env(work)
    rows: list[dict[str, Any]] = []
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, work, ignore_errors=True)
        rng = random.Random(3)
        seen: set[str] = set()
        n_scenes = max(8, round(args.minutes * 60 / 13))  # a scene runs ~13 s
        texts = [sentences(rng, 2 + (i % 3 != 0), seen) for i in range(n_scenes)]
        film = program(texts, work / "film", seed=1)
        inserts = program([sentences(rng, 3, seen)], work / "ins", seed=5)
        film_wav = write_pcm(work / "film.wav", film.pcm)
        every = list(range(n_scenes))
        kept = [i for i in every if i not in {n_scenes // 3, 2 * n_scenes // 3}]
        pieces = scenes(film, kept)
        pieces[len(kept) // 2 : len(kept) // 2] = scenes(inserts, [0])
        cut = assemble("cut", film, pieces, filters=("aac",))
        cut_wav = render(cut, work)
        modes = [("embedded", base)]
        if not args.no_server:
            (work / "server").mkdir()
            url = stack.enter_context(running_prefect_server(work / "server"))
            modes.append(("server", {**base, "PREFECT_API_URL": url}))
        for mode, env in modes:
            seeded, copy, empty = (work / f"{mode}-{c}" for c in ("seeded", "copy", "empty"))
            first = cpwx(film_wav, seeded, env, work / "out")
            spoken = " ".join(t for scene in film.sentences for *_, t in scene)
            rows.append(breakdown(f"{mode}: the program, first run", first, spoken))
            shutil.copytree(seeded, copy)
            reuse = cpwx(cut_wav, copy, env, work / "out")
            rows.append(breakdown(f"{mode}: the cut, reusing the program", reuse, cut.text))
            fresh = cpwx(cut_wav, empty, env, work / "out")
            rows.append(breakdown(f"{mode}: the cut, fresh (empty cache)", fresh, cut.text))
            rows[-2]["of_fresh"] = reuse["_wall"] / fresh["_wall"]
    shared = sum(b - a for a, b, old in cut.truth if old is not None) / cut.truth[-1][1]
    print(
        f"\nA {len(cut.pcm) / SR / 60:.1f} min cut sharing {shared:.0%} of a "
        f"{len(film.pcm) / SR / 60:.1f} min program; {platform.machine()}, {os.cpu_count()} "
        f"cores, tiny.en int8 CPU, ENABLE_DIARIZATION={os.environ.get('ENABLE_DIARIZATION', '')}\n"
    )
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    cols = ["wall", "start", *STAGES, "search", "other"]
    print("| run | " + " | ".join(cols) + " | reused s | WER | of fresh |")
    print("|---|" + "---:|" * (len(cols) + 3))
    for r in rows:
        cells = " | ".join(f"{r[c]:.1f}" if c in r else "-" for c in cols)
        ratio = f"{r['of_fresh']:.2f}x" if "of_fresh" in r else ""
        print(f"| {r['run']} | {cells} | {r['reused_s']:.0f} | {r['wer']:.3f} | {ratio} |")
    print("\nEstimates (the flow run's seconds; before any training, the naive baseline):\n")
    print("| run | first estimate | refined | actual | first off by | refined off by |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        est, ref, job = r["estimate"], r["refined"], r["job"]
        print(
            f"| {r['run']} | {_s(est)} | {_s(ref)} | {job:.1f} | {_off(est, job)} "
            f"| {_off(ref, job)} |"
        )


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def _off(estimate: float | None, actual: float) -> str:
    return "-" if estimate is None else f"{estimate / actual - 1:+.0%}"


if __name__ == "__main__":
    main()
