"""``cpwx run`` and ``cpwx submit``: one job, here or on a running server's workers, with a
progress bar on a terminal, then its summary or its JSON."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from jobs import JobRequest, JobResult, run_here, submit_job
from jobs.report import language_summary, qc_summary
from optimizer import Prediction
from pipeline import WORKFLOWS, JobPlan, JobState, load_settings

from ._console import configure_logging, err, fail, one_line

__all__ = ["in_flow", "progress_bars", "run", "stdout_to_stderr", "submit"]


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
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
def progress_bars(enabled: bool) -> Iterator[Callable[[str, float], None] | None]:
    """A bar per stage that reports how far it is; None when no one is watching."""
    if not enabled:
        yield None
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

    with progress:
        yield listen


def in_flow(
    request: JobRequest,
    plan: JobPlan,
    state: JobState,
    expected: Prediction | None,
    server: str | None,
) -> JobResult:
    """The job as the subtitle-job flow here: Prefect loads only now, when it is needed."""
    from flows.subtitle_job import run_prepared

    return run_prepared(request, plan, state, expected, server)


def _announce(estimate: Prediction) -> None:
    if estimate.seconds is not None:
        err.print(
            f"estimate: about {estimate.seconds:.0f} s (from the {estimate.source}, "
            f"{estimate.samples} past jobs, trust {estimate.confidence:.0%})",
            highlight=False,
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
    err.print(language_summary(result), highlight=False)
    for qc in (result.source_qc, result.qc):
        if qc is not None:
            err.print(f"[{'green' if qc.passed else 'yellow'}]{qc_summary(qc)}[/]", highlight=False)
    for fmt, path in {**result.source_outputs, **result.outputs}.items():
        err.print(f"  {fmt:<5} {path}", highlight=False)
    saved = result.saved_seconds
    estimates = [
        f"{s:.0f} s" for s in (result.estimate_seconds, result.refined_estimate_seconds) if s
    ]
    estimated = f" (estimated {', refined to '.join(estimates)})" if estimates else ""
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
TargetOpt = Annotated[
    str | None,
    typer.Option(
        help="ISO 639-1 code to translate into: en by Whisper's translate task, any other "
        "language by TRANSLATION_MODEL."
    ),
]
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
FormatsOpt = Annotated[
    str | None,
    typer.Option(help="Subtitle files: any of srt,vtt,ass,ttml,json (default SUBTITLE_FORMATS)."),
]
TrackOpt = Annotated[
    int | None,
    typer.Option(
        help="Audio track to hear, 0 for the first (default: the one tagged with "
        "--source-language, else the default track; never commentary or audio description).",
        min=0,
    ),
]
ScriptOpt = Annotated[
    str,
    typer.Option(help="native, or latin: Hindi (any Indic script) romanized as people type it."),
]
SpeakersOpt = Annotated[
    int | None,
    typer.Option(help="How many people speak, when known (default: diarization finds out).", min=1),
]
LabelsOpt = Annotated[
    bool,
    typer.Option(
        "--speaker-labels",
        help='Start a cue with its speaker ("[Jai]") where the speaker changes.',
    ),
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
    formats: str | None,
    audio_track: int | None,
    script: str,
    speakers: int | None,
    speaker_labels: bool,
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
        formats=formats,
        audio_track=audio_track,
        script=script,
        speakers=speakers,
        speaker_labels=speaker_labels,
    )


def _finish(
    job: Callable[[Callable[[str, float], None] | None], JobResult], as_json: bool, debug: bool
) -> None:
    """Run a job with progress on the terminal, then print its summary or its JSON; any
    failure is one line (a traceback only with --debug)."""
    try:
        with stdout_to_stderr(), progress_bars(not as_json and not debug) as listen:
            result = job(listen)
    except Exception as exc:
        if debug:
            raise
        raise fail(one_line(exc)) from None
    if as_json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        _summary(result)


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
    formats: FormatsOpt = None,
    audio_track: TrackOpt = None,
    script: ScriptOpt = "native",
    speakers: SpeakersOpt = None,
    speaker_labels: LabelsOpt = False,
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Subtitle one film: a first run computes, every later run reuses the cache."""
    configure_logging(debug)  # before Prefect is imported: it reads its logging settings then
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
        formats,
        audio_track,
        script,
        speakers,
        speaker_labels,
    )
    # Like the progress bars, the estimate is for a person watching a terminal.
    announce = _announce if not as_json and err.is_terminal else None

    def job(listen: Callable[[str, float], None] | None) -> JobResult:
        return run_here(request, load_settings(), in_flow, listen, announce)

    _finish(job, as_json, debug)


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
    formats: FormatsOpt = None,
    audio_track: TrackOpt = None,
    script: ScriptOpt = "native",
    speakers: SpeakersOpt = None,
    speaker_labels: LabelsOpt = False,
    deployment: Annotated[
        str, typer.Option(help="The subtitle-job deployment to trigger.")
    ] = "subtitle-job/cpu",
    as_json: JsonOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Trigger the subtitle-job deployment on the running Prefect server (`cpwx serve`) and
    follow the run to its end: the same output as `cpwx run`, the work done by the workers."""
    configure_logging(debug)
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
        formats,
        audio_track,
        script,
        speakers,
        speaker_labels,
    )

    def submitted(url: str) -> None:
        err.print(f"submitted: {url}", highlight=False)

    def job(listen: Callable[[str, float], None] | None) -> JobResult:
        return submit_job(request, load_settings(), deployment, listen, submitted)

    _finish(job, as_json, debug)
