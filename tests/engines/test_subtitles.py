from __future__ import annotations

import json
from pathlib import Path

from engines.subtitles import format_timestamp, to_srt, to_vtt, write_all
from records import Segment, Transcript

T = Transcript(
    language="en",
    segments=(
        Segment(0.0, 1.25, "Hello there."),
        Segment(3661.5, 3663.0, "A much longer line that has to be wrapped onto two lines here."),
    ),
)


def test_timestamps() -> None:
    assert format_timestamp(3661.5, ",") == "01:01:01,500"
    assert format_timestamp(0.0004, ".") == "00:00:00.000"


def test_srt_and_vtt() -> None:
    srt = to_srt(T)
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n2\n01:01:01,500")
    assert all(len(line) <= 42 for line in srt.splitlines())
    vtt = to_vtt(T)
    assert vtt.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:01.250\nHello there.")


def test_long_segments_become_readable_cues() -> None:
    long = Transcript(
        language="en",
        segments=(Segment(10.0, 40.0, " ".join(["word"] * 60) + ". Short end."),),
    )
    cues = to_srt(long).strip().split("\n\n")
    assert len(cues) >= 4
    for cue in cues:
        _index, _timing, *lines = cue.splitlines()
        assert 1 <= len(lines) <= 2 and all(len(line) <= 42 for line in lines)
    assert cues[0].splitlines()[1].startswith("00:00:10,000")
    assert cues[-1].splitlines()[1].endswith("00:00:40,000")


def test_write_all(tmp_path: Path) -> None:
    files = write_all(T, tmp_path, "film.en")
    assert set(files) == {"srt", "vtt", "json"}
    assert Transcript.from_dict(json.loads(Path(files["json"]).read_text())) == T
