"""The optimizer against real job history: time estimates, confidence, recommendations.

    .venv/bin/python benchmarks/optimizer_bench.py [--jobs 60] [--json]

Real jobs (WhisperX tiny.en, in one process on Prefect's ephemeral server) on generated
espeak-ng speech of varied length (10-150 s), speaking rate (120-210 wpm) and background (none,
or pink noise 20, 10, 5 or 0 dB under the speech), with varied settings (beam 1 or 5, batch 4 or
16, denoising off or on), build the job history. 30% of the jobs are held out; the optimizer
trains on the rest and is scored on them, side by side with the naive baseline (median seconds
per audio second x duration):

* time: MAPE of the predicted wall time of each held-out job, learned and naive;
* quality: Spearman correlation of predicted and actual mean ASR confidence;
* recommendations: each noisy held-out job is run again (no cache) with the fixed defaults and
  with the settings the optimizer recommends; a recommendation wins when it reaches the quality
  target (ML_QUALITY_TARGET) at no more ASR time than the defaults (5% timing tolerance), or
  reaches it where the defaults do not;
* reuse jobs: with the trained models live in the cache, cuts of the longest held-out media (a
  stretch of 10-20% taken out, through AAC) run as jobs that reuse their original's transcript;
  each job's first estimate (made before anything is decoded) and its refined one (made once
  the similarity search has said what the original lends) against its wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cli import PREFECT_DEFAULTS, configure_logging
from jobs import JobRequest, JobResult, prepare, run_here
from optimizer import MLOptimizer, OptimizerPolicy, similar_jobs, with_history
from pipeline import candidates, load_settings, optimizer_for
from records import JobRecord, Transcript
from testkit import ffmpeg, wer

WORDS = [
    "river",
    "village",
    "station",
    "teacher",
    "market",
    "doctor",
    "letter",
    "morning",
    "evening",
    "train",
    "rain",
    "children",
    "mother",
    "father",
    "garden",
    "temple",
    "school",
    "road",
    "window",
    "house",
    "lamp",
    "story",
    "song",
    "friend",
    "brother",
    "sister",
    "money",
    "price",
    "rice",
    "tea",
    "field",
    "city",
    "bridge",
    "boat",
    "night",
    "moon",
    "clock",
    "door",
]
VERBS = "sees finds carries opens remembers sells brings watches hears loses".split()  # noqa: SIM905
DEFAULTS = {"whisper_beam_size": 5, "whisper_batch_size": 8, "asr_denoise": False}


@dataclass(frozen=True)
class Media:
    path: Path
    text: str
    seconds: float
    snr_db: float | None


def sentence(rng: random.Random) -> str:
    a, b = rng.sample(WORDS, 2)
    s = f"The {a} {rng.choice(VERBS)} the {b} near the {rng.choice(WORDS)}."
    return s[0].upper() + s[1:]


def make_media(folder: Path, n: int, rng: random.Random) -> Media:
    """Speech of ``n`` sentences at a random rate, with pink noise at a random SNR or none."""
    text = " ".join(sentence(rng) for _ in range(n))
    dry, wav = folder / "dry.wav", folder / "media.wav"
    rate = rng.choice([120, 150, 180, 210])
    subprocess.run(["espeak-ng", "-s", str(rate), "-w", str(dry), text], check=True)
    snr = rng.choice([None, 20.0, 10.0, 5.0, 0.0])
    if snr is None:
        ffmpeg("-i", str(dry), "-ac", "1", "-ar", "16000", str(wav))
    else:
        # espeak speaks at about -12 dBFS RMS; the noise goes ``snr`` dB under that.
        amplitude = 10 ** ((-12 - snr) / 20)
        ffmpeg(
            "-i", str(dry),
            "-filter_complex",
            f"anoisesrc=color=pink:amplitude={amplitude:.4f}:r=22050:"
            f"seed={rng.randrange(1 << 30)}[n];[0][n]amix=inputs=2:duration=first:normalize=0",
            "-ac", "1", "-ar", "16000", str(wav),
        )  # fmt: skip
    seconds = float(
        subprocess.check_output(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", wav]
        )
    )
    return Media(wav, text, seconds, snr)


def run_job(
    media: Media, base: dict[str, Any], settings: dict[str, Any], no_cache: bool = False
) -> tuple[JobResult, float, float]:
    """One real job in this process: its result, the WER of what it heard and its mean ASR
    confidence (read before the next job overwrites its outputs). Settings go through the
    environment, where the flow reads them too."""
    # Imported here: Prefect reads its settings once, when imported, and main() sets them.
    from flows.subtitle_job import run_prepared

    os.environ.update({k.upper(): str(v) for k, v in {**base, **settings}.items()})
    request = JobRequest(media.path, out=media.path.parent / "out", no_cache=no_cache)
    result = run_here(request, load_settings(), run_prepared)
    heard = Transcript.from_dict(json.loads(Path(result.outputs["json"]).read_text()))
    return result, wer(media.text, heard.text), heard.mean_confidence or 0.0


def naive_seconds(train: list[JobRecord], r: JobRecord) -> float:
    rate = statistics.median(t.outcome.wall_seconds / t.features.duration_seconds for t in train)
    return rate * r.features.duration_seconds


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def asr_seconds(result: JobResult) -> float:
    return result.stages["asr"].seconds


def collect(work: Path, base: dict[str, Any], jobs: int) -> dict[str, Media]:
    """Run ``jobs`` real jobs with varied media and settings; their media by job id."""
    rng = random.Random(5)
    by_id: dict[str, Media] = {}
    for i in range(jobs):
        folder = work / f"job{i:02d}"
        folder.mkdir()
        media = make_media(folder, rng.randint(3, 30), rng)
        chosen = {
            "whisper_beam_size": rng.choice([1, 5]),
            "whisper_batch_size": rng.choice([4, 16]),
            "asr_denoise": rng.random() < 0.4,
        }
        result, error, _ = run_job(media, base, chosen)
        by_id[result.job_id] = media
        print(
            f"job {i + 1}/{jobs}: {media.seconds:.0f} s audio, snr {media.snr_db}, {chosen}: "
            f"{result.wall_seconds:.1f} s, WER {error:.2f}",
            file=sys.stderr,
        )
    return by_id


def score_time(
    opt: MLOptimizer, train: list[JobRecord], held: list[JobRecord]
) -> tuple[float, float, float]:
    """Held-out wall-time MAPE, learned and naive, and the confidence Spearman."""
    learned, naive, predicted, actual = [], [], [], []
    for r in held:
        p = opt.predict(with_history(r.features, similar_jobs(train)))
        wall = r.outcome.wall_seconds
        learned.append(abs((p.seconds or 0.0) - wall) / wall)
        naive.append(abs(naive_seconds(train, r) - wall) / wall)
        if p.expected_confidence is not None and r.outcome.asr_confidence is not None:
            predicted.append(p.expected_confidence)
            actual.append(r.outcome.asr_confidence)
    return statistics.mean(learned), statistics.mean(naive), spearman(predicted, actual)


def score_recommendations(
    opt: MLOptimizer,
    plan: Any,
    base: dict[str, Any],
    train: list[JobRecord],
    held: list[tuple[JobRecord, Media]],
    target: float,
) -> list[dict[str, Any]]:
    """Each noisy held-out job run with the defaults and with the recommendation."""
    rows = []
    for r, media in held:
        # What a job knows before its ASR: no speech rate, no code mixing yet.
        before = dataclasses.replace(r.features, speech_rate_wpm=None, code_mixing=None)
        described = with_history(before, similar_jobs(train))
        advice = opt.recommend(described, [c for c, _ in candidates(plan)])
        rec = (
            {
                "whisper_beam_size": advice.candidate.beam_size,
                "whisper_batch_size": advice.candidate.batch_size,
                "asr_denoise": advice.candidate.denoise,
            }
            if advice
            else DEFAULTS
        )
        default, wer_default, conf_default = run_job(media, base, DEFAULTS, no_cache=True)
        chosen, wer_chosen, conf_chosen = (
            run_job(media, base, rec, no_cache=True)
            if advice
            else (default, wer_default, conf_default)
        )
        meets = conf_chosen >= target
        cheaper = asr_seconds(chosen) <= asr_seconds(default) * 1.05
        rows.append(
            {
                "snr_db": media.snr_db,
                "seconds": round(media.seconds, 1),
                "recommended": rec if advice else "defaults",
                "asr_s_default": round(asr_seconds(default), 2),
                "asr_s_recommended": round(asr_seconds(chosen), 2),
                "confidence_default": round(conf_default, 3),
                "confidence_recommended": round(conf_chosen, 3),
                "wer_default": round(wer_default, 3),
                "wer_recommended": round(wer_chosen, 3),
                "win": (meets and cheaper) or (meets and conf_default < target),
            }
        )
        print(f"  recommendation: {rows[-1]}", file=sys.stderr)
    return rows


def cut_of(media: Media, rng: random.Random) -> Media:
    """The media with a stretch of 10-20% of it taken out of its middle, through AAC: a cut
    sharing the rest with a film the cache has heard."""
    gone = media.seconds * rng.uniform(0.1, 0.2)
    start = media.seconds * rng.uniform(0.3, 0.6)
    # Named as its film is (a cut's release keeps the title): a title that differs lowers
    # the spec's similarity below the band that reuses the transcript.
    out = media.path.parent / "cut" / media.path.with_suffix(".m4a").name
    out.parent.mkdir(exist_ok=True)
    ffmpeg(
        "-i", str(media.path),
        "-af", f"aselect='not(between(t,{start:.2f},{start + gone:.2f}))',asetpts=N/SR/TB",
        "-c:a", "aac", "-b:a", "128k", str(out),
    )  # fmt: skip
    return dataclasses.replace(media, path=out, seconds=media.seconds - gone)


def score_reuse(base: dict[str, Any], media: list[Media]) -> list[dict[str, Any]]:
    """Each cut as a job of its own under the live models: its estimates and its wall time."""
    rng = random.Random(17)
    rows = []
    for original in media:
        result, _, _ = run_job(cut_of(original, rng), base, {})
        asr = result.stages["asr"].asr
        rows.append(
            {
                "seconds": round(original.seconds, 1),
                "reused_seconds": round(asr.reused_seconds if asr else 0.0, 1),
                "estimate": result.estimate_seconds,
                "refined": result.refined_estimate_seconds,
                "wall": round(result.wall_seconds, 2),
            }
        )
        print(f"  reuse: {rows[-1]}", file=sys.stderr)
    return rows


def off(estimate: float | None, actual: float) -> str:
    return f"{estimate / actual - 1:+.0%}" if estimate else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--jobs", type=int, default=60, help="jobs in the history (>= 30)")
    ap.add_argument("--reuse-jobs", type=int, default=6, help="cuts of held-out media to run")
    ap.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = ap.parse_args()
    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="cpwx-optimizer-"))
    os.environ.update(
        {
            "PREFECT_HOME": str(work / "prefect-home"),
            "CPWX_CONFIG": str(work / "none.env"),
            "LOCAL_PREFECT_SERVER": "",
        }
    )
    os.environ.pop("PREFECT_API_URL", None)
    base = {
        "cache_dir": work / "cache",
        "ml_learning_from_history": "false",  # trained once, below, on the 70%
        "ml_model_selection": "fixed",
    }
    for name, value in PREFECT_DEFAULTS.items():  # what `cpwx` sets up for its process
        os.environ.setdefault(name, value)
    configure_logging(debug=False)
    try:
        by_id = collect(work, base, args.jobs)
        settings = load_settings()
        plan = prepare(JobRequest(next(iter(by_id.values())).path), settings)
        history = plan.cache.history.jobs()
        order = random.Random(11).sample(history, len(history))
        held = order[: round(0.3 * len(order))]
        train = order[len(held) :]
        target = settings.ml_quality_target
        policy = OptimizerPolicy(5, settings.ml_confidence_threshold, target)
        opt = MLOptimizer(work / "models", policy)
        trained = opt.train(train)
        learned, naive, rho = score_time(opt, train, held)
        noisy = [(r, by_id[r.job_id]) for r in held if (by_id[r.job_id].snr_db or 99) <= 10]
        rows = score_recommendations(opt, plan, base, train, noisy, target)
        # The models live for the reuse jobs, trained on the same 70%.
        optimizer_for(settings, plan.cache.root).train(train)
        longest = sorted((by_id[r.job_id] for r in held), key=lambda m: -m.seconds)
        reuse = score_reuse(base, longest[: args.reuse_jobs])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\n{len(history)} real jobs ({platform.machine()}, {os.cpu_count()} cores, tiny.en int8 "
        f"CPU), {len(held)} held out; models {trained.model_bytes / 1024:.0f} KiB; whole "
        f"benchmark {time.perf_counter() - began:.0f} s\n"
    )
    print("| measure (held-out jobs) | learned | naive baseline |\n|---|---:|---:|")
    print(f"| wall time MAPE | {learned:.1%} | {naive:.1%} |")
    print(f"| confidence Spearman | {rho:.2f} | - |")
    wins = sum(r["win"] for r in rows)
    print(
        f"\nRecommendations on {len(rows)} noisy held-out jobs (target confidence {target:.2f}): "
        f"{wins} of {len(rows)} meet it at no more ASR time than the defaults\n"
    )
    print(
        "| SNR dB | audio s | recommended | ASR s default / rec | confidence default / rec "
        "| WER default / rec | win |\n|---:|---:|---|---:|---:|---:|---|"
    )
    for row in rows:
        print(
            f"| {row['snr_db']:g} | {row['seconds']:.0f} | {row['recommended']} "
            f"| {row['asr_s_default']:.2f} / {row['asr_s_recommended']:.2f} "
            f"| {row['confidence_default']:.3f} / {row['confidence_recommended']:.3f} "
            f"| {row['wer_default']:.3f} / {row['wer_recommended']:.3f} | {row['win']} |"
        )
    first = [abs(r["estimate"] / r["wall"] - 1) for r in reuse if r["estimate"]]
    refined = [abs(r["refined"] / r["wall"] - 1) for r in reuse if r["refined"]]
    print(
        f"\nReuse jobs: cuts of the {len(reuse)} longest held-out media, the trained models live; "
        f"mean error of the first estimate {statistics.mean(first) if first else 0:.0%}, of the "
        f"refined one {statistics.mean(refined) if refined else 0:.0%}\n"
    )
    print(
        "| original s | reused s | first estimate s | refined s | wall s | first off by "
        "| refined off by |\n|---:|---:|---:|---:|---:|---:|---:|"
    )
    for r in reuse:
        print(
            f"| {r['seconds']:.0f} | {r['reused_seconds']:.0f} | {r['estimate'] or 0:.1f} "
            f"| {r['refined'] or 0:.1f} | {r['wall']:.1f} | {off(r['estimate'], r['wall'])} "
            f"| {off(r['refined'], r['wall'])} |"
        )
    if args.json:
        summary = {"time_mape": learned, "naive_mape": naive, "spearman": rho}
        print(
            json.dumps(
                {**summary, "train": trained.to_json(), "recommendations": rows, "reuse": reuse}
            )
        )


if __name__ == "__main__":
    main()
