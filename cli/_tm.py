"""``cpwx tm``: the translation memory (layer 4) in and out as TMX 1.4, and approvals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memory import read_tmx, write_tmx

from ._console import emit, fail, guard, open_or_fail, settings_or_fail

__all__ = ["app"]

app = typer.Typer(
    help="Translation memory (layer 4): TMX import/export, approval.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Lang = Annotated[str | None, typer.Option(help="ISO 639-1 code, e.g. hi.")]


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="A TMX file (OmegaT, Trados, Translate Toolkit).")],
    as_json: Json = False,
) -> None:
    """Add a TMX file's translations (as human translations) to the memory."""
    entries = guard(lambda: read_tmx(file))  # all of it, before anything is stored
    memory = open_or_fail(settings_or_fail()).memory
    stored = guard(lambda: memory.import_entries(entries))
    pairs = sorted({f"{e.source_lang}->{e.target_lang}" for e in entries})
    if as_json:
        emit({"file": str(file), "imported": stored, "pairs": pairs})
    else:
        print(f"imported {stored} translations ({', '.join(pairs) or 'none'}) from {file}")


@app.command("export")
def export_cmd(
    file: Annotated[Path, typer.Argument(help="The TMX file to write.")],
    source_language: Lang = None,
    target_language: Lang = None,
    as_json: Json = False,
) -> None:
    """Write the memory (or one language pair of it) as TMX 1.4."""
    memory = open_or_fail(settings_or_fail()).memory
    entries = guard(lambda: memory.entries(source_language, target_language))
    written = guard(lambda: write_tmx(entries, file))
    if as_json:
        emit({"file": str(file), "exported": written})
    else:
        print(f"exported {written} translation units to {file}")


@app.command("approve")
def approve_cmd(
    source: Annotated[str, typer.Argument(help="The source segment, exactly as transcribed.")],
    source_language: Annotated[str, typer.Option(help="ISO 639-1 code of the source.")],
    target_language: Annotated[str, typer.Option(help="ISO 639-1 code of the translation.")],
    target: Annotated[
        str | None, typer.Option(help="Your translation; without it, the stored ones.")
    ] = None,
    as_json: Json = False,
) -> None:
    """Approve a segment's translations: approved entries win ties and never expire."""
    memory = open_or_fail(settings_or_fail()).memory
    count = guard(lambda: memory.approve(source, source_language, target_language, target))
    if count == 0:
        raise fail(f"no translation of {source!r} ({source_language}->{target_language}) stored")
    if as_json:
        emit({"approved": count})
    else:
        print(f"approved {count} translation(s) of {source!r}")
