"""Other cuts of a transcribed film: alignment accuracy, ASR reuse, wall time and WER, side by side.

    .venv/bin/python benchmarks/cuts_bench.py [--minutes 10] [--json]

A program of espeak-ng scenes (2-3 sentences each, 1 s pauses between scenes) over pink noise
20 dB under the speech is transcribed once (``cpwx run``). Each cut of it (re-encoded, scenes
removed, inserted, a mix with a reorder, 12 small cuts, PAL speed-up, tempo only, noisier) is
then measured three ways in the same run:

* alignment: raw Chromaprint of the cut against the original's (``best_alignment``), scored
  against where every piece truly came from: recall and precision of shared audio (sampled
  every 50 ms, right when mapped within 0.5 s; pauses an edit falls in are not scored) and the
  worst distance from an edit to the nearest span edge;
* ``cpwx run CUT`` with a copy of a cache holding only the original's run: reused and
  transcribed seconds, wall time, WER against the cut's spoken text;
* ``cpwx run CUT`` with an empty cache: wall time and WER.

Small cuts remove one whole sentence from inside a scene (sentences are 0.25 s apart), so the
spoken text of the cut stays exact. Scale rows: ``align`` of two synthetic 2-hour fingerprints,
and ``find_similar_jobs`` among 1,000 stored films.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from cache_manager import CacheManager
from cuts import ITEM_SECONDS, SPEEDS, Alignment, align, best_alignment
from records import AudioFingerprint, NoiseProfile
from testkit import (
    PAL,
    SR,
    Pcm,
    Score,
    bench_env,
    chromaprint_at,
    decode_pcm,
    ffmpeg,
    flip_bits,
    read_pcm,
    running_prefect_server,
    wer,
    with_noise,
    write_pcm,
)
from testkit import score as score_alignment

VENV = Path(sys.executable).parent
SCENE_GAP = 1.0  # seconds of background between scenes
SENTENCE_GAP = 0.25  # between the sentences of a scene
Truth = tuple[tuple[float, float, float | None], ...]  # new start, new end, old start or None

PEOPLE = [
    "the old fisherman", "the young doctor", "the station master", "the village teacher",
    "the police inspector", "the tea seller", "the temple priest", "the bus driver",
    "the widow next door", "the headmaster", "the tailor's son", "the captain",
    "the postman", "the bride's uncle", "the school girl", "the night watchman",
]  # fmt: skip
ACTIONS = [
    "waits for", "argues about", "searches for", "remembers", "forgets", "carries",
    "hides", "finds", "sells", "mends", "counts", "paints", "repairs", "borrows",
]  # fmt: skip
THINGS = [
    "a yellow letter", "the broken bicycle", "a basket of mangoes", "the family field",
    "an old brass lamp", "the missing boat", "a bag of coins", "the wedding photographs",
    "a map of the coast", "the last train ticket", "a box of medicine", "the silver key",
    "a bundle of firewood", "the red umbrella", "a jar of honey", "the cinema poster",
]  # fmt: skip
PLACES = [
    "near the river", "in the crowded market", "behind the temple", "at the railway station",
    "on the dusty road", "under the banyan tree", "in the smoky kitchen", "by the well",
    "on the beach", "at the school gate", "in the rain", "before sunrise", "after midnight",
]  # fmt: skip
AFTER = [
    "Nobody says a word.", "The dogs bark at every shadow.", "A train whistles far away.",
    "The children laugh and run into the fields.", "The rain stops at last.",
    "Somebody knocks twice on the door.", "The lamp flickers and goes out.",
    "Everyone pretends not to notice.", "The clock on the wall has stopped.",
]  # fmt: skip


def sentences(rng: random.Random, n: int, seen: set[str]) -> list[str]:
    """``n`` distinct sentences not in ``seen`` (which they join)."""
    out: list[str] = []
    while len(out) < n:
        s = f"{rng.choice(PEOPLE)} {rng.choice(ACTIONS)} {rng.choice(THINGS)} {rng.choice(PLACES)}."
        s = s[0].upper() + s[1:]
        if rng.random() < 0.3:
            s += " " + rng.choice(AFTER)
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


@dataclass(frozen=True)
class Program:
    """Scenes over noise; per scene its sentences' (start, end, text) and its span with gap."""

    dry: Pcm  # the speech alone: pauses are read from it
    pcm: Pcm  # with the background noise
    sentences: tuple[tuple[tuple[float, float, str], ...], ...]
    scenes: tuple[tuple[float, float], ...]


def program(texts: Sequence[Sequence[str]], folder: Path, seed: int) -> Program:
    folder.mkdir(parents=True)
    parts: list[Pcm] = []
    sents, scenes, pos = [], [], 0
    voices = ["en-us", "en", "en-us+m3", "en+f3"]
    for n, scene in enumerate(texts):
        start, these = pos, []
        for k, text in enumerate(scene):
            raw = folder / f"s{n}_{k}.raw.wav"
            voice, speed = voices[n % len(voices)], 145 + 10 * (n % 3)
            subprocess.run(
                ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(raw), text], check=True
            )
            speech = read_pcm(decode_pcm(raw, folder / f"s{n}_{k}.wav"))
            gap = SCENE_GAP if k == len(scene) - 1 else SENTENCE_GAP
            these.append((pos / SR, (pos + len(speech)) / SR, text))
            parts += [speech, np.zeros(round(gap * SR), np.int16)]
            pos += len(speech) + round(gap * SR)
        sents.append(tuple(these))
        scenes.append((start / SR, pos / SR))
    dry = np.concatenate(parts)
    noise_wav = folder / "noise.wav"
    ffmpeg(
        *("-f", "lavfi", "-i", f"anoisesrc=c=pink:a=0.5:r={SR}:s={seed}"),
        *("-t", f"{len(dry) / SR + 1:.3f}", "-ac", "1", "-c:a", "pcm_s16le", str(noise_wav)),
    )
    noise = read_pcm(noise_wav)[: len(dry)].astype(np.float64)
    x = dry.astype(np.float64)
    speech_rms = np.sqrt(np.mean(x[np.abs(x) > 0.05 * np.abs(x).max()] ** 2))
    noise *= speech_rms / 10 ** (20 / 20) / np.sqrt(np.mean(noise**2))
    pcm = np.clip(x + noise, -32768, 32767).astype(np.int16)
    return Program(dry, pcm, tuple(sents), tuple(scenes))


Piece = tuple[Program, float, float, str]  # source, start, end (seconds there), spoken text


@dataclass(frozen=True)
class Cut:
    name: str
    dry: Pcm
    pcm: Pcm
    text: str
    truth: Truth  # seconds, before any speed change
    filters: tuple[str, ...] = ()
    speed: float = 1.0  # old seconds per new second
    snr_db: float | None = None


def assemble(name: str, film: Program, pieces: Sequence[Piece], **kw: Any) -> Cut:
    dry, pcm, truth, texts, pos = [], [], [], [], 0
    for src, a, b, text in pieces:
        lo, hi = round(a * SR), round(b * SR)
        dry.append(src.dry[lo:hi])
        pcm.append(src.pcm[lo:hi])
        truth.append((pos / SR, (pos + hi - lo) / SR, a if src is film else None))
        texts.append(text)
        pos += hi - lo
    return Cut(name, np.concatenate(dry), np.concatenate(pcm), " ".join(texts), tuple(truth), **kw)


def scenes(prog: Program, order: Sequence[int]) -> list[Piece]:
    return [(prog, *prog.scenes[i], " ".join(t for *_, t in prog.sentences[i])) for i in order]


def small_cuts(film: Program, count: int = 12) -> list[Piece]:
    """``count`` scenes spread over the film each lose their middle sentence (a few seconds)."""
    three = [i for i, s in enumerate(film.sentences) if len(s) == 3]
    chosen = set(three[:: max(1, len(three) // count)][:count])
    pieces: list[Piece] = []
    for i, (a, b) in enumerate(film.scenes):
        s = film.sentences[i]
        if i in chosen:
            pieces.append((film, a, s[1][0], s[0][2]))
            pieces.append((film, s[2][0], b, s[2][2]))
        else:
            pieces.append((film, a, b, " ".join(t for *_, t in s)))
    return pieces


def make_cuts(film: Program, inserts: Program) -> list[Cut]:
    n = len(film.scenes)
    every = list(range(n))
    gone = {n // 4, n // 2, 3 * n // 4}
    kept = [i for i in every if i not in gone]
    ins = [*scenes(film, every[: n // 3]), *scenes(inserts, [0]), *scenes(film, every[n // 3 :])]
    ins[2 * n // 3 + 1 : 2 * n // 3 + 1] = scenes(inserts, [1])
    mixed_order = [i for i in every if i not in {n // 5, 3 * n // 5}]
    a, b = n // 3, n // 3 + 3
    mixed_order[a:b] = mixed_order[b - 1 : a - 1 : -1]  # three scenes played in reverse order
    mixed = scenes(film, mixed_order)
    mixed[n // 2 : n // 2] = scenes(inserts, [2])
    small = small_cuts(film)
    return [
        assemble("re-encoded AAC 96k", film, scenes(film, every), filters=("aac",)),
        assemble("3 scenes removed", film, scenes(film, kept)),
        assemble("2 new scenes inserted", film, ins),
        assemble("mixed: 2 removed, 1 inserted, 3 reordered", film, mixed),
        assemble(
            f"{len(small) - n} small cuts (a sentence each)",
            film,
            small,
        ),
        assemble(
            "PAL speed-up (asetrate)",
            film,
            scenes(film, every),
            filters=("-af", f"asetrate={SR}*25/23.976,aresample={SR}"),
            speed=PAL,
        ),
        assemble(
            "tempo only (atempo 1.0427)",
            film,
            scenes(film, every),
            filters=("-af", f"atempo={PAL:.4f}"),
            speed=PAL,
        ),
        assemble("added white noise, 10 dB SNR", film, scenes(film, every), snr_db=10.0),
    ]


def render(cut: Cut, folder: Path) -> Path:
    """The cut as a 16 kHz mono WAV, through AAC or an ffmpeg filter where it says so."""
    pcm = with_noise(cut.pcm, cut.snr_db) if cut.snr_db is not None else cut.pcm
    slug = "".join(c if c.isalnum() else "_" for c in cut.name)[:40]
    wav = write_pcm(folder / f"{slug}.src.wav", pcm)
    out = folder / f"{slug}.wav"
    if cut.filters == ("aac",):
        m4a = folder / f"{slug}.m4a"
        ffmpeg("-i", str(wav), "-c:a", "aac", "-b:a", "96k", str(m4a))
        return decode_pcm(m4a, out)
    if cut.filters:
        return decode_pcm(wav, out, *cut.filters)
    wav.rename(out)
    return out


# --- alignment scoring (the ideas of tests/cuts/test_align.py) ------------------------------


def score(al: Alignment, cut: Cut) -> Score:
    """``al`` against the cut's ground truth; pauses are read from its dry speech, which plays
    ``cut.speed`` times slower than the cut itself."""
    truth = [(a / cut.speed, b / cut.speed, old) for a, b, old in cut.truth]
    return score_alignment(al, truth, cut.speed, cut.dry, pcm_speed=cut.speed)


def alignment(wav: Path, old: npt.NDArray[np.uint32]) -> Alignment:
    """As a job aligns: blind to the speed, every usual release speed tried."""
    return best_alignment({SR / round(SR / s): chromaprint_at(wav, s) for s in (1.0, *SPEEDS)}, old)


def shared(cut: Cut) -> float:
    """The share of the cut's audio that comes from the film."""
    return sum(b - a for a, b, old in cut.truth if old is not None) / cut.truth[-1][1]


# --- cpwx runs ------------------------------------------------------------------------------


def cpwx(wav: Path, cache: Path, base: dict[str, str], out: Path) -> dict[str, Any]:
    """One ``cpwx run --json``: its report, wall seconds and heard text added."""
    cmd = [str(VENV / "cpwx"), "run", str(wav), "--json", "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.run(
        cmd, env={**base, "CACHE_DIR": str(cache)}, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed: {proc.stderr[-3000:]}")
    report: dict[str, Any] = json.loads(proc.stdout)
    heard = json.loads(Path(report["outputs"]["json"]).read_text())
    report["_wall"] = wall
    report["_text"] = " ".join(s["text"] for s in heard["segments"])
    return report


# --- scale ----------------------------------------------------------------------------------


def recut(old: npt.NDArray[np.uint32], rng: np.random.Generator, rate: float) -> Any:
    """Old items with 6 blocks removed, 6 random blocks inserted, ``rate`` of bits flipped."""
    n = len(old)
    cuts = np.sort(rng.choice(np.arange(100, n - 100), 12, replace=False))
    chunks = list(itertools.pairwise([0, *cuts.tolist(), n]))
    parts = []
    for i, (a, b) in enumerate(chunks):
        if i % 2 == 1:
            parts.append(rng.integers(0, 2**32, int(rng.integers(60, 400)), dtype=np.uint32))
        else:
            parts.append(old[a:b])
    return flip_bits(np.concatenate(parts), rate, rng)


def synthetic(audio_hash: str, fp: npt.NDArray[np.uint32]) -> AudioFingerprint:
    return AudioFingerprint(
        audio_hash=audio_hash,
        duration=round(len(fp) * ITEM_SECONDS, 3),
        sample_rate=SR,
        channels=1,
        noise_profile=NoiseProfile(30.0, -60.0, "low"),
        chromaprint=tuple(fp.tolist()),
        source_file=f"/films/{audio_hash[:8]}.mkv",
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    )


def build_store(root: Path, films: int, minutes: float, budget: float) -> tuple[Any, ...] | None:
    """``films`` synthetic films stored and indexed; None if it would take over ``budget`` s."""
    shutil.rmtree(root, ignore_errors=True)
    cache = CacheManager(cache_dir=root)
    rng = np.random.default_rng(12)
    items = round(minutes * 60 / ITEM_SECONDS)
    start = time.perf_counter()
    target = None
    for n in range(films):
        fp = rng.integers(0, 2**32, items, dtype=np.uint32)
        record = synthetic(f"{n:064x}", fp)
        cache.set_fingerprint(record)
        cache.cuts.index(record)
        if n == films // 2:
            target = fp
        if n == 19 and (time.perf_counter() - start) * films / 20 > budget:
            return None
    assert target is not None
    return cache, target, time.perf_counter() - start


def scale_rows(work: Path, films: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(7)
    old = rng.integers(0, 2**32, round(7200 / ITEM_SECONDS), dtype=np.uint32)
    new = recut(old, rng, 0.06)
    start = time.process_time()
    al = align(new, old)
    cpu = time.process_time() - start
    rows = [
        (
            f"align, 2 h vs 2 h synthetic ({len(new):,} vs {len(old):,} items, 6 blocks out, "
            f"6 in, 6% bits flipped)",
            f"{cpu:.2f} CPU s, shared {al.shared_ratio:.1%}, {len(al.spans)} spans",
        )
    ]
    # A job does not know the speed: 3 fingerprints aligned as they are, 2 warped (the
    # other-speed prints here are re-noised copies, which cost what real ones do).
    prints = {1.0: new, **{s: recut(old, rng, 0.06) for s in SPEEDS}}
    start = time.process_time()
    best = best_alignment(prints, old)
    rows.append(
        (
            "best_alignment as a job runs it, 2 h vs 2 h (speeds 1.0 and both PAL ways: "
            "5 alignments)",
            f"{time.process_time() - start:.2f} CPU s, shared {best.shared_ratio:.1%}",
        )
    )
    minutes = 120.0
    built = build_store(work / "store", films, minutes, budget=180.0)
    if built is None:
        minutes = 20.0
        built = build_store(work / "store", films, minutes, budget=1e9)
    assert built is not None
    cache, target, build_s = built
    probe = synthetic("f" * 64, recut(target, rng, 0.04))
    cache.set_fingerprint(probe)
    times, found = [], []
    for _ in range(5):
        start = time.perf_counter()
        found = cache.find_similar_jobs(probe.audio_hash)
        times.append(time.perf_counter() - start)
    best = found[0] if found else None
    hit = best is not None and best.audio_hash == f"{films // 2:064x}"
    note = "" if minutes == 120 else " (2 h films would take > 3 min to build: 20 min films)"
    rows.append(
        (
            f"find_similar_jobs among {films:,} stored films of {minutes:g} min{note}",
            f"p50 {statistics.median(times):.3f} s wall (of 5), right film first: {hit}; "
            f"store built in {build_s:.0f} s",
        )
    )
    return rows


def measure(
    cut: Cut, work: Path, old: npt.NDArray[np.uint32], seeded: Path, base: dict[str, str]
) -> dict[str, Any]:
    """One cut: its alignment scored, then a job with the original's cache and one without."""
    wav = render(cut, work)
    found = score(alignment(wav, old), cut)
    cache, fresh_cache = work / "cache-copy", work / "cache-empty"
    for folder in (cache, fresh_cache):
        shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(seeded, cache)
    reuse = cpwx(wav, cache, base, work / "out")
    fresh = cpwx(wav, fresh_cache, base, work / "out")
    asr = reuse["stages"]["asr"]
    return {
        "cut": cut.name,
        "seconds": round(len(read_pcm(wav)) / SR, 1),
        "shared": round(shared(cut), 3),
        "speed": (asr.get("similar") or {}).get("speed"),
        "recall": found.recall,
        "precision": found.precision,
        "edge_error_s": found.boundary_error,
        "reused_s": asr.get("reused_seconds") or 0.0,
        "transcribed_s": asr.get("transcribed_seconds") or 0.0,
        "band": (asr.get("similar") or {}).get("band"),
        "wall_reuse_s": reuse["_wall"],
        "wall_fresh_s": fresh["_wall"],
        "wer_reuse": wer(cut.text, reuse["_text"]),
        "wer_fresh": wer(cut.text, fresh["_text"]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10.0, help="length of the program")
    ap.add_argument("--films", type=int, default=1000, help="stored films for the lookup row")
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    ap.add_argument(
        "--server",
        action="store_true",
        help="run every job through one Prefect server (as `cpwx serve` users do) instead of "
        "each process's own ephemeral server",
    )
    args = ap.parse_args()
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cpwx-cuts-"))
    base = bench_env(work)
    server = contextlib.ExitStack()
    if args.server:
        (work / "server").mkdir()
        base["PREFECT_API_URL"] = server.enter_context(running_prefect_server(work / "server"))
    try:
        rng = random.Random(3)
        seen: set[str] = set()
        n_scenes = max(8, round(args.minutes * 60 / 13))  # a scene runs ~13 s
        texts = [sentences(rng, 2 + (i % 3 != 0), seen) for i in range(n_scenes)]
        film = program(texts, work / "film", seed=1)
        inserts = program([sentences(rng, 3, seen) for _ in range(3)], work / "ins", seed=5)
        scale = scale_rows(work, args.films)
        print(f"scale rows: {scale}", file=sys.stderr)
        film_wav = write_pcm(work / "film.wav", film.pcm)
        old = chromaprint_at(film_wav)
        length = len(film.pcm) / SR
        print(f"program: {n_scenes} scenes, {length / 60:.2f} min", file=sys.stderr)
        seeded = work / "cache-original"
        first = cpwx(film_wav, seeded, base, work / "out")
        print(f"original: {first['_wall']:.1f} s", file=sys.stderr)
        rows: list[dict[str, Any]] = []
        for cut in make_cuts(film, inserts):
            rows.append(measure(cut, work, old, seeded, base))
            print(f"  {cut.name}: {json.dumps(rows[-1])}", file=sys.stderr)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)

    mode = "one Prefect server" if args.server else "an ephemeral Prefect server per job"
    total = time.perf_counter() - began
    report(rows, scale, first["_wall"], n_scenes, length, total, mode, args.json)


def report(
    rows: list[dict[str, Any]],
    scale: list[tuple[str, str]],
    first_wall: float,
    n_scenes: int,
    length: float,
    total: float,
    mode: str,
    as_json: bool,
) -> None:
    print(
        f"\nOther cuts of a {length / 60:.1f} min program ({n_scenes} espeak-ng scenes over pink "
        f"noise 20 dB down); first run {first_wall:.1f} s wall; {platform.machine()}, "
        f"{os.cpu_count()} cores, tiny.en int8 CPU, jobs through {mode}; whole benchmark "
        f"{total:.0f} s\n"
    )
    print(
        "| cut | shared | recall | precision | edge error s | speed found | reused s "
        "| transcribed s | wall reuse / wall fresh | WER reuse | WER fresh | WER delta |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['cut']} | {r['shared']:.0%} | {r['recall']:.4f} | {r['precision']:.4f} "
            f"| {r['edge_error_s']:.2f} | {r['speed'] or 0:.4f} "
            f"| {r['reused_s']:.1f} | {r['transcribed_s']:.1f} "
            f"| {r['wall_reuse_s']:.1f} / {r['wall_fresh_s']:.1f} "
            f"({r['wall_reuse_s'] / r['wall_fresh_s']:.0%}) | {r['wer_reuse']:.3f} "
            f"| {r['wer_fresh']:.3f} | {r['wer_reuse'] - r['wer_fresh']:+.3f} |"
        )
    mostly = [r for r in rows if r["shared"] >= 0.9]
    if mostly:
        worst = max(mostly, key=lambda r: r["wall_reuse_s"] / r["wall_fresh_s"])
        drift = max(r["wer_reuse"] - r["wer_fresh"] for r in mostly)
        print(
            f"\nCuts sharing >= 90% of their audio: wall reuse / fresh at most "
            f"{worst['wall_reuse_s'] / worst['wall_fresh_s']:.2f} ({worst['cut']}); "
            f"WER reuse - fresh at most {drift:+.3f}"
        )
    print("\n| scale | result |\n|---|---|")
    for name, result in scale:
        print(f"| {name} | {result} |")
    if as_json:
        print(
            json.dumps(
                {
                    "rows": rows,
                    "scale": [dict(zip(("row", "result"), s, strict=True)) for s in scale],
                }
            )
        )


if __name__ == "__main__":
    main()
