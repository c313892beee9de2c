"""The optimizer-train flow: retrain the optimizer on the job history (scheduled weekly)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from jobs import open_cache
from optimizer import TrainReport
from pipeline import optimizer_for
from pipeline.settings import load_settings

__all__ = ["optimizer_train"]


@task(name="train-optimizer", cache_policy=NO_CACHE)
def train_task() -> TrainReport:
    settings = load_settings()
    cache = open_cache(settings)
    cache.history.prune(settings.ml_training_data_retention_days)
    return optimizer_for(settings, cache.root).train(cache.history.jobs())


@flow(name="optimizer-train")
def optimizer_train() -> dict[str, Any]:
    """Forget jobs older than ML_TRAINING_DATA_RETENTION_DAYS, retrain the time and confidence
    models on the rest, and publish how well they did against the naive baseline."""
    report = train_task()
    create_markdown_artifact(
        key="optimizer-train",
        markdown=(
            f"### Optimizer v{report.version}\n\n| measure | value |\n|---|---:|\n"
            f"| jobs | {report.samples} |\n"
            f"| time error (held out) | {report.time_mape:.1%} |\n"
            f"| naive baseline error | {report.baseline_mape:.1%} |\n"
            f"| confidence rank correlation | {report.confidence_spearman} |\n"
            f"| model size | {report.model_bytes / 1024:.0f} KiB |\n"
        ),
        description="The retrained optimizer against the naive baseline",
    )
    return report.to_json()
