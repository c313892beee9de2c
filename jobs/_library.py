"""A media library's subtitles as sidecars, where Jellyfin, Plex and Kodi look for them:
``Film (2008).mkv`` gets ``Film (2008).hi.srt`` (the dialogue's language) and, when translating,
``Film (2008).en.srt``. A language the film shows already (a sidecar in any subtitle format, an
internal subtitle track) is left alone; a sidecar is never overwritten, the media never touched.
Each film is an ordinary job, so a film seen before, or a re-cut of one, costs little."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from engines.languages import LanguageError, check_language
from engines.media import SubtitleTrack, probe, same_language
from pipeline import Settings, Workflow

from ._errors import first_line
from ._request import JobError, JobRequest
from ._result import JobResult
from ._warmup import media_files

__all__ = [
    "SIDECAR_FORMATS",
    "Library",
    "LibraryItem",
    "LibraryOptions",
    "LibraryPass",
    "check_folders",
    "covered",
    "sidecar_path",
    "write_sidecar",
]

log = logging.getLogger("jobs.library")

# What is subtitled: video, and audio (a radio play, an audio-only rip) the servers play too.
_VIDEO = "mkv mp4 m4v avi mov wmv webm ts m2ts mts mpg mpeg flv ogv 3gp"
_AUDIO = "mka mp3 m4a aac flac wav ogg opus wma"
MEDIA_SUFFIXES = frozenset(f".{ext}" for ext in f"{_VIDEO} {_AUDIO}".split())
# The sidecars the job can write, and those a media server reads (any of them covers a language).
SIDECAR_FORMATS = ("srt", "vtt", "ass")
_SUBTITLE_SUFFIXES = frozenset({".srt", ".vtt", ".ass", ".ssa", ".sub", ".smi"})

Status = Literal["done", "skipped", "failed"]


@dataclass(frozen=True)
class LibraryOptions:
    """What every film in the library is asked for."""

    source_language: str | None = None  # None: detected per film
    target_language: str | None = None
    model: str | None = None
    formats: tuple[str, ...] = ("srt",)

    def check(self) -> None:
        """Raise JobError for a language or format no job could use, before any film is seen."""
        try:
            check_language(self.source_language, "source")
            check_language(self.target_language, "target", targets=True)
        except LanguageError as exc:
            raise JobError(str(exc)) from None
        odd = [f for f in self.formats if f not in SIDECAR_FORMATS]
        if odd or not self.formats:
            raise JobError(
                f"--formats {','.join(self.formats)}: sidecars are any of "
                f"{', '.join(SIDECAR_FORMATS)}"
            )

    @property
    def workflow(self) -> Workflow:
        return "transcribe" if self.target_language in (None, self.source_language) else "subtitle"

    @property
    def languages(self) -> tuple[str, ...]:
        """The languages wanted, as far as they are known before the job runs."""
        wanted = (self.source_language, self.target_language)
        return tuple(dict.fromkeys(lang for lang in wanted if lang))


@dataclass(frozen=True)
class LibraryItem:
    media: Path
    status: Status
    detail: str = ""  # why it was skipped; the one-line error
    sidecars: tuple[Path, ...] = ()  # written by this pass
    job: JobResult | None = None  # the job it ran, if it ran one

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"media": str(self.media)}
        if self.status == "done":
            out["sidecars"] = [str(p) for p in self.sidecars]
        else:
            out["reason" if self.status == "skipped" else "error"] = self.detail
        if self.job is not None:
            out["job"] = self.job.to_json()
        return out


@dataclass(frozen=True)
class LibraryPass:
    items: tuple[LibraryItem, ...] = field(default_factory=tuple)

    def having(self, status: Status) -> tuple[LibraryItem, ...]:
        return tuple(item for item in self.items if item.status == status)

    def to_json(self) -> dict[str, Any]:
        statuses: tuple[Status, ...] = ("done", "skipped", "failed")
        return {s: [item.to_json() for item in self.having(s)] for s in statuses}


def check_folders(folders: Iterable[Path]) -> tuple[Path, ...]:
    """The folders, absolute; JobError for one that is missing or is a file."""
    checked = []
    for folder in folders:
        if not folder.exists():
            raise JobError(f"{folder}: no such folder")
        if not folder.is_dir():
            raise JobError(f"{folder}: not a folder")
        checked.append(folder.expanduser().absolute())
    return tuple(checked)


def sidecar_path(media: Path, language: str, fmt: str) -> Path:
    return media.with_name(f"{media.stem}.{language}.{fmt}")


def _sidecar_language(media: Path, candidate: Path) -> str | None:
    """The language a subtitle file beside ``media`` is named for (``Film.hin.forced.srt``:
    ``hin``), None when it is not one of its sidecars."""
    prefix = media.stem + "."
    if candidate.suffix.lower() not in _SUBTITLE_SUFFIXES or not candidate.name.startswith(prefix):
        return None
    tags = candidate.name[len(prefix) : -len(candidate.suffix)].split(".")
    return tags[0] or None


def covered(media: Path, language: str, tracks: Iterable[SubtitleTrack]) -> str | None:
    """Why ``media`` needs no subtitles in ``language`` (a sidecar, an internal track), or None."""
    for sibling in sorted(media.parent.iterdir()):
        if same_language(_sidecar_language(media, sibling), language):
            return f"has {sibling.name}"
    for track in tracks:
        if same_language(track.language, language):
            return f"has an internal {language} subtitle track (0:s:{track.number}, {track.codec})"
    return None


def write_sidecar(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` through a temporary file in its folder, so a media server
    never reads half a file. Never overwrites: False when ``target`` exists."""
    if target.exists():
        return False
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temp.write_bytes(source.read_bytes())
        try:
            os.link(temp, target)  # fails if a sidecar appeared meanwhile
        except FileExistsError:
            return False
        except OSError:  # no hard links on this filesystem (FAT, some network shares)
            if target.exists():
                return False
            temp.replace(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
    return True


class Library:
    """Passes over a library's folders, one job per film that lacks a wanted language. A film
    that failed is not tried again, in this process, until its size or time changes."""

    def __init__(
        self,
        options: LibraryOptions,
        settings: Settings,
        run: Callable[[JobRequest], JobResult],
        explain: Callable[[Exception], str] = first_line,
        on_item: Callable[[LibraryItem], None] | None = None,
    ) -> None:
        options.check()
        self.options = options
        self.settings = settings
        self._run = run
        self._explain = explain
        self._on_item = on_item
        self._failed: dict[Path, tuple[int, int, str]] = {}  # size, mtime, error

    def sweep(self, folders: Iterable[Path]) -> LibraryPass:
        films = sorted(
            {
                path.absolute()
                for folder in check_folders(folders)
                for path in media_files(folder)
                if path.suffix.lower() in MEDIA_SUFFIXES
            }
        )
        items = []
        for media in films:
            item = self.subtitle(media)
            if self._on_item is not None:
                self._on_item(item)
            items.append(item)
        return LibraryPass(tuple(items))

    def subtitle(self, media: Path) -> LibraryItem:
        """Skip, subtitle or fail one film; never raises for the film's own faults."""
        try:
            stat = media.stat()
            seen = self._failed.get(media)
            if seen is not None and seen[:2] == (stat.st_size, stat.st_mtime_ns):
                return LibraryItem(media, "skipped", f"failed before, unchanged since: {seen[2]}")
            return self._subtitle(media)
        except Exception as exc:
            log.info("%s failed", media, exc_info=True)  # the traceback, with --debug
            error = self._explain(exc)
            with contextlib.suppress(OSError):
                stat = media.stat()
                self._failed[media] = (stat.st_size, stat.st_mtime_ns, error)
            return LibraryItem(media, "failed", error)

    def _subtitle(self, media: Path) -> LibraryItem:
        tracks = probe(media).subtitles  # bad media fails here, before a job is prepared
        if self.options.source_language is not None:
            known = [covered(media, lang, tracks) for lang in self.options.languages]
            if all(known):
                return LibraryItem(media, "skipped", "; ".join(r for r in known if r))
        result = self._run(self.request(media))
        written: list[Path] = []
        reasons: list[str] = []
        for language, files in _subtitles(result):
            reason = covered(media, language, tracks)
            if reason is not None:
                reasons.append(reason)
                continue
            for fmt in self.options.formats:
                target = sidecar_path(media, language, fmt)
                if write_sidecar(Path(files[fmt]), target):
                    written.append(target)
        if not written:
            return LibraryItem(media, "skipped", "; ".join(reasons), job=result)
        return LibraryItem(media, "done", sidecars=tuple(written), job=result)

    def request(self, media: Path) -> JobRequest:
        """The film's job: its files under the cache dir (one folder per film path), in the
        sidecar formats only; the sidecars are copies of them."""
        key = hashlib.sha1(str(media).encode(), usedforsecurity=False).hexdigest()[:8]
        return JobRequest(
            media=media,
            workflow=self.options.workflow,
            source_language=self.options.source_language,
            target_language=self.options.target_language,
            model=self.options.model,
            out=self.settings.cache_path / "library" / f"{media.stem}-{key}",
            formats=",".join(self.options.formats),
        )


def _subtitles(result: JobResult) -> list[tuple[str, dict[str, str]]]:
    """Each language's subtitle files, the dialogue's first."""
    if result.workflow == "transcribe":
        return [(result.source_language, result.outputs)]
    assert result.target_language is not None
    return [
        (result.source_language, result.source_outputs),
        (result.target_language, result.outputs),
    ]
