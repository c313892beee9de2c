"""A media library's sidecars: their names, the languages they and internal subtitle tracks
cover (ISO 639-1 and 639-2), the skip rules, and writing that is atomic and never overwrites.
Real ffmpeg media; the job itself is a stand-in that writes an SRT, so no model loads."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engines.media import probe
from jobs import (
    JobRequest,
    JobResult,
    Library,
    LibraryOptions,
    covered,
    sidecar_path,
    write_sidecar,
)
from pipeline import load_settings
from testkit import ffmpeg

SRT = "1\n00:00:00,500 --> 00:00:02,000\nHello there.\n"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two seconds of tone with a picture: probe-able media (the stand-in job never hears it)."""
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    ffmpeg(
        *("-f", "lavfi", "-i", "color=c=navy:s=160x90:r=5:d=2"),
        *("-f", "lavfi", "-i", "sine=f=300:d=2"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(out)),
    )
    return out


def _film(clip: Path, folder: Path, name: str = "Film (2008).mkv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    film = folder / name
    ffmpeg("-i", str(clip), "-c", "copy", str(film))
    return film


class StandIn:
    """A job that 'hears' ``language`` and writes its SRT (and the translation's)."""

    def __init__(self, language: str = "hi") -> None:
        self.language = language
        self.requests: list[JobRequest] = []

    def __call__(self, request: JobRequest) -> JobResult:
        self.requests.append(request)
        assert request.out is not None
        request.out.mkdir(parents=True, exist_ok=True)
        files = {}
        for lang in (self.language, request.target_language):
            if lang is not None:
                path = request.out / f"{request.media.stem}.{lang}.srt"
                path.write_text(f"{SRT}{lang}\n")
                files[lang] = {"srt": str(path)}
        target = request.target_language
        return JobResult(
            job_id="job",
            media=str(request.media),
            workflow=request.workflow,
            audio_hash="0" * 64,
            source_language=self.language,
            target_language=target,
            model="tiny.en",
            outputs=files[target or self.language],
            source_outputs=files[self.language] if request.workflow == "subtitle" else {},
            stages={},
            wall_seconds=0.1,
        )


def _library(tmp_path: Path, job: StandIn, **options: str) -> Library:
    settings = load_settings(env_file=tmp_path / "none.env", cache_dir=tmp_path / "cache")
    return Library(LibraryOptions(**options), settings, job)


def test_sidecars_are_named_as_media_servers_expect(tmp_path: Path) -> None:
    film = tmp_path / "Film (2008).mkv"
    assert sidecar_path(film, "hi", "srt") == tmp_path / "Film (2008).hi.srt"
    assert sidecar_path(film, "en", "vtt").name == "Film (2008).en.vtt"


@pytest.mark.parametrize(
    "sidecar",
    ["Film.hi.srt", "Film.hin.srt", "Film.hi.forced.srt", "Film.hi.sdh.srt", "Film.hin.vtt",
     "Film.hi.ass", "Film.HI.SRT"],
)  # fmt: skip
def test_a_sidecar_in_any_code_and_format_covers_its_language(tmp_path: Path, sidecar: str) -> None:
    film = tmp_path / "Film.mkv"
    (tmp_path / sidecar).write_text(SRT)
    assert covered(film, "hi", ()) == f"has {sidecar}"
    assert covered(film, "en", ()) is None


def test_other_films_and_other_files_cover_nothing(tmp_path: Path) -> None:
    film = tmp_path / "Film.mkv"
    for name in ("Film 2.hi.srt", "Film.hi.nfo", "Other.hi.srt", "Film.srt"):
        (tmp_path / name).write_text(SRT)
    assert covered(film, "hi", ()) is None


@pytest.mark.parametrize(
    ("name", "codec", "probed"),
    [("Film.mkv", "srt", "subrip"), ("Film.mp4", "mov_text", "mov_text")],
)
def test_an_internal_subtitle_track_covers_its_language(
    clip: Path, tmp_path: Path, name: str, codec: str, probed: str
) -> None:
    (tmp_path / "in.srt").write_text(SRT)
    film = tmp_path / name
    ffmpeg(
        *("-i", str(clip), "-i", str(tmp_path / "in.srt")),
        *("-map", "0", "-map", "1", "-c:v", "copy", "-c:a", "copy", "-c:s", codec),
        *("-metadata:s:s:0", "language=hin", str(film)),
    )
    tracks = probe(film).subtitles
    assert [(t.number, t.language) for t in tracks] == [(0, "hin")]
    assert covered(film, "hi", tracks) == f"has an internal hi subtitle track (0:s:0, {probed})"
    assert covered(film, "en", tracks) is None


def test_a_sidecar_is_written_whole_and_never_overwritten(tmp_path: Path) -> None:
    source = tmp_path / "job.srt"
    source.write_text(SRT)
    target = tmp_path / "Film.hi.srt"
    assert write_sidecar(source, target)
    assert target.read_text() == SRT
    source.write_text("a different transcript")
    assert not write_sidecar(source, target)
    assert target.read_text() == SRT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Film.hi.srt", "job.srt"]  # no temp


def test_a_given_language_already_shown_skips_the_film(clip: Path, tmp_path: Path) -> None:
    film = _film(clip, tmp_path / "lib")
    (tmp_path / "lib" / "Film (2008).hin.forced.srt").write_text(SRT)
    job = StandIn()
    swept = _library(tmp_path, job, source_language="hi").sweep([tmp_path / "lib"])
    assert [(i.media, i.status, i.detail) for i in swept.items] == [
        (film, "skipped", "has Film (2008).hin.forced.srt")
    ]
    assert job.requests == []  # no job at all


def test_only_the_missing_language_is_written(clip: Path, tmp_path: Path) -> None:
    film = _film(clip, tmp_path / "lib")
    mine = tmp_path / "lib" / "Film (2008).hi.srt"
    mine.write_text("the user's own")
    original = film.read_bytes()
    job = StandIn()
    swept = _library(tmp_path, job, source_language="hi", target_language="en").sweep(
        [tmp_path / "lib"]
    )
    [item] = swept.items
    assert item.status == "done" and item.sidecars == (film.with_name("Film (2008).en.srt"),)
    assert item.sidecars[0].read_text() == f"{SRT}en\n"
    assert mine.read_text() == "the user's own"
    assert film.read_bytes() == original
    [request] = job.requests
    assert request.workflow == "subtitle" and request.formats == "srt"
    assert request.out is not None and request.out.parent == tmp_path / "cache" / "library"
    again = _library(tmp_path, job, source_language="hi", target_language="en").sweep(
        [tmp_path / "lib"]
    )
    assert [i.status for i in again.items] == ["skipped"] and len(job.requests) == 1


def test_a_detected_language_is_written_only_where_missing(clip: Path, tmp_path: Path) -> None:
    film = _film(clip, tmp_path / "lib")
    job = StandIn("hi")
    library = _library(tmp_path, job)
    [first] = library.sweep([tmp_path / "lib"]).items
    assert first.status == "done" and first.sidecars == (film.with_name("Film (2008).hi.srt"),)
    [second] = library.sweep([tmp_path / "lib"]).items  # the language is known only by the job
    assert (second.status, second.detail) == ("skipped", "has Film (2008).hi.srt")
    assert len(job.requests) == 2 and job.requests[0].workflow == "transcribe"


def test_a_failure_is_one_line_remembered_until_the_file_changes(
    clip: Path, tmp_path: Path
) -> None:
    good = _film(clip, tmp_path / "lib", "Good.mp4")
    bad = tmp_path / "lib" / "Bad.mkv"
    bad.write_text("not a film")
    (tmp_path / "lib" / "notes.txt").write_text("not media: never looked at")
    job = StandIn("en")
    library = _library(tmp_path, job)
    swept = library.sweep([tmp_path / "lib"])
    statuses = [(i.media.name, i.status) for i in swept.items]
    assert statuses == [("Bad.mkv", "failed"), ("Good.mp4", "done")]
    [failed] = swept.having("failed")
    assert "not readable media" in failed.detail and "\n" not in failed.detail
    again = library.sweep([tmp_path / "lib"]).having("skipped")[0]
    assert again.media == bad and again.detail.startswith("failed before, unchanged since:")
    stat = bad.stat()
    os.utime(bad, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert [i.media for i in library.sweep([tmp_path / "lib"]).having("failed")] == [bad]
    assert [r.media for r in job.requests] == [good, good, good]


@pytest.mark.parametrize("what", ["missing", "file"])
def test_a_folder_that_is_not_one_is_refused(tmp_path: Path, what: str) -> None:
    from jobs import JobError

    folder = tmp_path / "lib"
    if what == "file":
        folder.write_text("")
    with pytest.raises(JobError, match="no such folder" if what == "missing" else "not a folder"):
        _library(tmp_path, StandIn()).sweep([folder])
