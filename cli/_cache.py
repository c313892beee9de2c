"""``cpwx cache``: stats, cleanup, push, clear, invalidate, export/import, validate, warm-up."""

from __future__ import annotations

import dataclasses
import re
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import cache_manager as cm
import cache_store as cs
from engines.fingerprint import hash_pcm
from engines.media import demux
from jobs import media_files, warm
from jobs.report import cleanup_markdown, human_bytes, stats_html, stats_text

from ._console import USER_ERRORS, emit, err, fail, guard, open_or_fail, settings_or_fail, stats_for

app = typer.Typer(help="Inspect and maintain the cache (ccache -s style).", no_args_is_help=True)

_HASH = re.compile(r"^[0-9a-f]{64}$")
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]


@app.command("stats")
def stats_cmd(
    days: Annotated[int, typer.Option(help="Window for hits and misses.", min=1)] = 30,
    as_json: Json = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Count miss reasons.")] = False,
    html: Annotated[Path | None, typer.Option(help="Also write an HTML report here.")] = None,
) -> None:
    """Sizes per layer, hits and misses, time and money saved."""
    report = guard(lambda: stats_for(settings_or_fail(), days))
    if html is not None:
        html.write_text(stats_html(report), encoding="utf-8")
        err.print(f"wrote {html}", highlight=False)
    if as_json:
        emit(report.to_json())
    else:
        print(stats_text(report, verbose=verbose))


@app.command()
def cleanup(
    days: Annotated[int | None, typer.Option(help="Expire entries older than this.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    by_usage: Annotated[bool, typer.Option("--by-usage", help="Keep only the most used.")] = False,
    keep_top: Annotated[int, typer.Option(help="With --by-usage: entries to keep.")] = 100,
    as_json: Json = False,
) -> None:
    """TTL expiry, then the CACHE_MAX_SIZE_GB cap (LRU weighted by compute per byte)."""
    settings = settings_or_fail()
    report = guard(
        lambda: cm.cleanup(
            open_or_fail(settings),
            max_bytes=settings.cache_max_bytes,
            days=days,
            keep_top=keep_top if by_usage else None,
            dry_run=dry_run,
        )
    )
    if as_json:
        emit(report.to_json())
    else:
        print(cleanup_markdown(report).removeprefix("### Cache cleanup\n\n"))


@app.command()
def push(as_json: Json = False) -> None:
    """Check the shared cache (CACHE_BACKEND=shared) and share what this host stored while it
    was unreachable (jobs also try at their end). Exit status 1 while entries still wait."""
    cache = open_or_fail(settings_or_fail())
    shared = cache.shared
    if shared is None:
        raise fail("no shared cache to push to: set CACHE_BACKEND=shared (README: team cache)")
    try:
        shared.objects.check()
        shared.index.usage()
    except cs.SharedUnavailableError as exc:
        raise fail(f"the shared cache is unavailable: {exc}") from None
    before = len(shared.held())
    left = guard(cache.share_pending)
    entries, size = shared.call(shared.index.usage, (0, 0))
    if as_json:
        emit(
            {
                "shared": before - left,
                "waiting": left,
                "where": shared.where,
                "entries": entries,
                "bytes": size,
            }
        )
    else:
        print(
            f"{shared.where}: {entries} entries ({human_bytes(size)}); shared {before - left} "
            f"from this host, {left} still waiting"
        )
    if left:
        raise typer.Exit(1)


@app.command()
def clear(
    layer: Annotated[
        str,
        typer.Argument(
            help="A layer (fingerprints, asr, translations, ...), glossary, models, or all."
        ),
    ],
    keep_models: Annotated[bool, typer.Option("--keep-models", help="With all.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Remove a whole layer (or all of them)."""
    settings = settings_or_fail()
    cache = open_or_fail(settings)
    choices = cm.clearable(cache)
    if layer not in (*choices, "all"):
        raise fail(f"unknown layer {layer!r}: use one of {', '.join((*choices, 'all'))}", 2)
    layers = (
        tuple(x for x in choices if not (keep_models and x == "models"))
        if layer == "all"
        else (layer,)
    )
    if not yes:
        if not sys.stdin.isatty():
            raise fail("refusing to clear without --yes when not on a terminal", 2)
        typer.confirm(f"Clear {', '.join(layers)} in {settings.cache_path}?", abort=True)
    removed = guard(lambda: cm.clear(cache, layers))
    for name, n in removed.items():
        print(f"cleared {name}: {n}")


@app.command()
def invalidate(
    target: Annotated[str, typer.Argument(help="A media file, or an audio hash (64 hex).")],
) -> None:
    """Remove an audio hash and everything derived from it (fingerprint, ASR, translations)."""
    settings = settings_or_fail()
    cache = open_or_fail(settings)

    def audio_hash() -> str:
        path = Path(target)
        if _HASH.match(target) and not path.exists():
            return target
        sources = cache.store.sources
        known = sources.audio_hash_for(cs.SourceStat.of(path)) if path.is_file() else None
        if known:
            return known
        with tempfile.TemporaryDirectory(prefix="cpwx-") as tmp:
            return hash_pcm(demux(path, Path(tmp) / "audio.wav"))

    digest = guard(audio_hash)
    counts = guard(lambda: cm.invalidate(cache, digest))
    print(f"invalidated {digest[:8]}...: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


@app.command("export")
def export_cmd(
    archive: Annotated[Path, typer.Argument(help="Target .tar.gz.")],
    layer: Annotated[list[str] | None, typer.Option(help="Layer to export (repeatable).")] = None,
) -> None:
    """Write a portable archive: payloads plus their index rows."""
    cache = open_or_fail(settings_or_fail())
    known = cache.store.layers
    layers = tuple(layer or known)
    if bad := [x for x in layers if x not in known]:
        raise fail(f"cannot export {bad[0]!r}: use {', '.join(known)}", 2)
    n = guard(lambda: cm.export_archive(cache, archive, layers))
    print(f"exported {n} entries to {archive}")


@app.command("import")
def import_cmd(archive: Annotated[Path, typer.Argument(help="A cpwx export (.tar.gz).")]) -> None:
    """Verify an archive completely, then merge it into this cache."""
    report = guard(lambda: cm.import_archive(open_or_fail(settings_or_fail()), archive))
    print(f"imported {report.imported} entries ({report.already_present} already present)")


@app.command()
def validate(
    fix: Annotated[bool, typer.Option("--fix", help="Quarantine, drop, adopt, tidy.")] = False,
    as_json: Json = False,
) -> None:
    """Check every payload against its checksum and the index; exit 1 if anything is wrong."""
    report = guard(lambda: cs.validate(open_or_fail(settings_or_fail()).store, fix=fix))
    if as_json:
        emit(dataclasses.asdict(report) | {"ok": report.ok})
    else:
        for p in report.problems:
            print(f"{p.kind}: {p.path}" + (f" ({p.detail})" if p.detail else ""))
        print(
            f"checked {report.checked} entries: "
            + ("ok" if report.ok else f"{len(report.problems)} problems")
            + (" (fixed)" if fix and report.problems else "")
        )
    if report.problems and not fix:
        raise typer.Exit(1)


@app.command("rebuild-index")
def rebuild_index() -> None:
    """Rebuild the index from the payload files alone."""
    indexed, bad = guard(lambda: cm.rebuild_index(open_or_fail(settings_or_fail())))
    print(f"rebuilt the index: {indexed} entries, {bad} damaged payloads quarantined")


@app.command("list-largest")
def list_largest(top: Annotated[int, typer.Option(min=1)] = 20, as_json: Json = False) -> None:
    """The biggest entries and model folders."""
    rows = guard(lambda: cs.list_largest(open_or_fail(settings_or_fail()).store, top))
    if as_json:
        emit([{"layer": layer, "name": name, "bytes": size} for layer, name, size in rows])
        return
    table = Table("layer", "entry", "size")
    for layer, name, size in rows:
        table.add_row(layer, name, human_bytes(size))
    err.print(table)


@app.command()
def warmup(
    directory: Annotated[Path, typer.Argument(help="Folder of media files.")],
    model: Annotated[str | None, typer.Option(help="Whisper model from the catalog.")] = None,
) -> None:
    """Fingerprint and transcribe every media file in DIR into the cache."""
    if not directory.is_dir():
        raise fail(f"{directory}: not a directory")
    settings = settings_or_fail()
    files = media_files(directory)
    progress = Progress(
        TextColumn("warm-up"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
    )
    counts: dict[str, int] = {}
    with progress:
        task = progress.add_task("", total=len(files))
        try:
            for item in warm(files, settings, model):
                progress.update(task, advance=1, description=Path(item.path).name)
                counts[item.status] = counts.get(item.status, 0) + 1
                if item.status == "skipped":
                    err.print(f"skipped {item.path}: {item.detail}", highlight=False)
        except USER_ERRORS as exc:
            raise fail(str(exc)) from None
    print(f"warmed {len(files)} files: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
