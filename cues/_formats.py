"""Cues in and out of subtitle files: SRT, WebVTT and ASS through pysubs2, TTML (IMSC) through
ttconv, and the WhisperX-like JSON transcript beside them.

pysubs2's own TTML names its styles with ``id`` (TTML wants ``xml:id``), has no ``xml:lang``
and no region, so players put it top-left; ttconv writes a conformant IMSC document with a
bottom-centred region. Times are whole milliseconds, rounded as pysubs2 rounds them; ASS holds
centiseconds only.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import pysubs2
from ttconv import model as tt  # type: ignore[import-untyped]
from ttconv import style_properties as tts
from ttconv.imsc import writer as imsc_writer  # type: ignore[import-untyped]

from records import Transcript

from ._model import Cue
from ._profile import Profile

__all__ = [
    "FORMATS",
    "FormatError",
    "SubtitleFileError",
    "parse_formats",
    "read_cues",
    "write_subtitles",
]

FORMATS: tuple[str, ...] = ("srt", "vtt", "ass", "ttml", "json")

# What pysubs2 may read a file as that read_cues accepts (ssa: ASS's predecessor).
_READABLE = frozenset({"srt", "vtt", "ass", "ssa", "ttml"})

# The frame the ASS style is laid out in, and the title-safe share of it Netflix asks for.
_PLAY_RES = (1920, 1080)
_SAFE = 0.8
_GLYPH_EM = 0.5  # Arial's average glyph, spaces included, is about half its size


class FormatError(ValueError):
    """A subtitle format this writer does not know."""


class SubtitleFileError(ValueError):
    """A file that cannot be read as subtitles."""


def parse_formats(text: str) -> tuple[str, ...]:
    """Formats from a comma-separated list ("srt,vtt,json"), in order, each once."""
    wanted = dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip())
    known = ", ".join(FORMATS)
    if not wanted:
        raise FormatError(f"no subtitle format given: use any of {known}, comma-separated")
    for fmt in wanted:
        if fmt not in FORMATS:
            raise FormatError(f"unknown subtitle format {fmt!r}: use any of {known}")
    return tuple(wanted)


def _ms(seconds: float) -> int:
    return pysubs2.make_time(s=seconds)


def _subs(cues: Sequence[Cue], profile: Profile) -> pysubs2.SSAFile:
    """The cues as pysubs2 events, with an ASS style sized so that a full line of the
    profile's width fills the title-safe area, bottom-centred."""
    width, height = _PLAY_RES
    subs = pysubs2.SSAFile()
    subs.info.update(PlayResX=str(width), PlayResY=str(height), WrapStyle="2")  # lines as broken
    margin_x, margin_y = round(width * (1 - _SAFE) / 2), round(height * (1 - _SAFE) / 2)
    subs.styles["Default"] = pysubs2.SSAStyle(
        fontname="Arial",
        fontsize=round(width * _SAFE / (profile.max_chars_per_line * _GLYPH_EM)),
        outline=3.0,
        shadow=1.0,
        alignment=pysubs2.Alignment.BOTTOM_CENTER,
        marginl=margin_x,
        marginr=margin_x,
        marginv=margin_y,
    )
    for cue in cues:
        subs.events.append(
            pysubs2.SSAEvent(
                start=_ms(cue.start),
                end=_ms(cue.end),
                text=r"\N".join(cue.lines),
                name=cue.speaker or "",
            )
        )
    return subs


def _ttml(cues: Sequence[Cue], language: str) -> str:
    """An IMSC 1.1 text document: one paragraph a cue, its lines split by ``<br/>``."""
    doc = tt.ContentDocument()
    doc.set_lang(language)
    pct = tts.LengthType.Units.pct
    region = tt.Region("bottom", doc)
    margin = (1 - _SAFE) / 2 * 100
    region.set_style(
        tts.StyleProperties.Origin,
        tts.CoordinateType(x=tts.LengthType(margin, pct), y=tts.LengthType(margin, pct)),
    )
    region.set_style(
        tts.StyleProperties.Extent,
        tts.ExtentType(
            width=tts.LengthType(_SAFE * 100, pct), height=tts.LengthType(_SAFE * 100, pct)
        ),
    )
    region.set_style(tts.StyleProperties.DisplayAlign, tts.DisplayAlignType.after)
    region.set_style(tts.StyleProperties.TextAlign, tts.TextAlignType.center)
    doc.put_region(region)
    body, div = tt.Body(doc), tt.Div(doc)
    body.push_child(div)
    for cue in cues:
        p = tt.P(doc)
        p.set_region(region)
        p.set_begin(Fraction(_ms(cue.start), 1000))
        p.set_end(Fraction(_ms(cue.end), 1000))
        for k, line in enumerate(cue.lines):
            if k:
                p.push_child(tt.Br(doc))
            span = tt.Span(doc)
            span.push_child(tt.Text(doc, line))
            p.push_child(span)
        div.push_child(p)
    doc.set_body(body)
    root = imsc_writer.from_model(doc).getroot()
    ET.indent(root)
    for p in root.iter("{http://www.w3.org/ns/ttml}p"):
        # Indentation inside a paragraph would be shown as spaces around each line.
        p.text = None
        for child in p:
            child.tail = None
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_subtitles(
    cues: Sequence[Cue],
    transcript: Transcript,
    out_dir: Path,
    stem: str,
    formats: Sequence[str],
    profile: Profile,
) -> dict[str, str]:
    """Write ``{stem}.{format}`` for each format into ``out_dir``; returns format to path.
    The JSON is the transcript itself (segments with their word times), not the cues."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise FormatError(f"unknown subtitle format {fmt!r}: use any of {', '.join(FORMATS)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    subs = _subs(cues, profile)
    files: dict[str, str] = {}
    for fmt in formats:
        if fmt == "json":
            text = json.dumps(transcript.to_dict(), ensure_ascii=False, indent=2)
        elif fmt == "ttml":
            text = _ttml(cues, transcript.language)
        elif fmt == "ass":
            text = subs.to_string("ass")
        else:
            # The text as it is: pysubs2 would otherwise take "{...}" for ASS override tags.
            text = subs.to_string(fmt, keep_ssa_tags=True)
        path = out_dir / f"{stem}.{fmt}"
        path.write_text(text, encoding="utf-8")
        files[fmt] = str(path)
    return files


_SRT_INDEX = re.compile(r"\d+")
_SRT_TIME = r"\d+:[0-5]\d:[0-5]\d[,.]\d{1,3}"
_SRT_TIMING = re.compile(rf"{_SRT_TIME}\s*-->\s*{_SRT_TIME}(\s.*)?")


def _check_srt(text: str, path: Path) -> None:
    """pysubs2 skips what it cannot parse: a block whose timing line is broken would vanish
    (or its text join the cue before). Such a block is an error here, with its line."""
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        head, number = lines[k].strip(), k + 1
        if _SRT_INDEX.fullmatch(head) and k + 1 < len(lines):
            head, number = lines[k + 1].strip(), k + 2
        timing_like = "-->" in head or len(pysubs2.time.TIMESTAMP.findall(head)) == 2
        if timing_like and not _SRT_TIMING.fullmatch(head):
            raise SubtitleFileError(
                f"{path}: line {number} is not an SRT timing line "
                f"(HH:MM:SS,mmm --> HH:MM:SS,mmm): {head[:60]!r}"
            )
        if _SRT_INDEX.fullmatch(lines[k].strip()) and not _SRT_TIMING.fullmatch(head):
            raise SubtitleFileError(
                f"{path}: cue {lines[k].strip()} at line {k + 1} has no timing line "
                "(HH:MM:SS,mmm --> HH:MM:SS,mmm) after its number"
            )
        while k < len(lines) and lines[k].strip():
            k += 1


def read_cues(path: Path) -> list[Cue]:
    """The cues of an SRT, WebVTT, ASS or TTML file, as shown (markup dropped), in the file's
    order. Speakers come from ASS's Name field; speech times are unknown. An empty file has
    no cues; any other file without one raises SubtitleFileError."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise SubtitleFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise SubtitleFileError(f"{path}: is a folder, not a subtitle file") from None
    except UnicodeDecodeError:
        raise SubtitleFileError(f"{path}: not UTF-8 text, so not a subtitle file") from None
    except OSError as exc:
        raise SubtitleFileError(f"{path}: cannot be read ({exc.strerror})") from None
    if not text.strip():
        return []
    what = "not an SRT, WebVTT, ASS or TTML file"
    try:
        subs = pysubs2.SSAFile.from_string(text)
    except (pysubs2.Pysubs2Error, ValueError, SyntaxError, NotImplementedError, KeyError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SubtitleFileError(f"{path}: {what} ({detail})") from None
    if subs.format not in _READABLE:
        raise SubtitleFileError(f"{path}: {what} (it reads as {subs.format})")
    if subs.format == "srt":
        _check_srt(text, path)
    cues = [
        Cue(
            start=event.start / 1000,
            end=event.end / 1000,
            lines=tuple(line.strip() for line in event.plaintext.split("\n") if line.strip()),
            speaker=event.name or None,
        )
        for event in subs.events
        if not event.is_comment
    ]
    if not cues:
        raise SubtitleFileError(f"{path}: a {subs.format} file without a single cue")
    return cues
