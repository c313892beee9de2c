"""The optimizer-train flow: retrain the optimizer on the job history (scheduled weekly)."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from cpwx.console import store_for
from cpwx.learning import optimizer_for
from cpwx.settings import load_settings
from optimizer import TrainReport


@task(name="train-optimizer", cache_policy=NO_CACHE)
def train_task() -> TrainReport:
    settings = load_settings()
    store = store_for(settings)
    store.prune_history(settings.ml_training_data_retention_days)
    return optimizer_for(settings, store).train(store.job_history())


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
