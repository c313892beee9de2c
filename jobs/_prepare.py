"""A request resolved into the plan its stages run on, once, before anything is decoded or
stored: every check a user can fail is made here, in one line each."""

from __future__ import annotations

import logging
from pathlib import Path

import pipeline
from cache_store import SourceStat
from cues import FormatError, parse_formats
from engines import media
from engines.asr import TUNED, AsrSettings, check_alignment_ready
from engines.diarize import DiarizationSettings
from engines.languages import LanguageError, check_language
from engines.models import (
    ENGLISH_MODEL,
    MULTILINGUAL_MODEL,
    ModelNotFoundError,
    ResolvedModel,
    diarization_model,
    is_multilingual,
    resolve_model,
)
from engines.scripts import ScriptError, check_script
from engines.translate import SPEECH_TARGET, model_type
from glossary import check_movie_id
from pipeline import WORKFLOWS, DecodedAudio, JobPlan, ModelChoice, Progress, Settings

from ._cache import open_cache
from ._request import JobError, JobRequest

__all__ = ["prepare"]

log = logging.getLogger("jobs.prepare")


def _check(request: JobRequest, settings: Settings) -> None:
    if request.workflow not in WORKFLOWS:
        raise JobError(f"unknown workflow {request.workflow!r}: use one of {', '.join(WORKFLOWS)}")
    media.check_source(request.media)
    try:
        check_language(request.source_language, "source")
        check_language(request.target_language, "target", targets=True)
        check_script(request.script)
    except (LanguageError, ScriptError) as exc:
        raise JobError(str(exc)) from None
    translates = request.workflow != "transcribe"
    if translates and not request.target_language:
        raise JobError(f"workflow {request.workflow!r} needs --target-language")
    if translates and not settings.translation_model and request.target_language != SPEECH_TARGET:
        raise JobError(
            f"--target-language {request.target_language} needs a translation model (Whisper "
            f"translates speech into English only): set TRANSLATION_MODEL to a local "
            f"transformers folder (Marian, M2M100, NLLB, IndicTrans2) or a name under "
            f"{settings.cache_path / 'models' / 'translation'}"
        )
    if request.movie_id is not None:
        check_movie_id(request.movie_id)
    if request.reference is not None and not request.reference.is_file():
        raise JobError(f"{request.reference}: no such reference text file")


def _formats(request: JobRequest, settings: Settings) -> tuple[str, ...]:
    try:
        return parse_formats(request.formats or settings.subtitle_formats)
    except FormatError as exc:
        raise JobError(f"--formats: {exc}") from None


def _whisper(name: str | None, settings: Settings, models: Path) -> ResolvedModel:
    return resolve_model(
        "whisperx",
        name or settings.whisper_model or ENGLISH_MODEL,
        settings.whisper_model_catalog,
        models,
        "WHISPER_MODEL_CATALOG",
    )


def _model_choice(request: JobRequest, settings: Settings, models: Path) -> ModelChoice | None:
    """No model named: tiny.en for English, the multilingual model for the rest (and to find
    the language). Without a multilingual model, speech of unknown language is taken as
    English; a named other language needs one."""
    if request.model or settings.whisper_model:
        return None
    english = _whisper(ENGLISH_MODEL, settings, models)
    try:
        multilingual = _whisper(MULTILINGUAL_MODEL, settings, models)
    except ModelNotFoundError:
        if request.source_language not in (None, "en"):
            raise
        log.warning(
            "no multilingual model (%s): the speech is taken as English; run scripts/setup.sh",
            MULTILINGUAL_MODEL,
        )
        multilingual = None
    return ModelChoice(english, multilingual)


def _speech_model(choice: ModelChoice | None, named: ResolvedModel) -> ResolvedModel:
    """The Whisper that translates speech where no text model does: the multilingual one."""
    model = choice.multilingual if choice is not None else named
    if model is None or not is_multilingual(model.path):
        raise JobError(
            "translating without TRANSLATION_MODEL needs a multilingual Whisper model: "
            + (
                f"run scripts/setup.sh to install {MULTILINGUAL_MODEL}"
                if choice is not None
                else f"{named.name!r} is English-only; name a multilingual one with --model"
            )
        )
    return model


def _diarization(
    request: JobRequest, settings: Settings, device: str
) -> DiarizationSettings | None:
    """On where the weights are (ENABLE_DIARIZATION unset) or when asked for. A
    DIARIZATION_MODEL_DIR that is set is checked even when diarization is off."""
    model = diarization_model(settings.diarization_model_dir)
    if settings.enable_diarization is False:
        if request.speakers is not None:
            raise JobError("--speakers needs diarization: ENABLE_DIARIZATION is false")
        return None
    if model is None:
        if settings.enable_diarization or request.speakers is not None:
            raise JobError(
                "no diarization weights installed (nothing is downloaded at run time): run "
                "scripts/setup.sh, or set DIARIZATION_MODEL_DIR"
            )
        return None
    low, high = settings.diarization_min_speakers, settings.diarization_max_speakers
    if low is not None and high is not None and low > high:
        raise JobError(
            f"DIARIZATION_MIN_SPEAKERS ({low}) is more than DIARIZATION_MAX_SPEAKERS ({high})"
        )
    if request.speakers is not None and request.speakers < 1:
        raise JobError(f"--speakers {request.speakers}: give 1 or more")
    return DiarizationSettings(model, device, request.speakers, low, high)


def prepare(request: JobRequest, settings: Settings, progress: Progress | None = None) -> JobPlan:
    """Validate the request and resolve its models before anything is decoded or stored."""
    _check(request, settings)
    formats = _formats(request, settings)
    bypass = (
        "--no-cache"
        if request.no_cache
        else None
        if settings.enable_caching
        else "ENABLE_CACHING=false"
    )
    cache = open_cache(settings, bypass)
    models = cache.store.models_dir
    language = request.source_language
    choice = _model_choice(request, settings, models)
    model = choice.for_language(language) if choice else _whisper(request.model, settings, models)
    multilingual = is_multilingual(model.path)
    if not multilingual:
        if language not in (None, "en"):
            raise JobError(
                f"model {model.name!r} is English-only and cannot transcribe {language!r}: "
                "choose a multilingual model with --model"
            )
        language = "en"

    def optional(kind: str, path: Path | None, variable: str) -> ResolvedModel | None:
        return resolve_model(kind, str(path), {}, models, variable) if path else None

    if settings.align_model_dir is not None:
        check_alignment_ready()
    device = settings.device
    asr = AsrSettings(
        model=model,
        language=language,
        device=device,
        threads=settings.threads,
        align_model=optional("alignment", settings.align_model_dir, "ALIGN_MODEL_DIR"),
        **{name: getattr(settings, variable) for name, variable in TUNED.items()}
        | {"compute_type": settings.compute_type_for(device)},
    )
    translation_model = (
        resolve_model("translation", settings.translation_model, {}, models, "TRANSLATION_MODEL")
        if request.workflow != "transcribe" and settings.translation_model
        else None
    )
    if translation_model is not None:
        model_type(translation_model.path)  # an unusable folder fails now, not after ASR
    speech_model = (
        _speech_model(choice, model)
        if request.workflow != "transcribe" and translation_model is None
        else None
    )
    out_dir = (request.out or Path("out") / request.media.stem).expanduser().absolute()
    # No language given: the fingerprint stage finds it (a multilingual model can tell).
    detect_with = asr if language is None and multilingual else None
    return JobPlan(
        media=request.media,
        workflow=request.workflow,
        target_language=request.target_language,
        movie_id=request.movie_id,
        asr_pinned=bool(request.model or request.source_language or settings.asr_pinned),
        out_dir=out_dir,
        source_stat=SourceStat.of(request.media, request.track),
        settings=settings,
        cache=cache,
        asr=asr,
        translation_model=translation_model,
        stages=pipeline.STAGES,  # read now: the list, not a copy taken at import
        audio=DecodedAudio(request.media, request.audio_track, request.source_language),
        formats=formats,
        progress=progress,
        detect_with=detect_with,
        models=choice,
        script=request.script,
        speaker_labels=request.speaker_labels,
        speech_model=speech_model,
        diarization=_diarization(request, settings, device),
    )
