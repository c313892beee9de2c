"""Subtitle cues: built from timed words to a broadcaster's style profile, checked against it,
and written in the usual formats. Pure: no store, no engine, no Prefect."""

from ._build import build_cues, cue_end
from ._formats import (
    FORMATS,
    FormatError,
    SubtitleFileError,
    parse_formats,
    read_cues,
    write_subtitles,
)
from ._lines import NO_SPACE_LANGUAGES, break_lines
from ._model import Cue
from ._profile import PROFILES, Profile, ProfileError, profile_for
from ._qc import QcReport, RuleResult, check

__all__ = [
    "FORMATS",
    "NO_SPACE_LANGUAGES",
    "PROFILES",
    "Cue",
    "FormatError",
    "Profile",
    "ProfileError",
    "QcReport",
    "RuleResult",
    "SubtitleFileError",
    "break_lines",
    "build_cues",
    "check",
    "cue_end",
    "parse_formats",
    "profile_for",
    "read_cues",
    "write_subtitles",
]
