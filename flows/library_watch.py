"""The library-watch flow: one pass over the LIBRARY_DIRS folders (scheduled), each film that
lacks a wanted language a subtitle-job run as ``cpwx watch`` does it, its sidecars beside it."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from jobs import JobRequest, JobResult, Library, LibraryOptions, LibraryPass, run_here
from pipeline.settings import load_settings

from .subtitle_job import run_prepared

__all__ = ["library_watch"]


def _markdown(swept: LibraryPass) -> str:
    rows = [
        f"| {item.media.name} | {item.status} | "
        + (", ".join(p.name for p in item.sidecars) or item.detail).replace("|", "\\|")
        + " |"
        for item in swept.items
    ]
    return "### Library pass\n\n| film | status | sidecars, or why |\n|---|---|---|\n" + "\n".join(
        rows
    )


@flow(name="library-watch")
def library_watch() -> dict[str, Any]:
    """Subtitle the films in LIBRARY_DIRS that lack LIBRARY_SOURCE_LANGUAGE (detected when
    unset) or LIBRARY_TARGET_LANGUAGE, as sidecars; a film that fails is logged and the pass
    goes on."""
    logger = get_run_logger()
    settings = load_settings()
    folders = settings.library_folders
    if not folders:
        logger.info("LIBRARY_DIRS is empty: nothing to watch")
        return LibraryPass().to_json()
    options = LibraryOptions(
        source_language=settings.library_source_language,
        target_language=settings.library_target_language,
    )

    def run_job(request: JobRequest) -> JobResult:
        return run_here(request, settings, run_prepared)  # each a subtitle-job subflow

    swept = Library(options, settings, run_job).sweep(folders)
    for item in swept.having("failed"):
        logger.warning("%s: %s", item.media, item.detail)
    create_markdown_artifact(
        key="library-watch", markdown=_markdown(swept), description="What the pass did per film"
    )
    return swept.to_json()
