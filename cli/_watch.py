"""``cpwx watch``: sidecar subtitles for a media library (Jellyfin, Plex, Kodi), a pass over its
folders every ``--interval`` seconds until Ctrl-C, or one pass with ``--once``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from jobs import (
    SIDECAR_FORMATS,
    JobRequest,
    JobResult,
    Library,
    LibraryItem,
    LibraryOptions,
    run_here,
)

from ._console import configure_logging, emit, err, fail, guard, one_line, settings_or_fail
from ._run import (
    DebugOpt,
    ModelOpt,
    SourceOpt,
    TargetOpt,
    in_flow,
    progress_bars,
    stdout_to_stderr,
)

__all__ = ["watch"]


def _line(item: LibraryItem) -> None:
    """One line per film, as it is finished."""
    name = escape(item.media.name)
    if item.status == "done":
        made = ", ".join(escape(p.name) for p in item.sidecars)
        took = f" ({item.job.wall_seconds:.1f} s)" if item.job is not None else ""
        err.print(f"[green]done[/]    {name} -> {made}{took}", highlight=False, soft_wrap=True)
    elif item.status == "skipped":
        err.print(f"[dim]skipped {name}: {escape(item.detail)}[/]", highlight=False, soft_wrap=True)
    else:
        err.print(f"[red]failed[/]  {name}: {escape(item.detail)}", highlight=False, soft_wrap=True)


def watch(
    folders: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Library folders, searched through (default LIBRARY_DIRS).", show_default=False
        ),
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.", min=1)] = 60,
    source_language: SourceOpt = None,
    target_language: TargetOpt = None,
    model: ModelOpt = None,
    formats: Annotated[
        str, typer.Option(help=f"Sidecars to write: any of {','.join(SIDECAR_FORMATS)}.")
    ] = "srt",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per pass on stdout.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Subtitle new films in a media library: Film (2008).mkv gets Film (2008).hi.srt beside it
    (and Film (2008).en.srt with --target-language en). A language it has already, as a sidecar
    or an internal subtitle track, is skipped; no sidecar is ever overwritten."""
    configure_logging(debug)
    settings = settings_or_fail()
    where = tuple(folders or settings.library_folders)
    if not where:
        raise fail("no folders to watch: name them, or set LIBRARY_DIRS", 2)
    options = LibraryOptions(
        source_language=source_language or settings.library_source_language,
        target_language=target_language or settings.library_target_language,
        model=model,
        formats=tuple(f.strip() for f in formats.split(",") if f.strip()),
    )

    def run_job(request: JobRequest) -> JobResult:
        with stdout_to_stderr(), progress_bars(not as_json and not debug) as listen:
            return run_here(request, settings, in_flow, listen)

    library = guard(
        lambda: Library(options, settings, run_job, one_line, None if as_json else _line), 2, debug
    )
    try:
        while True:
            swept = guard(lambda: library.sweep(where), debug=debug)
            if as_json:
                emit(swept.to_json())
            if once:
                raise typer.Exit(1 if swept.having("failed") else 0)
            time.sleep(interval)
    except KeyboardInterrupt:
        err.print("stopped", highlight=False)
