"""What a job runs on, resolved and checked once before any stage: the source, the settings, the
models, the cache, the stages. The application builds it (``jobs.prepare``); stages only read it.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from cache_manager import CacheManager
from cache_store import SourceStat
from engines import media
from engines.asr import AsrSettings
from engines.diarize import DiarizationSettings
from engines.models import ResolvedModel
from engines.translate import TranslationSettings
from glossary import Glossary

from ._stage import Stage
from .settings import Settings

__all__ = ["WORKFLOWS", "DecodedAudio", "JobPlan", "ModelChoice", "Progress", "Workflow"]

Workflow = Literal["transcribe", "translate", "subtitle"]
WORKFLOWS: tuple[Workflow, ...] = ("transcribe", "translate", "subtitle")

# Where long stages report how far they are (a progress bar on a terminal): stage, percent.
Progress = Callable[[str, float], None]


def _quiet(stage: str, percent: float) -> None:
    """No one is watching (a worker's run)."""


class DecodedAudio:
    """The job's source decoded once, on first need, into a temp folder ``close`` removes: the
    audio track ``track`` names (ffmpeg's 0:a:N), else the one tagged ``language``, else the
    default one (``media.choose_track``)."""

    def __init__(self, source: Path, track: int | None = None, language: str | None = None) -> None:
        self.source, self.track, self.language = source, track, language
        self.chosen: media.TrackChoice | None = None  # once probed
        self._workdir: Path | None = None
        self._wav: Path | None = None

    def choose(self) -> media.TrackChoice:
        """The track to decode (probed once); raises MediaError (listing the tracks) where
        none fits."""
        if self.chosen is None:
            self.chosen = media.choose_track(media.probe(self.source), self.track, self.language)
        return self.chosen

    def wav(self) -> Path:
        if self._wav is None:
            self.choose()
            assert self.chosen is not None
            self._workdir = Path(tempfile.mkdtemp(prefix="cpwx-"))
            self._wav = media.demux(
                self.source, self._workdir / "audio.wav", self.chosen.track.number
            )
        return self._wav

    def close(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = self._wav = None


@dataclass(frozen=True)
class ModelChoice:
    """No model named (no --model, no WHISPER_MODEL): the language chooses. English speech gets
    ``english``, every other language ``multilingual`` (English too when there is no other)."""

    english: ResolvedModel
    multilingual: ResolvedModel | None

    def for_language(self, language: str | None) -> ResolvedModel:
        if language == "en" or self.multilingual is None:
            return self.english
        return self.multilingual


@dataclass(frozen=True)
class JobPlan:
    media: Path
    workflow: Workflow
    target_language: str | None
    movie_id: str | None  # --movie-id, checked
    asr_pinned: bool  # the user chose ASR settings: no similar cut or optimizer changes them
    out_dir: Path
    source_stat: SourceStat
    settings: Settings
    cache: CacheManager
    asr: AsrSettings  # the job's own; an audio's may differ (see ``pipeline.asr_settings_for``)
    translation_model: ResolvedModel | None  # None: Whisper translates the speech (into en)
    stages: tuple[Stage, ...]
    audio: DecodedAudio
    formats: tuple[str, ...]  # the subtitle files it writes (SUBTITLE_FORMATS, --formats)
    progress: Progress | None = None  # None: no one is watching (a worker's run)
    # No language given and a multilingual model at hand: the fingerprint stage detects the
    # language with these settings, and the audio's ASR settings follow it.
    detect_with: AsrSettings | None = None
    models: ModelChoice | None = None  # None: the user named the model
    script: str = "native"  # "latin": subtitles in an Indic script are romanized
    speaker_labels: bool = False  # cues start "[Jai]" where the speaker changes
    speech_model: ResolvedModel | None = None  # the multilingual Whisper that translates speech
    diarization: DiarizationSettings | None = None  # None: no diarization
    job_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.perf_counter)

    def report_progress(self, stage: str, percent: float) -> None:
        if self.progress is not None:
            self.progress(stage, percent)

    @property
    def translates(self) -> bool:
        return self.workflow != "transcribe"

    def stem(self, language: str) -> str:
        return f"{self.media.stem}.{language}"

    def film(self, audio_hash: str) -> str:
        """Whose glossary the job uses (see ``Cuts.film``)."""
        return self.cache.cuts.film(audio_hash, self.media, self.movie_id)

    def glossary(self, film: str) -> Glossary:
        """The terms this job protects: the film's glossary over the global one."""
        per_movie = self.settings.glossary_per_movie_enabled
        return self.cache.glossaries.for_job(film if per_movie else None)

    @property
    def translator_id(self) -> str:
        """What the job's translations are said to come from (the memory's ``model_used``)."""
        if self.translation_model is not None:
            return self.translation_model.id
        assert self.speech_model is not None
        return f"{self.speech_model.id}:translate"

    def speech_settings(self, source_language: str) -> AsrSettings:
        """Whisper's translate task on this job's device, at the audio's language."""
        assert self.speech_model is not None
        return replace(self.asr, model=self.speech_model, language=source_language)

    def translation_settings(self, source_language: str) -> TranslationSettings:
        assert self.translation_model is not None and self.target_language
        s = self.settings
        return TranslationSettings(
            model=self.translation_model,
            source_language=source_language,
            target_language=self.target_language,
            batch_size=s.translation_batch_size,
            max_length=s.translation_max_length,
            num_beams=s.translation_num_beams,
            device=self.asr.device,
        )
