"""Learning from job history which settings to use and how long a job will take. No Prefect."""

from ._features import COLUMNS, MODEL_COSTS, matrix, similar_jobs, with_history
from ._optimizer import (
    Candidate,
    MLOptimizer,
    OptimizerError,
    OptimizerPolicy,
    Prediction,
    Recommendation,
    TrainReport,
)

__all__ = [
    "COLUMNS",
    "MODEL_COSTS",
    "Candidate",
    "MLOptimizer",
    "OptimizerError",
    "OptimizerPolicy",
    "Prediction",
    "Recommendation",
    "TrainReport",
    "matrix",
    "similar_jobs",
    "with_history",
]
