"""``cpwx models``: every Whisper model a job could use, and whether its files are whole."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engines.models import ModelStatus, list_models

from ._console import emit, guard, settings_or_fail

__all__ = ["models"]


def _size(status: ModelStatus) -> str:
    return "-" if status.size is None else f"{status.size / 1e6:.0f} MB"


def models(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print exactly one JSON object on stdout.")
    ] = False,
) -> None:
    """List the Whisper models a job can name with --model or WHISPER_MODEL: the catalog's
    (WHISPER_MODEL_CATALOG), the cache folder's ($CACHE_DIR/models/whisperx/) and the bundled
    ones (checked against their published checksums). Exit 1 when one is damaged."""
    settings = settings_or_fail()
    found = guard(
        lambda: list_models(settings.whisper_model_catalog, settings.cache_path / "models")
    )
    damaged = [m for m in found if not m.checksum.startswith(("verified", "files complete"))]
    if as_json:
        emit({"models": [m.to_dict() for m in found]})
    else:
        table = Table(title="Whisper models", title_justify="left")
        for column in ("name", "from", "languages", "size", "checksum", "folder"):
            table.add_column(column)
        for m in found:
            languages = m.to_dict()["languages"] or "-"
            state = m.checksum if m in damaged else f"[green]{m.checksum}[/]"
            table.add_row(m.name, m.source, str(languages), _size(m), state, str(m.path or "-"))
        Console(highlight=False, width=200).print(table)
    raise typer.Exit(1 if damaged else 0)
