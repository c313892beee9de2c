"""The optimizer on histories with known answers: what it learns, and when it must not be used."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from optimizer import Candidate, MLOptimizer, OptimizerError, OptimizerPolicy
from records import JobFeatures, JobOutcome, JobRecord

COSTS = {"tiny": 1.0, "base": 1.9, "small": 6.4}


def _history(n: int, seed: int = 0) -> list[JobRecord]:
    """ASR time = 0.05 s per audio second x model cost (+/- 3%, +20% with denoising);
    confidence rises with SNR and falls with denoising."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        model = rng.choice(list(COSTS))
        duration = rng.uniform(20, 600)
        snr = rng.uniform(0, 40)
        denoise = rng.random() < 0.5
        asr = 0.05 * duration * COSTS[model] * rng.uniform(0.97, 1.03) * (1.2 if denoise else 1)
        confidence = min(0.95, 0.3 + snr / 60 - (0.1 if denoise else 0.0) + rng.gauss(0, 0.02))
        features = JobFeatures(
            duration, 16000, snr, 50 - snr, model=model, model_cost=COSTS[model], denoise=denoise
        )
        stages = {"demux": 0.01 * duration, "asr": asr}
        outcome = JobOutcome(stages, sum(stages.values()) + 2.0, asr_confidence=confidence)
        out.append(
            JobRecord(f"job{i}", f"2026-11-{1 + i % 28:02d}T00:00:00Z", "a" * 64, features, outcome)
        )
    return out


def test_time_in_proportion_to_duration_and_model_cost_is_recovered(tmp_path: Path) -> None:
    optimizer = MLOptimizer(tmp_path)
    report = optimizer.train(_history(80))
    assert report.time_mape < 0.10 and report.time_mape < report.baseline_mape
    assert report.model_bytes < 5 * 2**20 * len(report.stages)
    for model, cost in COSTS.items():
        for duration in (60.0, 300.0):
            f = JobFeatures(duration, 16000, 20.0, 30.0, model=model, model_cost=cost)  # no denoise
            predicted = optimizer.predict(f).stage_seconds["asr"]
            assert predicted == pytest.approx(0.05 * duration * cost, rel=0.10), (model, duration)
    assert optimizer.predict(JobFeatures(60.0, 16000, 20.0, 30.0, model_cost=1.0)).source == "model"


def test_below_the_minimum_sample_count_the_baseline_is_used(tmp_path: Path) -> None:
    optimizer = MLOptimizer(tmp_path, OptimizerPolicy(min_samples=50))
    assert optimizer.predict(JobFeatures(60.0, 16000, 20.0, 30.0)).source == "none"
    optimizer.train(_history(20))
    prediction = optimizer.predict(JobFeatures(60.0, 16000, 20.0, 30.0, model="tiny"))
    assert prediction.source == "baseline" and prediction.samples == 20
    assert prediction.seconds is not None and prediction.seconds > 0
    assert prediction.expected_confidence is None
    candidates = [Candidate("tiny", 1.0, 5, 8, False)]
    assert optimizer.recommend(JobFeatures(60.0, 16000, 5.0, 45.0), candidates) is None


def test_one_past_job_gives_the_next_an_estimate_for_the_audio_it_will_compute(
    tmp_path: Path,
) -> None:
    """Before any training, the naive baseline of the jobs so far: seconds per second of the
    audio each stage computed (a reuse job's ASR, word timing and diarization only over what it
    heard)."""
    optimizer = MLOptimizer(tmp_path)
    assert optimizer.predict(JobFeatures(60.0, 16000, 20.0, 30.0)).source == "none"
    stages = {"demux": 1.0, "asr": 30.0, "words": 10.0, "diarization": 40.0, "subtitles": 0.5}
    first = JobRecord(
        "one",
        "2026-12-01T00:00:00Z",
        "a" * 64,
        JobFeatures(100.0, 16000, 20.0, 30.0),
        JobOutcome(stages, sum(stages.values()) + 8.0),
    )
    optimizer.keep_baseline([first])
    fresh = optimizer.predict(JobFeatures(200.0, 16000, 20.0, 30.0))
    assert fresh.source == "baseline" and fresh.samples == 1
    assert fresh.stage_seconds == {
        "demux": 2.0,
        "asr": 60.0,
        "words": 20.0,
        "diarization": 80.0,
        "subtitles": 1.0,
    }
    assert fresh.seconds == pytest.approx(163.0 + 8.0)
    # Nine tenths of it lent by a similar cut: only the tenth heard again is transcribed.
    reuse = optimizer.predict(JobFeatures(200.0, 16000, 20.0, 30.0, reused_ratio=0.9))
    assert reuse.stage_seconds["asr"] == pytest.approx(6.0)
    assert reuse.stage_seconds["words"] == pytest.approx(2.0)
    assert reuse.stage_seconds["diarization"] == pytest.approx(8.0)  # its speaker turns too
    assert reuse.stage_seconds["demux"] == 2.0
    # A stage served from the store costs nothing.
    assert (
        "asr" not in optimizer.predict(JobFeatures(200.0, 16000, 20.0, 30.0), {"asr"}).stage_seconds
    )
    # That reuse job, recorded, teaches the rate per second heard, not per second of audio.
    heard = JobRecord(
        "two",
        "2026-12-01T00:01:00Z",
        "b" * 64,
        JobFeatures(200.0, 16000, 20.0, 30.0, reused_ratio=0.9),
        JobOutcome({"asr": 6.0}, 14.0),
    )
    optimizer.keep_baseline([first, heard])
    assert optimizer.predict(JobFeatures(100.0, 16000, 20.0, 30.0)).stage_seconds["asr"] == (
        pytest.approx(30.0)
    )
    (tmp_path / "baseline.json").write_text("damaged")
    assert optimizer.predict(JobFeatures(60.0, 16000, 20.0, 30.0)).source == "none"


def test_a_damaged_model_file_is_refused(tmp_path: Path) -> None:
    MLOptimizer(tmp_path).train(_history(30))
    model = next(tmp_path.glob("v1/asr.json"))
    model.write_bytes(model.read_bytes()[:-20])
    with pytest.raises(OptimizerError, match="damaged"):
        MLOptimizer(tmp_path).predict(JobFeatures(60.0, 16000, 20.0, 30.0))
    (tmp_path / "current.json").write_text("not a payload")
    with pytest.raises(OptimizerError):
        MLOptimizer(tmp_path).load()


def test_the_cheapest_setting_that_reaches_the_target_is_recommended(tmp_path: Path) -> None:
    optimizer = MLOptimizer(tmp_path, OptimizerPolicy(quality_target=0.55))
    optimizer.train(_history(120))
    candidates = [
        Candidate(model, cost, 5, 8, denoise)
        for model, cost in COSTS.items()
        for denoise in (False, True)
    ]
    clean = optimizer.recommend(JobFeatures(120.0, 16000, 35.0, 15.0), candidates)
    assert clean is not None and clean.candidate.model == "tiny" and not clean.candidate.denoise
    assert clean.confidence >= 0.8 and clean.expected_confidence >= 0.55
    # Nothing reaches the target on very noisy audio: no recommendation beats the defaults.
    assert optimizer.recommend(JobFeatures(120.0, 16000, 1.0, 49.0), candidates) is None
