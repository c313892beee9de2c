"""The job's pipeline: its settings, the plan and state the stages share, and the stages, one
module each, in the order ``STAGES`` runs them. No Prefect here (``tasks`` wraps each stage).

A stage asks the store, calls its engine on a miss and writes back; ``STAGES`` is the one list
everything else derives from: the Prefect tasks, the gpu hand-off, the store's fast path, the
reports and the optimizer's per-stage models.
"""

from . import asr, demux, diarization, fingerprint, glossary, subtitles, translation, words
from ._advice import candidates, checked_optimizer, features, model_cost, optimizer_for, recommend
from ._asr_settings import adopt, asr_settings_for
from ._plan import WORKFLOWS, DecodedAudio, JobPlan, ModelChoice, Progress, Workflow
from ._report import AsrReport, CacheState, MemoryReport, SimilarReport, StageReport
from ._stage import Pool, Stage, layers_of
from ._state import JobState, Outputs
from .settings import ConfigError, Settings, load_settings

STAGES: tuple[Stage, ...] = (
    demux.STAGE,
    fingerprint.STAGE,
    asr.STAGE,
    words.STAGE,
    diarization.STAGE,
    glossary.STAGE,
    translation.STAGE,
    subtitles.STAGE,
)

__all__ = [
    "STAGES",
    "WORKFLOWS",
    "AsrReport",
    "CacheState",
    "ConfigError",
    "DecodedAudio",
    "JobPlan",
    "JobState",
    "MemoryReport",
    "ModelChoice",
    "Outputs",
    "Pool",
    "Progress",
    "Settings",
    "SimilarReport",
    "Stage",
    "StageReport",
    "Workflow",
    "adopt",
    "asr_settings_for",
    "candidates",
    "checked_optimizer",
    "features",
    "layers_of",
    "load_settings",
    "model_cost",
    "optimizer_for",
    "recommend",
]
