"""A request resolved into the plan its stages run on, once, before anything is decoded or
stored: every check a user can fail is made here, in one line each."""

from __future__ import annotations

from pathlib import Path

import pipeline
from cache_store import SourceStat
from cues import FormatError, parse_formats
from engines import media
from engines.asr import TUNED, AsrSettings, check_alignment_ready, is_multilingual
from engines.languages import LanguageError, check_language
from engines.models import ResolvedModel, resolve_model
from engines.translate import model_type
from glossary import check_movie_id
from pipeline import WORKFLOWS, DecodedAudio, JobPlan, Progress, Settings

from ._cache import open_cache
from ._request import JobError, JobRequest

__all__ = ["prepare"]


def _check(request: JobRequest, settings: Settings) -> None:
    if request.workflow not in WORKFLOWS:
        raise JobError(f"unknown workflow {request.workflow!r}: use one of {', '.join(WORKFLOWS)}")
    media.check_source(request.media)
    try:
        check_language(request.source_language, "source")
        check_language(request.target_language, "target", targets=True)
    except LanguageError as exc:
        raise JobError(str(exc)) from None
    translates = request.workflow != "transcribe"
    if translates and not request.target_language:
        raise JobError(f"workflow {request.workflow!r} needs --target-language")
    if translates and not settings.translation_model:
        raise JobError(
            f"workflow {request.workflow!r} needs a translation model: set TRANSLATION_MODEL to "
            f"a local transformers folder (Marian, M2M100, NLLB, IndicTrans2) or a name under "
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
    model = resolve_model(
        "whisperx",
        request.model or settings.whisper_model,
        settings.whisper_model_catalog,
        models,
        "WHISPER_MODEL_CATALOG",
    )
    language = request.source_language
    if not is_multilingual(model.path):
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
        diarization_model=optional(
            "pyannote", settings.diarization_model_dir, "DIARIZATION_MODEL_DIR"
        ),
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
    out_dir = (request.out or Path("out") / request.media.stem).expanduser().absolute()
    return JobPlan(
        media=request.media,
        workflow=request.workflow,
        target_language=request.target_language,
        movie_id=request.movie_id,
        asr_pinned=bool(request.model or request.source_language or settings.asr_pinned),
        out_dir=out_dir,
        source_stat=SourceStat.of(request.media),
        settings=settings,
        cache=cache,
        asr=asr,
        translation_model=translation_model,
        stages=pipeline.STAGES,  # read now: the list, not a copy taken at import
        audio=DecodedAudio(request.media),
        formats=formats,
        progress=progress,
    )
