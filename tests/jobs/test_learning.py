"""The optimizer as a user meets it: trained from history, an estimate before each job that
lands in ``--json`` and in the history, ratings, reports, and a damaged model falling back."""

from __future__ import annotations

import random
from pathlib import Path

from cache_manager import CacheManager
from records import JobFeatures, JobOutcome, JobRecord
from testkit import REPO, faststart_copy, run_cli, tree_state

SAMPLE = REPO / "samples" / "demo.mp4"


def _seed_history(cache: Path, n: int = 14) -> None:
    """Jobs like the sample's: ASR at ~0.09 s per audio second, demux and fingerprint at 0.005."""
    store = CacheManager(cache)
    rng = random.Random(3)
    for i in range(n):
        duration = rng.uniform(20, 120)
        stages = {
            "demux": 0.005 * duration,
            "fingerprint": 0.005 * duration,
            "asr": 0.09 * duration * rng.uniform(0.95, 1.05),
        }
        features = JobFeatures(
            duration, 16000, rng.uniform(20, 60), 30.0, model="tiny.en", beam_size=5
        )
        outcome = JobOutcome(stages, sum(stages.values()) + 1.5, asr_confidence=0.7)
        store.history.record(
            JobRecord(f"seed{i}", f"2026-11-2{i % 5}T10:00:00Z", f"{i:064x}", features, outcome)
        )


def test_estimates_ratings_reports_and_a_damaged_model(
    tmp_path: Path, cli_env: dict[str, str]
) -> None:
    cache = Path(cli_env["CACHE_DIR"])
    _seed_history(cache)
    trained = run_cli("optimizer", "train", "--json", env=cli_env)
    assert trained.code == 0, trained.stderr
    assert (
        trained.json["samples"] == 14 and trained.json["time_mape"] < trained.json["baseline_mape"]
    )
    status = run_cli("optimizer", "status", "--json", env=cli_env)
    assert status.json["trained"] and status.json["history_jobs"] == 14
    predicted = run_cli("optimizer", "predict", str(SAMPLE), "--json", env=cli_env)
    assert predicted.code == 0, predicted.stderr
    assert predicted.json["estimate"]["seconds"] > 0
    # Media that probes but will not decode, after the estimate: the store is left as it was.
    whole = faststart_copy(SAMPLE, tmp_path / "whole.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    before = tree_state(cache)
    bad = run_cli("run", str(cut), env=cli_env)
    assert bad.code == 1 and "truncated" in bad.stderr
    assert tree_state(cache) == before

    spoken = str(SAMPLE.with_suffix(".txt"))
    job = run_cli("run", str(SAMPLE), "--json", "--reference", spoken, env=cli_env)
    assert job.code == 0, job.stderr
    assert job.json["estimate_seconds"] > 0 and job.json["wall_seconds"] > 0
    assert 0 <= job.json["wer"] < 0.5
    history = CacheManager(cache).history.jobs()
    assert history[-1].job_id == job.json["job_id"]
    assert history[-1].estimate_seconds == job.json["estimate_seconds"]
    assert history[-1].outcome.asr_confidence and history[-1].features.speech_rate_wpm
    assert history[-1].outcome.wer == job.json["wer"]

    assert run_cli("rate", job.json["job_id"], "4", env=cli_env).code == 0
    assert run_cli("rate", "no-such-job", "4", env=cli_env).code == 1
    report = run_cli("optimizer", "report", "--json", env=cli_env)
    assert report.json["jobs"] == 15 and report.json["estimated_jobs"] == 1
    assert report.json["history"][-1]["rating"] == 4

    (cache / "optimizer" / "current.json").write_text("damaged")
    fallback = run_cli("run", str(SAMPLE), "--json", "--no-cache", env=cli_env)
    assert fallback.code == 0, fallback.stderr
    assert fallback.json["estimate_seconds"] is None  # the defaults, with a warning in the log
    assert "optimizer unusable" in Path(fallback.json["outputs"]["log"]).read_text()
    # That job's record retrained the optimizer: the damage is healed.
    assert run_cli("optimizer", "status", "--json", env=cli_env).json["samples"] == 16
    (cache / "optimizer" / "current.json").write_text("damaged")
    strict = run_cli(
        "run", str(SAMPLE), "--no-cache", env={**cli_env, "ML_FALLBACK_TO_DEFAULT": "false"}
    )
    assert strict.code == 1 and "Traceback" not in strict.stderr
    assert "ML_FALLBACK_TO_DEFAULT=false" in strict.stderr.strip().splitlines()[-1]


def test_settings_left_alone_are_chosen_by_a_confident_optimizer(
    cli_env: dict[str, str],
) -> None:
    """History where beam 1 is as good as beam 5 for half the ASR time: a job whose user set
    nothing runs with beam 1, and its re-run finds that transcript."""
    cache = Path(cli_env["CACHE_DIR"])
    store = CacheManager(cache)
    rng = random.Random(7)
    for i in range(40):
        duration, beam, denoise = rng.uniform(20, 120), rng.choice([1, 5]), rng.random() < 0.3
        asr = duration * (0.04 if beam == 1 else 0.08) * (1.3 if denoise else 1.0)
        features = JobFeatures(
            duration, 16000, rng.uniform(10, 60), 30.0, model="tiny.en", beam_size=beam,
            denoise=denoise,
        )  # fmt: skip
        confidence = (0.7 if denoise else 0.8) + rng.gauss(0, 0.01)
        outcome = JobOutcome({"asr": asr}, asr + 1.0, asr_confidence=confidence)
        store.history.record(
            JobRecord(f"h{i}", "2026-11-20T10:00:00Z", f"{i:064x}", features, outcome)
        )
    assert run_cli("optimizer", "train", env=cli_env).code == 0
    first = run_cli("run", str(SAMPLE), "--json", env=cli_env)
    assert first.code == 0, first.stderr
    advice = first.json["stages"]["asr"]["recommendation"]
    assert advice["candidate"]["beam_size"] == 1 and not advice["candidate"]["denoise"]
    assert advice["confidence"] >= 0.8 and advice["expected_confidence"] >= 0.65
    again = run_cli("run", str(SAMPLE), "--json", env=cli_env)
    assert again.json["stages"]["asr"]["cache"] == "hit"
    pinned = run_cli("run", str(SAMPLE), "--json", env={**cli_env, "WHISPER_BEAM_SIZE": "5"})
    assert pinned.json["stages"]["asr"]["cache"] == "miss"  # the user's choice: no advice
    assert pinned.json["stages"]["asr"]["recommendation"] is None
