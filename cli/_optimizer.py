"""``cpwx optimizer`` and ``cpwx rate``: train on job history, inspect, predict, report."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from engines.fingerprint import analyse
from jobs import JobRequest, estimate, initial_state, prepare
from pipeline import optimizer_for, recommend
from records import JobRecord

from ._console import emit, err, fail, guard, open_or_fail, settings_or_fail

__all__ = ["app", "rate"]

app = typer.Typer(
    help="The ML optimizer: time estimates and settings learned from job history.",
    no_args_is_help=True,
)

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@app.command("train")
def train_cmd(as_json: Json = False) -> None:
    """Train the time and confidence models on the job history (ML_TRAINING_DATA_RETENTION_DAYS)."""
    settings = settings_or_fail()
    cache = open_or_fail(settings)
    guard(lambda: cache.history.prune(settings.ml_training_data_retention_days))
    history = guard(cache.history.jobs)
    opt = optimizer_for(settings, cache.root)
    report = guard(lambda: opt.train(history))
    if as_json:
        emit(report.to_json())
        return
    print(
        f"trained v{report.version} on {report.samples} jobs: time error {report.time_mape:.1%} "
        f"(naive baseline {report.baseline_mape:.1%}), confidence rank correlation "
        f"{report.confidence_spearman if report.confidence_spearman is not None else 'n/a'}, "
        f"{report.model_bytes / 1024:.0f} KiB of models"
    )


@app.command("status")
def status_cmd(as_json: Json = False) -> None:
    """Which models are live, on how much history, and how well they did when trained."""
    settings = settings_or_fail()
    cache = open_or_fail(settings)
    status = guard(lambda: optimizer_for(settings, cache.root).status())
    status["history_jobs"] = len(guard(cache.history.jobs))
    if as_json:
        emit(status)
        return
    for key, value in status.items():
        print(f"{key:<20} {value}")


@app.command("predict")
def predict_cmd(
    media: Annotated[Path, typer.Argument(help="Video or audio file to predict a job for.")],
    as_json: Json = False,
) -> None:
    """The time a job on MEDIA should take, its expected ASR confidence, and the settings the
    optimizer would choose (the audio is decoded and measured; nothing is stored)."""
    settings = settings_or_fail()
    plan = guard(lambda: prepare(JobRequest(media.expanduser().absolute()), settings))
    try:
        state = initial_state(plan)
        known = state.audio_hash
        fingerprint = (plan.cache.cuts.fingerprint(known) if known else None) or guard(
            lambda: analyse(plan.audio.wav(), plan.media)
        )
        expected = guard(lambda: estimate(plan, state, fingerprint))
        advice = guard(lambda: recommend(plan, fingerprint, state.asr or plan.asr))
    finally:
        plan.audio.close()
    out = {
        "media": str(plan.media),
        "duration_seconds": fingerprint.duration,
        "estimate": expected.to_json() if expected else None,
        "recommendation": advice[1].to_json() if advice else None,
    }
    if as_json:
        emit(out)
        return
    if expected is None:
        print("no estimate yet: no job history (run a few jobs first)")
    else:
        print(
            f"estimate: about {expected.seconds:.0f} s from the {expected.source} "
            f"({expected.samples} jobs, trust {expected.confidence:.0%})"
        )
        if expected.expected_confidence is not None:
            print(f"expected ASR confidence: {expected.expected_confidence:.2f}")
    print(f"recommended: {advice[1].candidate} ({advice[1].reason})" if advice else "defaults")


@app.command("report")
def report_cmd(as_json: Json = False) -> None:
    """Estimates against actual times over the job history, and the mean ASR confidence."""
    history = guard(open_or_fail(settings_or_fail()).history.jobs)
    if not history:
        raise fail("no job history yet: run some jobs first", 1)
    errors = _errors(history, lambda r: r.estimate_seconds)
    refined = _errors(history, lambda r: r.refined_estimate_seconds)
    confidences = [r.outcome.asr_confidence for r in history if r.outcome.asr_confidence]
    rows = [
        {
            "job_id": r.job_id,
            "created_at": r.created_at,
            "audio_seconds": r.features.duration_seconds,
            "estimate_seconds": r.estimate_seconds,
            "refined_estimate_seconds": r.refined_estimate_seconds,
            "wall_seconds": r.outcome.wall_seconds,
            "asr_confidence": r.outcome.asr_confidence,
            "rating": r.outcome.rating,
        }
        for r in history
    ]
    summary = {
        "jobs": len(history),
        "estimated_jobs": len(errors),
        "estimate_mape": round(statistics.mean(errors), 4) if errors else None,
        "refined_estimate_mape": round(statistics.mean(refined), 4) if refined else None,
        "mean_asr_confidence": round(statistics.mean(confidences), 4) if confidences else None,
    }
    if as_json:
        emit({**summary, "history": rows})
        return
    table = Table(title="job history", title_justify="left")
    for col in ("job", "audio s", "estimate s", "refined s", "wall s", "confidence", "rating"):
        table.add_column(col)
    for r in rows[-20:]:
        table.add_row(
            str(r["job_id"])[:8],
            f"{r['audio_seconds']:.0f}",
            f"{r['estimate_seconds']:.1f}" if r["estimate_seconds"] else "-",
            f"{r['refined_estimate_seconds']:.1f}" if r["refined_estimate_seconds"] else "-",
            f"{r['wall_seconds']:.1f}",
            f"{r['asr_confidence']:.2f}" if r["asr_confidence"] else "-",
            str(r["rating"] or "-"),
        )
    err.print(table)
    print(
        f"{summary['jobs']} jobs, {summary['estimated_jobs']} with an estimate"
        + (f": estimates off by {summary['estimate_mape']:.1%} on average" if errors else "")
        + (f", refined ones by {summary['refined_estimate_mape']:.1%}" if refined else "")
    )


def _errors(history: list[JobRecord], estimate: Callable[[JobRecord], float | None]) -> list[float]:
    """How far each job's ``estimate`` was from its wall time, as a share of it."""
    return [
        abs(guess - r.outcome.wall_seconds) / r.outcome.wall_seconds
        for r in history
        if (guess := estimate(r)) and r.outcome.wall_seconds > 0
    ]


def rate(
    job_id: Annotated[str, typer.Argument(help="The job id (--json's job_id).")],
    rating: Annotated[int, typer.Argument(min=1, max=5, help="1 (unusable) to 5 (perfect).")],
) -> None:
    """Rate a job's subtitles 1-5: the optimizer learns from ratings too."""
    history = open_or_fail(settings_or_fail()).history
    if not guard(lambda: history.rate(job_id, rating)):
        raise fail(f"no job {job_id!r} in the history", 1)
    print(f"rated job {job_id}: {rating}")
