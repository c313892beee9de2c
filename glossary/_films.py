"""Film ids: what names a film's glossary and groups its jobs, derived from a release's file
name when the user gives none (``Jaane.Tu.2008.1080p.BluRay.mkv`` -> ``jaane_tu``)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from ._model import check_movie_id

__all__ = ["movie_id_from_path"]

_MEDIA_SUFFIX = re.compile(r"\.(?=[a-z0-9]*[a-z])[a-z0-9]{2,4}$", re.IGNORECASE)
_LEADING_TAG = re.compile(r"^\s*\[[^\]]*\]")
_CHANNELS = re.compile(r"(?<![a-z0-9])(?:ddp?|aac|ac3|dts|eac3)?[257]\.[01](?![0-9])")
_JOINED = re.compile(r"\b(web|blu|hd|dvd|br|bd)[ ._-]?(dl|rip|ray|tv|cam|scr)\b")
_YEAR = re.compile(r"(?:19|20)\d\d")
# Tokens that never belong to a title: resolution, codec, source, audio, scene tags.
_RELEASE = re.compile(
    r"\d{3,4}[pi]|[48]k|uhd|[xh]26[45]|hevc|xvid|divx|\d+bit|"
    r"bluray|bdrip|brrip|bdremux|remux|webdl|webrip|hdrip|dvdrip|dvdscr|hdtv|hdcam|hdts|"
    r"hdr|hdr10|amzn|aac\d*|ac3|eac3|dts|ddp?\d+|atmos|truehd|esubs?|proper|repack"
)
_EDITIONS = tuple(
    tuple(phrase.split())
    for phrase in (
        "director s cut",
        "directors cut",
        "director cut",
        "extended cut",
        "extended edition",
        "extended version",
        "theatrical cut",
        "theatrical version",
        "special edition",
        "collectors edition",
        "anniversary edition",
        "imax edition",
        "tv edit",
        "tv version",
        "uncut",
        "extended",
        "unrated",
        "remastered",
        "theatrical",
        "imax",
    )
)


def movie_id_from_path(path: Path) -> str:
    """A film id from a file name, stable across releases of one film: lower case, release
    noise (resolution, codec, source, what follows the year) and edition words dropped, the
    year dropped, non-alphanumerics as "_". Names with no Latin letters or digits fall back to
    a short hash of the name."""
    name = _MEDIA_SUFFIX.sub("", path.name).lower()
    name = _JOINED.sub(r"\1\2", _CHANNELS.sub(" ", _LEADING_TAG.sub(" ", name)))
    tokens = re.findall(r"[a-z0-9]+", name)
    for i, token in enumerate(tokens):
        if i > 0 and _RELEASE.fullmatch(token):
            tokens = tokens[:i]  # scene names put the title first, then only noise
            break
    years = [i for i, t in enumerate(tokens) if i > 0 and _YEAR.fullmatch(t)]
    if years:
        tokens = tokens[: years[-1]]  # "2012 (2009)" keeps 2012; what follows a year is noise
    stripped = True
    while stripped:
        stripped = False
        for phrase in _EDITIONS:
            if len(tokens) > len(phrase) and tuple(tokens[-len(phrase) :]) == phrase:
                del tokens[-len(phrase) :]
                stripped = True
                break
    movie_id = "_".join(tokens)[:128].strip("_")
    if not movie_id:
        movie_id = "film_" + hashlib.sha256(path.name.encode("utf-8")).hexdigest()[:12]
    return check_movie_id(movie_id)
