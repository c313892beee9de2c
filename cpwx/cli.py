"""``cpwx``: run subtitle jobs and see what the cache did for them."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from engines.asr import WhisperxEngine
from engines.media import probe

from . import learning
from .cache_cli import app as cache_app
from .console import USER_ERRORS, configure_logging, err, fail
from .glossary_cli import app as glossary_app
from .job import (
    WORKFLOWS,
    JobRequest,
    JobResult,
    NeedsCompute,
    prepare,
    set_progress_listener,
)
from .optimizer_cli import app as optimizer_app
from .optimizer_cli import rate
from .pipeline import JOB_LOGGERS, run_pipeline, run_stage
from .serve_cli import serve
from .server import running_server, submit_job
from .settings import Settings, load_settings
from .tm_cli import app as tm_app

app = typer.Typer(
    name="cpwx",
    help="Subtitles for films, Hindi first, that get faster every time: a five-layer cache "
    "(fingerprints, models, ASR, translations, glossary) on Prefect.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cache_app, name="cache")
app.add_typer(glossary_app, name="glossary")
app.add_typer(tm_app, name="tm")
app.add_typer(optimizer_app, name="optimizer")
app.command("rate")(rate)
app.command("serve")(serve)


@app.callback()
def _root() -> None:
    """Subtitle films; every later job on the same media reuses the cache."""


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Libraries print to fd 1 (C code too); keep stdout for the one JSON object."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextlib.contextmanager
def _progress(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    bars: dict[str, Any] = {}

    def listen(stage: str, percent: float) -> None:
        if stage not in bars:
            bars[stage] = progress.add_task(stage, total=100)
        progress.update(bars[stage], completed=percent)

    set_progress_listener(listen)
    try:
        with progress:
            yield
    finally:
        set_progress_listener(None)


def _run_flow(request: JobRequest) -> dict[str, Any]:
    from flows.subtitle_job import subtitle_job

    result: dict[str, Any] = subtitle_job(
        media=str(request.media),
        workflow=request.workflow,
        source_language=request.source_language,
        target_language=request.target_language,
        model=request.model,
        movie_id=request.movie_id,
        out=str(request.out) if request.out else None,
        no_cache=request.no_cache,
        reference=str(request.reference) if request.reference else None,
    )
    return result


def execute(request: JobRequest, settings: Settings, announce: bool = False) -> JobResult:
    """Serve from the store when every stage hits; otherwise run the Prefect flow, after
    telling the user (``announce``) how long it should take."""
    plan = prepare(request, settings)
    server = running_server(settings)
    if server:
        os.environ["PREFECT_API_URL"] = server
    elif settings.store_fast_path and plan.store.enabled:
        plan.cache_only = True
        try:
            return run_pipeline(plan, run_stage, orchestration="store-fast-path")
        except NeedsCompute:
            pass
        finally:
            plan.close()
    probe(request.media)  # bad media fails here, before Prefect starts
    estimate = learning.estimate(plan) if announce else None
    if estimate is not None and estimate.seconds is not None:
        err.print(
            f"estimate: about {estimate.seconds:.0f} s (from the {estimate.source}, "
            f"{estimate.samples} past jobs, trust {estimate.confidence:.0%})",
            highlight=False,
        )
    preload = threading.Thread(target=WhisperxEngine(plan.asr).preload, daemon=True)
    if not plan.would_hit_asr():
        # Load WhisperX while Prefect starts up and the audio is decoded: the two overlap.
        preload.start()
    try:
        result = JobResult.from_json(_run_flow(request))
    finally:
        if preload.is_alive():
            # Exiting mid-load (e.g. truncated media found by demux) aborts in CTranslate2.
            preload.join()
    return dataclasses.replace(
        result, orchestration="prefect-server" if server else "prefect-ephemeral"
    )


def _summary(result: JobResult) -> None:
    table = Table(title=f"cpwx {result.workflow}: {Path(result.media).name}", title_justify="left")
    for col in ("stage", "cache", "seconds", "why"):
        table.add_column(col)
    colour = {"hit": "green", "miss": "yellow", "off": "dim"}
    for name, rep in result.stages.items():
        table.add_row(
            name, f"[{colour[rep.cache]}]{rep.cache}[/]", f"{rep.seconds:.2f}", rep.reason
        )
    err.print(table)
    for fmt, path in {**result.source_outputs, **result.outputs}.items():
        err.print(f"  {fmt:<5} {path}", highlight=False)
    saved = sum(s.saved_seconds for s in result.stages.values())
    estimated = f" (estimated {result.estimate_seconds:.0f} s)" if result.estimate_seconds else ""
    err.print(
        f"done in [bold]{result.wall_seconds:.2f} s[/]{estimated} via {result.orchestration}"
        + (f", {saved:.1f} s of compute saved by the cache" if saved else ""),
        highlight=False,
    )
    if result.unshared:
        err.print(
            f"[yellow]{result.unshared} cache entries not shared yet[/] (the shared cache was "
            "unreachable): `cpwx cache push` shares them",
            highlight=False,
        )


MediaArg = Annotated[
    # Checked by the job (one-line errors), not by click's multi-line box.
    Path,
    typer.Argument(help="Video or audio file (anything ffmpeg reads).", readable=False),
]
WorkflowOpt = Annotated[str, typer.Option(help=f"One of: {', '.join(WORKFLOWS)}.")]
SourceOpt = Annotated[
    str | None, typer.Option(help="ISO 639-1 code of the dialogue (detected if omitted).")
]
TargetOpt = Annotated[str | None, typer.Option(help="ISO 639-1 code to translate into.")]
ModelOpt = Annotated[
    str | None, typer.Option(help="Whisper model from the catalog (default WHISPER_MODEL).")
]
MovieOpt = Annotated[str | None, typer.Option(help="Film id grouping jobs.")]
OutOpt = Annotated[Path | None, typer.Option(help="Output folder (default out/<name>).")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Recompute everything; still store fresh results.")
]
ReferenceOpt = Annotated[
    Path | None,
    typer.Option(help="The spoken text: the job's WER is reported and learned from."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show logs and tracebacks.")]


def _request(
    media: Path,
    workflow: str,
    source_language: str | None,
    target_language: str | None,
    model: str | None,
    movie_id: str | None,
    out: Path | None,
    no_cache: bool,
    reference: Path | None,
) -> JobRequest:
    if workflow not in WORKFLOWS:
        raise fail(f"unknown workflow {workflow!r}: use one of {', '.join(WORKFLOWS)}", 2)
    return JobRequest(
        media=media.expanduser().absolute(),
        workflow=workflow,
        source_language=source_language,
        target_language=target_language,
        model=model,
        movie_id=movie_id,
        out=out.expanduser().absolute() if out else None,
        no_cache=no_cache,
        reference=reference.expanduser().absolute() if reference else None,
    )


def _finish(job: Callable[[], JobResult], as_json: bool, debug: bool) -> None:
    """Run a job with progress on the terminal, then print its summary or its JSON; any
    failure is one line (a traceback only with --debug)."""
    try:
        with _stdout_to_stderr(), _progress(not as_json and not debug):
            result = job()
    except USER_ERRORS as exc:
        if debug:
            raise
        raise fail(str(exc) or type(exc).__name__) from None
    except Exception as exc:
        if debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise fail(f"{type(exc).__name__}: {first} (run with --debug for details)") from None
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _summary(result)


@app.command()
def run(
    media: MediaArg,
    workflow: WorkflowOpt = "transcribe",
    source_language: SourceOpt = None,
    target_language: TargetOpt = None,
    model: ModelOpt = None,
    movie_id: MovieOpt = None,
    out: OutOpt = None,
    no_cache: NoCacheOpt = False,
    reference: ReferenceOpt = None,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Subtitle one film: a first run computes, every later run reuses the cache."""
    configure_logging(debug, JOB_LOGGERS)
    request = _request(
        media,
        workflow,
        source_language,
        target_language,
        model,
        movie_id,
        out,
        no_cache,
        reference,
    )
    # Like the progress bars, the estimate is for a person watching a terminal.
    _finish(
        lambda: execute(request, load_settings(), announce=not as_json and err.is_terminal),
        as_json,
        debug,
    )


@app.command()
def submit(
    media: MediaArg,
    workflow: WorkflowOpt = "transcribe",
    source_language: SourceOpt = None,
    target_language: TargetOpt = None,
    model: ModelOpt = None,
    movie_id: MovieOpt = None,
    out: OutOpt = None,
    no_cache: NoCacheOpt = False,
    reference: ReferenceOpt = None,
    deployment: Annotated[
        str, typer.Option(help="The subtitle-job deployment to trigger.")
    ] = "subtitle-job/cpu",
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Trigger the subtitle-job deployment on the running Prefect server (`cpwx serve`) and
    follow the run to its end: the same output as `cpwx run`, the work done by the workers."""
    configure_logging(debug, JOB_LOGGERS)
    request = _request(
        media,
        workflow,
        source_language,
        target_language,
        model,
        movie_id,
        out,
        no_cache,
        reference,
    )
    _finish(lambda: submit_job(request, load_settings(), deployment), as_json, debug)


def main() -> None:
    app()
