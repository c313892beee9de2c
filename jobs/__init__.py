"""The application: a job's request, its plan resolved once, the runner that takes it through the
stages (or serves it whole from the store), its result, and what it tells the optimizer; and a
media library's sidecar subtitles, a job per film. The CLI and the flows are thin over it; only
``_prefect`` here talks to a Prefect server.
"""

from ._cache import open_cache
from ._detect import DetectedLanguage, detect_language
from ._errors import USER_ERRORS, first_line
from ._here import FlowRunner, run_here
from ._learning import estimate, record
from ._library import (
    SIDECAR_FORMATS,
    Library,
    LibraryItem,
    LibraryOptions,
    LibraryPass,
    check_folders,
    covered,
    sidecar_path,
    write_sidecar,
)
from ._prefect import running_server
from ._prepare import prepare
from ._request import JobError, JobRequest
from ._result import JobResult
from ._runner import JOB_LOGGERS, RunStage, initial_state, run_job, run_stage, serve_from_store
from ._submit import submit_job
from ._warmup import WarmupItem, media_files, warm

__all__ = [
    "JOB_LOGGERS",
    "SIDECAR_FORMATS",
    "USER_ERRORS",
    "DetectedLanguage",
    "FlowRunner",
    "JobError",
    "JobRequest",
    "JobResult",
    "Library",
    "LibraryItem",
    "LibraryOptions",
    "LibraryPass",
    "RunStage",
    "WarmupItem",
    "check_folders",
    "covered",
    "detect_language",
    "estimate",
    "first_line",
    "initial_state",
    "media_files",
    "open_cache",
    "prepare",
    "record",
    "run_here",
    "run_job",
    "run_stage",
    "running_server",
    "serve_from_store",
    "sidecar_path",
    "submit_job",
    "warm",
    "write_sidecar",
]
