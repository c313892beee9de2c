"""``cpwx glossary``: add, show, export and import learned and user glossaries (layer 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from glossary import (
    GLOBAL_ID,
    TERM_TYPES,
    Glossary,
    GlossaryEntry,
    GlossaryError,
    GlossaryStore,
    term_type,
)

from ._console import emit, err, guard, open_or_fail, settings_or_fail

__all__ = ["app"]

app = typer.Typer(help="Learned and user glossaries (layer 5).", no_args_is_help=True)

Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
MovieArg = Annotated[str, typer.Argument(help=f"Film id, or {GLOBAL_ID!r}.")]
T = TypeVar("T")


def _store() -> GlossaryStore:
    return open_or_fail(settings_or_fail()).glossaries


def _translations(values: list[str]) -> tuple[tuple[str, str], ...]:
    pairs = []
    for value in values:
        lang, sep, text = value.partition("=")
        if not sep or not lang.strip() or not text.strip():
            raise GlossaryError(f"bad --translation {value!r}: use LANG=TEXT, e.g. gu=જય")
        pairs.append((lang.strip(), text.strip()))
    return tuple(pairs)


@app.command()
def add(
    term: Annotated[str, typer.Option("--term", help="The term as spoken in the source.")],
    kind: Annotated[str, typer.Option("--type", help=" | ".join(TERM_TYPES))],
    movie: Annotated[str, typer.Option("--movie", help=f"Film id, or {GLOBAL_ID!r}.")],
    translation: Annotated[
        list[str] | None, typer.Option("--translation", help="LANG=TEXT (repeatable).")
    ] = None,
    preserve: Annotated[
        bool, typer.Option("--preserve", help="Keep it untranslated in every language.")
    ] = False,
) -> None:
    """Add a user entry (it replaces the same term; learning never overwrites it)."""

    def build() -> Glossary:
        entry = GlossaryEntry(
            term=term.strip(),
            type=term_type(kind),
            source="user",
            translations=_translations(translation or []),
            preserve=preserve,
        )
        return _store().add(movie, entry)

    glossary = guard(build)
    print(f"added {term.strip()!r} ({kind}) to {glossary.movie_id}")


@app.command()
def show(movie_id: MovieArg, as_json: Json = False) -> None:
    """List a glossary's entries."""
    glossary = guard(lambda: _store().load(movie_id))
    if as_json:
        emit(glossary.to_dict())
        return
    if not glossary.entries:
        err.print(f"no glossary entries for {glossary.movie_id}", highlight=False)
        return
    table = Table(
        "term", "type", "frequency", "confidence", "source", "translations", title=glossary.movie_id
    )
    for e in glossary.entries:
        renderings = ", ".join(f"{lang}={text}" for lang, text in e.translations)
        if e.preserve:
            renderings = ", ".join(x for x in (renderings, "(kept as is)") if x)
        table.add_row(e.term, e.type, str(e.frequency), f"{e.confidence:.2f}", e.source, renderings)
    Console(soft_wrap=True).print(table)


@app.command("export")
def export_cmd(
    movie_id: MovieArg,
    file: Annotated[Path, typer.Argument(help="Target .json file.")],
) -> None:
    """Write a glossary as editable JSON."""
    glossary = guard(lambda: _store().export(movie_id, file))
    print(f"exported {len(glossary.entries)} entries of {glossary.movie_id} to {file}")


@app.command("import")
def import_cmd(file: Annotated[Path, typer.Argument(help="A glossary .json file.")]) -> None:
    """Check a glossary file completely, then merge it into its film's glossary."""
    glossary = guard(lambda: _store().import_file(file))
    terms = [e.term for e in glossary.entries]
    shown = ", ".join(terms[:10]) + (f", ... ({len(terms) - 10} more)" if len(terms) > 10 else "")
    print(
        f"imported {len(terms)} entries into {glossary.movie_id}" + (f": {shown}" if terms else "")
    )


@app.command("speakers")
def speakers_cmd(movie_id: MovieArg, as_json: Json = False) -> None:
    """List a film's speakers: labels, names, speech heard, names the dialogue calls them.

    The labels are the film's own, the same in each of its jobs; a name is given with
    `cpwx glossary speaker`. A name said to a speaker is shown as a hint, never applied.
    """
    store = _store()
    cast, glossary = guard(lambda: (store.cast(movie_id), store.load(movie_id)))

    def hints(shown: str) -> list[str]:
        """Names the dialogue said to this speaker (learned, never applied by themselves)."""
        return [
            e.term
            for e in glossary.entries
            if e.type == "character_name" and e.source != "user" and shown in e.speakers
        ]

    heard = [(m, hints(m.shown)) for m in cast.members]
    if as_json:
        rows = [
            {"label": m.label, "name": m.name, "seconds": round(m.seconds, 1), "hints": h}
            for m, h in heard
        ]
        emit({"movie_id": cast.movie_id, "speakers": rows})
        return
    if not heard:
        err.print(f"no speakers heard for {cast.movie_id} yet", highlight=False)
        return
    table = Table("label", "name", "speech (s)", "called (hint)", title=cast.movie_id)
    for m, h in heard:
        table.add_row(m.label, m.name or "", f"{m.seconds:.1f}", ", ".join(h))
    Console(soft_wrap=True).print(table)


@app.command("speaker")
def speaker_cmd(
    movie_id: MovieArg,
    label: Annotated[str, typer.Argument(help="A speaker label the film's subtitles show.")],
    name: Annotated[str, typer.Option("--name", help="What to call this speaker.")],
) -> None:
    """Name a film's speaker, as its later jobs will show that voice.

    Re-runs, re-cuts and the next episode with the same --movie-id show the voice under this
    name, in the JSON and the cues. Naming two labels alike merges them.
    """
    cast = guard(lambda: _store().name_speaker(movie_id, label, name))
    member = cast.member(name.strip())
    print(f"{cast.movie_id}: {member.label} is now {member.name}")
