"""whisper-asr-webservice's HTTP API (``/asr``, ``/detect-language``) with the pipeline behind
it: every request a job through the same store, so what the CLI or an earlier request heard is
served from the cache. Bazarr's Whisper provider, among others, speaks this API."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import quote

import anyio
from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from engines.languages import LanguageError, check_language
from engines.media import MediaError
from jobs import (
    USER_ERRORS,
    FlowRunner,
    JobRequest,
    detect_language,
    first_line,
    run_here,
)
from pipeline import Settings

from ._limits import BodyLimit, JobQueue
from ._outputs import MEDIA_TYPES, job_formats, render
from ._upload import Upload, receive

__all__ = ["ENGINE", "create_app"]

ENGINE = "cp-whisperx"
log = logging.getLogger("api")
T = TypeVar("T")

AudioFile = Annotated[UploadFile, File(description="The audio: a media file, or raw PCM.")]
Encode = Annotated[
    bool,
    Query(
        description="true: audio_file is any media ffmpeg reads; false: raw 16 kHz mono s16le "
        "PCM (what Bazarr sends)."
    ),
]
Language = Annotated[
    str | None,
    Query(description="ISO 639-1 code of the speech (detected when omitted)."),
]
VideoFile = Annotated[
    str | None,
    Query(description="The media's own path (Bazarr's): names the job in the log and the UI."),
]


def _answering(fn: Callable[[], T]) -> T:
    """Run a job, a user's error made its 4xx (media ffmpeg cannot decode: 415)."""
    try:
        return fn()
    except MediaError as exc:
        raise HTTPException(415, first_line(exc)) from None
    except USER_ERRORS as exc:
        raise HTTPException(422, first_line(exc)) from None


def create_app(settings: Settings, run_flow: FlowRunner) -> FastAPI:
    """The API on ``settings`` (API_MAX_UPLOAD_MB, API_CONCURRENCY, API_QUEUE_LIMIT,
    API_QUEUE_TIMEOUT_SECONDS); jobs run through ``run_flow`` (the subtitle-job flow, as
    `cpwx run` runs it) when the store cannot serve them whole: on the running Prefect server
    where there is one."""
    app = FastAPIOffline(  # /docs and /redoc served from here: nothing leaves the machine
        title="cp-whisperx",
        summary="whisper-asr-webservice's API on a pipeline that caches: a film asked for "
        "again (or already subtitled with `cpwx run`) is served from the store.",
    )
    app.add_middleware(BodyLimit, limit=int(settings.api_max_upload_mb * 2**20))
    queue = JobQueue(
        settings.api_concurrency, settings.api_queue_limit, settings.api_queue_timeout_seconds
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"detail": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(Exception)
    async def _failed(_: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", exc_info=exc)  # the traceback stays in the server's log
        return JSONResponse({"detail": f"{type(exc).__name__}: {first_line(exc)}"}, 500)

    @app.get("/health", include_in_schema=False)
    async def _health() -> dict[str, str]:
        return {"status": "ok"}

    async def _received(
        audio_file: UploadFile, video_file: str | None, encode: bool, folder: Path
    ) -> Upload:
        name = video_file or audio_file.filename
        return await anyio.to_thread.run_sync(receive, audio_file.file, name, encode, folder)

    @app.post("/asr", response_class=Response)
    async def asr(
        audio_file: AudioFile,
        encode: Encode = True,
        task: Literal["transcribe", "translate"] = "transcribe",
        language: Language = None,
        output: Literal["txt", "vtt", "srt", "tsv", "json"] = "txt",
        word_timestamps: Annotated[
            bool, Query(description="json: each segment's words with their times.")
        ] = False,
        vad_filter: Annotated[
            bool, Query(description="Accepted; speech is always found by VAD first.")
        ] = False,
        diarize: Annotated[
            bool, Query(description='Start a cue with its speaker ("[SPEAKER_00]").')
        ] = False,
        video_file: VideoFile = None,
    ) -> Response:
        """Subtitles or a transcript of the speech (task translate: in English)."""
        del vad_filter  # WhisperX's VAD always runs: the option changes nothing here
        source = _language(language)
        with tempfile.TemporaryDirectory(prefix="cpwx-api-") as temp:
            folder = Path(temp)  # the upload and the job's output, gone once answered
            upload = await _received(audio_file, video_file, encode, folder)
            translate = task == "translate"
            request = JobRequest(
                media=upload.path,
                workflow="translate" if translate else "transcribe",
                source_language=source,
                target_language="en" if translate else None,
                out=folder / "out",
                formats=job_formats(output),
                speaker_labels=diarize,
                audio_hash=upload.audio_hash,
            )
            async with queue.turn():
                result = await anyio.to_thread.run_sync(
                    _answering, lambda: run_here(request, settings, run_flow)
                )
            body = render(output, result, word_timestamps)
        hits = sum(r.cache == "hit" for r in result.stages.values())
        missed = [f"{name}: {r.reason}" for name, r in result.stages.items() if r.cache == "miss"]
        log.info(
            "asr %s (%s): %.2f s via %s, %d of %d stages from the cache%s",
            upload.name,
            task,
            result.wall_seconds,
            result.orchestration,
            hits,
            len(result.stages),
            f" (first miss: {missed[0]})" if missed else "",
        )
        return Response(
            body,
            media_type=MEDIA_TYPES[output],
            headers={
                "Asr-Engine": ENGINE,
                "Content-Disposition": "attachment; filename*=UTF-8''"
                + quote(f"{Path(upload.name).stem}.{output}"),
                "X-Cache-Stages": f"{hits}/{len(result.stages)}",
                "X-Job-Seconds": f"{result.wall_seconds:.3f}",
            },
        )

    @app.post("/detect-language")
    async def detect(
        audio_file: AudioFile, encode: Encode = True, video_file: VideoFile = None
    ) -> dict[str, str | float | bool | None]:
        """The language of the speech: from the store when the audio is known."""
        with tempfile.TemporaryDirectory(prefix="cpwx-api-") as temp:
            upload = await _received(audio_file, video_file, encode, Path(temp))
            request = JobRequest(media=upload.path, audio_hash=upload.audio_hash)
            async with queue.turn():
                found = await anyio.to_thread.run_sync(
                    _answering, lambda: detect_language(request, settings)
                )
        from whisperx.utils import LANGUAGES  # a plain dict module

        log.info(
            "detect-language %s: %s%s", upload.name, found.code, " (known)" if found.known else ""
        )
        return {
            "detected_language": LANGUAGES.get(found.code, found.code),
            "language_code": found.code,
            "confidence": found.probability,
            "cached": found.known,
            "note": found.note,
        }

    return app


def _language(code: str | None) -> str | None:
    """The request's language, checked before anything is received: 422 for one Whisper does
    not know."""
    code = (code or "").strip().lower() or None
    try:
        check_language(code, "source")
    except LanguageError as exc:
        raise HTTPException(422, str(exc)) from None
    return code
