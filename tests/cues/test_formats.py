"""Subtitle files written and read back: times to the ms, lines as broken, speakers in ASS,
TTML a real IMSC document, and files that are not subtitles refused by name."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from itertools import pairwise
from pathlib import Path

import pytest

from cues import (
    FORMATS,
    Cue,
    FormatError,
    SubtitleFileError,
    parse_formats,
    profile_for,
    read_cues,
    write_subtitles,
)
from records import Segment, Transcript, Word

NETFLIX = profile_for("netflix", "en")
GAP = round(2 / 24, 3)  # the minimum gap as build_cues rounds it: 83 ms
CUES = [
    Cue(0.0004, 1.25, ("Hello there.",), "SPEAKER_00"),
    Cue(
        1.25 + GAP, 3.1, ("A much longer line that is broken", "onto two lines here."), "SPEAKER_01"
    ),
    Cue(3661.5, 3663.0, ("Tom & Jerry's \u201ccaf\u00e9\u201d \u2014 done.",)),
]
TRANSCRIPT = Transcript(
    language="en",
    segments=(
        Segment(0.0, 1.25, "Hello there.", 0.9, (Word("Hello", 0.0, 0.5, 0.9),), "SPEAKER_00"),
        Segment(3661.5, 3663.0, "Later."),
    ),
    language_probs={"en": 0.98},
)
TTML = "{http://www.w3.org/ns/ttml}"


def _write(tmp_path: Path, formats: tuple[str, ...] = FORMATS) -> dict[str, str]:
    return write_subtitles(CUES, TRANSCRIPT, tmp_path / "out" / "deep", "film.en", formats, NETFLIX)


def test_every_format_is_written_under_its_stem(tmp_path: Path) -> None:
    files = _write(tmp_path)
    assert list(files) == list(FORMATS)
    for fmt, path in files.items():
        assert Path(path) == tmp_path / "out" / "deep" / f"film.en.{fmt}"
    assert list(_write(tmp_path / "two", ("vtt", "srt"))) == ["vtt", "srt"]


def test_srt_and_vtt_timestamps_and_two_lines(tmp_path: Path) -> None:
    files = _write(tmp_path)
    srt = Path(files["srt"]).read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:00,000 --> 00:00:01,250\nHello there.\n\n2\n00:00:01,333")
    assert "A much longer line that is broken\nonto two lines here.\n\n" in srt
    assert "01:01:01,500 --> 01:01:03,000\nTom & Jerry's \u201ccaf\u00e9\u201d \u2014 done." in srt
    vtt = Path(files["vtt"]).read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:01.250\nHello there.")
    assert "A much longer line that is broken\nonto two lines here." in vtt


def test_each_format_reads_back_to_the_same_cues(tmp_path: Path) -> None:
    files = _write(tmp_path)
    for fmt in ("srt", "vtt", "ttml", "ass"):
        back = read_cues(Path(files[fmt]))
        # ASS holds centiseconds (rounded as Aegisub rounds); the rest whole milliseconds.
        within = 0.005 if fmt == "ass" else 0.0005
        assert len(back) == len(CUES), fmt
        for got, sent in zip(back, CUES, strict=True):
            assert abs(got.start - sent.start) <= within and abs(got.end - sent.end) <= within
            assert got.speech_start is None and got.speech_end is None
        if fmt != "ass":
            assert [c.lines for c in back] == [c.lines for c in CUES], fmt
            assert all(c.speaker is None for c in back), fmt
            gaps = [b.start - a.end for a, b in pairwise(back)]
            assert gaps[0] >= GAP - 1e-9, fmt  # an 83 ms gap stays 83 ms
    assert [c.lines for c in read_cues(Path(files["ass"]))] == [c.lines for c in CUES]


def test_srt_text_is_written_as_it_is(tmp_path: Path) -> None:
    """pysubs2 would drop "{...}" as an ASS override tag."""
    cue = Cue(1.0, 2.0, ("{laughs} Fine.",))
    files = write_subtitles([cue], TRANSCRIPT, tmp_path, "f", ("srt", "vtt"), NETFLIX)
    assert "{laughs} Fine." in Path(files["srt"]).read_text(encoding="utf-8")
    assert "{laughs} Fine." in Path(files["vtt"]).read_text(encoding="utf-8")


def test_ass_names_the_speaker_and_styles_to_the_profile(tmp_path: Path) -> None:
    files = _write(tmp_path)
    ass = Path(files["ass"]).read_text(encoding="utf-8")
    assert "PlayResX: 1920" in ass and "PlayResY: 1080" in ass
    dialogue = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    assert dialogue[0].split(",")[4] == "SPEAKER_00" and dialogue[2].split(",")[4] == ""
    assert dialogue[1].endswith(r"A much longer line that is broken\Nonto two lines here.")
    assert [c.speaker for c in read_cues(Path(files["ass"]))] == ["SPEAKER_00", "SPEAKER_01", None]
    style = next(line for line in ass.splitlines() if line.startswith("Style: Default"))
    fields = style.removeprefix("Style: ").split(",")
    assert fields[18] == "2"  # bottom centre
    # Fewer characters a line (BBC's 37) means larger type.
    bbc = write_subtitles(CUES, TRANSCRIPT, tmp_path / "bbc", "f", ("ass",), profile_for("bbc"))
    bbc_style = next(
        line for line in Path(bbc["ass"]).read_text().splitlines() if line.startswith("Style:")
    )
    assert int(bbc_style.split(",")[2]) > int(fields[2]) > 0


def test_ttml_is_an_imsc_document(tmp_path: Path) -> None:
    root = ET.parse(_write(tmp_path)["ttml"]).getroot()
    assert root.tag == f"{TTML}tt"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    region = root.find(f"{TTML}head/{TTML}layout/{TTML}region")
    assert region is not None
    assert region.get("{http://www.w3.org/ns/ttml#styling}displayAlign") == "after"
    paragraphs = list(root.iter(f"{TTML}p"))
    assert [(p.get("begin"), p.get("end")) for p in paragraphs] == [
        ("00:00:00.000", "00:00:01.250"),
        ("00:00:01.333", "00:00:03.100"),
        ("01:01:01.500", "01:01:03.000"),
    ]
    assert len(paragraphs[1].findall(f"{TTML}br")) == 1
    assert "".join(paragraphs[2].itertext()) == CUES[2].lines[0]


def test_json_is_the_transcript_with_its_word_times(tmp_path: Path) -> None:
    text = Path(_write(tmp_path)["json"]).read_text(encoding="utf-8")
    assert Transcript.from_dict(json.loads(text)) == TRANSCRIPT


def test_parse_formats() -> None:
    assert parse_formats("srt,vtt,json") == ("srt", "vtt", "json")
    assert parse_formats(" ttml , srt,SRT, ttml,") == ("ttml", "srt")
    with pytest.raises(FormatError, match=r"unknown subtitle format 'docx': use any of srt, vtt"):
        parse_formats("srt,docx")
    with pytest.raises(FormatError, match="no subtitle format given"):
        parse_formats(" , ")
    with pytest.raises(FormatError, match="'sub'"):
        write_subtitles(CUES, TRANSCRIPT, Path("unused"), "f", ("srt", "sub"), NETFLIX)


def _srt(tmp_path: Path, text: str, name: str = "in.srt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_cues_drops_markup_and_splits_lines(tmp_path: Path) -> None:
    path = _srt(
        tmp_path,
        "\ufeff1\n00:00:01,000 --> 00:00:02,500\n<i>Where were</i>\nyou?\n\n"
        "2\n00:00:03,000 --> 00:00:04,000\nHome.\n",
    )
    assert read_cues(path) == [Cue(1.0, 2.5, ("Where were", "you?")), Cue(3.0, 4.0, ("Home.",))]
    assert read_cues(_srt(tmp_path, "\n  \n", "blank.srt")) == []


@pytest.mark.parametrize(
    "text",
    [
        "1\n00:00:01,000 -> 00:00:02,000\nBroken arrow.\n",
        "1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n2\n00:00:0x,000 --> 00:00:04,000\nBad.\n",
        "1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n2\nNo timing at all.\n",
        "1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n00:00:03,000 --> 00:00:04\nShort.\n",
    ],
)
def test_a_broken_srt_timing_line_is_an_error(tmp_path: Path, text: str) -> None:
    path = _srt(tmp_path, text)
    with pytest.raises(SubtitleFileError) as caught:
        read_cues(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ") and "line" in message


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"just some notes\nabout a film\n", "not an SRT, WebVTT, ASS or TTML file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not UTF-8 text"),
        (b"WEBVTT\n\n", "without a single cue"),
        (b"<tt xmlns='http://www.w3.org/ns/ttml'><body", "not an SRT, WebVTT, ASS or TTML"),
        (b"{1}{25}a MicroDVD line\n", "not an SRT, WebVTT, ASS or TTML"),
    ],
)
def test_what_is_not_subtitles_is_refused(tmp_path: Path, content: bytes, says: str) -> None:
    path = tmp_path / "film.srt"
    path.write_bytes(content)
    with pytest.raises(SubtitleFileError, match=says) as caught:
        read_cues(path)
    assert "\n" not in str(caught.value)


def test_missing_file_or_folder(tmp_path: Path) -> None:
    with pytest.raises(SubtitleFileError, match="no such file"):
        read_cues(tmp_path / "gone.srt")
    with pytest.raises(SubtitleFileError, match="is a folder"):
        read_cues(tmp_path)
