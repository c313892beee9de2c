"""``cpwx check``: a subtitle file checked against a style profile, rule by rule, before anyone
watches it. Reads the file only: no cache, no job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cues import QcReport, read_cues
from cues import check as check_cues
from engines.languages import check_language
from pipeline import load_settings

from ._console import configure_logging, emit, guard

__all__ = ["check"]

# What the command cannot do is exit 2, so that 1 always means "a rule failed".
_USAGE = 2


def _offenders(failed: int, shown: tuple[int, ...]) -> str:
    listed = ", ".join(f"#{n}" for n in shown)
    return listed + (", ..." if failed > len(shown) else "")


def _print(report: QcReport, path: Path) -> None:
    out = Console(highlight=False)
    table = Table(title=f"cpwx check: {path.name} ({report.profile})", title_justify="left")
    for column in ("rule", "asks", "cues breaking it", "first of them"):
        table.add_column(column)
    for r in report.rules:
        count = f"[red]{r.failed}[/]" if r.failed else "[green]0[/]"
        table.add_row(r.rule, r.description, count, _offenders(r.failed, r.offenders))
    out.print(table)
    verdict = "[green]PASS[/]" if report.passed else "[red]FAIL[/]"
    out.print(
        f"{report.cues} cues, {report.passing_share:.1%} pass every rule: {verdict}", soft_wrap=True
    )


def check(
    subs: Annotated[
        Path,
        # Checked here (one-line errors), not by click's multi-line box.
        typer.Argument(help="An SRT, WebVTT, ASS or TTML file.", readable=False),
    ],
    profile: Annotated[
        str | None, typer.Option(help="Style profile: netflix, bbc (default SUBTITLE_PROFILE).")
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="ISO 639-1 code of the text, for its reading speed (e.g. hi: 22)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
) -> None:
    """Check subtitles against a style profile: exit 0 when every cue passes every rule,
    1 when any rule fails, 2 when the file or the options cannot be used."""
    configure_logging(debug)
    base = language and language.split("-")[0].lower()
    guard(lambda: check_language(base, targets=True), _USAGE, debug)
    settings = guard(load_settings, _USAGE, debug)
    rules = guard(lambda: settings.subtitle_profile_for(language, profile), _USAGE, debug)
    cues = guard(lambda: read_cues(subs), _USAGE, debug)
    report = check_cues(cues, rules, language)
    if as_json:
        emit({"file": str(subs), **report.to_dict()})
    else:
        _print(report, subs)
    raise typer.Exit(0 if report.passed else 1)
